// The back office: orders, stock, products, customers, notifications, dead letters.
import { render } from "preact";
import { useArea } from "../api/auth";
import { go, useRoute } from "../router";
import { Frame, SignIn, useSession } from "../ui/common";
import "../styles.css";
import { Customers, Products } from "./catalog";
import { DeadLetters, Notifications } from "./operations";
import { Orders } from "./orders";
import { Stock } from "./stock";

useArea("admin");

function Admin() {
  const [first, second] = useRoute();
  const session = useSession();
  let view;
  if (!session || first === "sign-in") view = <SignIn admin onDone={() => go("orders")} />;
  else if (first === "stock") view = <Stock key={second ?? ""} productId={second ?? ""} />;
  else if (first === "products") view = <Products />;
  else if (first === "customers") view = <Customers />;
  else if (first === "notifications") view = <Notifications />;
  else if (first === "dead-letters") view = <DeadLetters />;
  else view = <Orders key={second ?? ""} customerId={second ?? ""} />;
  return (
    <Frame
      title="OMS back office"
      session={session}
      nav={[
        ["#/orders", "Orders"],
        ["#/stock", "Stock"],
        ["#/products", "Products"],
        ["#/customers", "Customers"],
        ["#/notifications", "Notifications"],
        ["#/dead-letters", "Dead letters"],
      ]}
    >
      {view}
    </Frame>
  );
}

render(<Admin />, document.getElementById("app")!);
