// The shop: catalog, product, cart and checkout, an order followed live, my orders.
import { render } from "preact";
import { useArea } from "../api/auth";
import { go, useRoute } from "../router";
import { Frame, SignIn, useSession } from "../ui/common";
import "../styles.css";
import { Catalog, ProductPage } from "./catalog";
import { Cart, MyOrders, OrderPage } from "./orders";

useArea("shop");

function Shop() {
  const route = useRoute();
  const session = useSession();
  const [first, second] = route;
  let view;
  if (first === "products" && second) view = <ProductPage productId={second} />;
  else if (first === "cart") view = <Cart />;
  else if (first === "orders" && second) view = <OrderPage key={second} orderId={second} />;
  else if (first === "orders") view = <MyOrders />;
  else if (first === "sign-in") view = <SignIn admin={false} onDone={() => go("cart")} />;
  else view = <Catalog />;
  return (
    <Frame
      title="OMS shop"
      session={session}
      nav={[
        ["#/", "Products"],
        ["#/cart", "Cart"],
        ["#/orders", "My orders"],
      ]}
    >
      {view}
    </Frame>
  );
}

render(<Shop />, document.getElementById("app")!);
