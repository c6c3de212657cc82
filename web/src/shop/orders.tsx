// The cart and checkout, one order followed live, and "my orders".
import { useEffect, useRef, useState } from "preact/hooks";
import { api, call, must, type Order } from "../api/client";
import type { ApiError } from "../api/errors";
import { watchOrder, type WatchState } from "../api/watch";
import { cartLines, clearCart, onCartChange, setQuantity } from "../cart";
import { money, statusLabel, when } from "../format";
import { go, href } from "../router";
import { ErrorNotice, FieldError, Pager, usePages, useSession } from "../ui/common";
import { forgetIdempotencyKey, PAYMENT_CHOICES, placeOrder } from "./checkout";

export function Cart() {
  const session = useSession();
  const [lines, setLines] = useState(cartLines());
  const [error, setError] = useState<ApiError | null>(null);
  const [placing, setPlacing] = useState(false);
  const [paymentMethod, setPaymentMethod] = useState(PAYMENT_CHOICES[0]!.value);
  useEffect(() => onCartChange(setLines), []);

  const checkout = async () => {
    if (!session || placing) return;
    setPlacing(true);
    setError(null);
    const result = await placeOrder(session.subject, lines, { paymentMethod });
    setPlacing(false);
    if (result.error) {
      setError(result.error);
      return;
    }
    forgetIdempotencyKey();
    clearCart();
    go("orders", result.data.order?.orderId ?? "");
  };

  if (!lines.length)
    return (
      <section aria-labelledby="cart-title">
        <h1 id="cart-title">Your cart</h1>
        <p>
          The cart is empty. <a href={href()}>Browse the products</a>.
        </p>
      </section>
    );
  return (
    <section aria-labelledby="cart-title">
      <h1 id="cart-title">Your cart</h1>
      <table>
        <caption class="sr-only">Cart lines</caption>
        <thead>
          <tr>
            <th scope="col">Product</th>
            <th scope="col">Quantity</th>
          </tr>
        </thead>
        <tbody>
          {lines.map((l, i) => (
            <tr key={l.productId}>
              <td>
                <a href={href("products", l.productId)}>{l.name}</a>
              </td>
              <td>
                <label class="sr-only" for={`qty-${i}`}>
                  Quantity of {l.name}
                </label>
                <input
                  id={`qty-${i}`}
                  type="number"
                  min={0}
                  max={1000}
                  value={l.quantity}
                  aria-describedby={`qty-${i}-error`}
                  onChange={(e) => setQuantity(l.productId, Number(e.currentTarget.value) || 0)}
                />
                <FieldError id={`qty-${i}-error`} error={error} field={`items[${i}].quantity`} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        <label for="payment-method">Payment</label>{" "}
        <select
          id="payment-method"
          value={paymentMethod}
          aria-describedby="payment-method-error"
          onChange={(e) => setPaymentMethod(e.currentTarget.value)}
        >
          {PAYMENT_CHOICES.map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
            </option>
          ))}
        </select>
        <FieldError id="payment-method-error" error={error} field="payment_method" />
      </p>
      <ErrorNotice error={error} onRetry={checkout} />
      {session ? (
        <button type="button" class="primary" onClick={checkout} disabled={placing} aria-busy={placing}>
          {placing ? "Placing the order…" : "Place order"}
        </button>
      ) : (
        <p>
          <a href="#/sign-in">Sign in</a> to place the order.
        </p>
      )}
    </section>
  );
}

const STEPS = ["ORDER_STATUS_PENDING", "ORDER_STATUS_CONFIRMED", "ORDER_STATUS_PAID", "ORDER_STATUS_SHIPPED", "ORDER_STATUS_DELIVERED"];
const CANCELLABLE = new Set(["ORDER_STATUS_PENDING", "ORDER_STATUS_CONFIRMED", "ORDER_STATUS_PAID"]);
const CONNECTION: Record<WatchState, string> = {
  connecting: "Connecting for live updates…",
  live: "Live: this page updates by itself.",
  reconnecting: "Connection lost: reconnecting…",
  ended: "This order will not change any more.",
};

export function OrderPage({ orderId }: { orderId: string }) {
  const [order, setOrder] = useState<Order | null>(null);
  const [state, setState] = useState<WatchState>("connecting");
  const [error, setError] = useState<ApiError | null>(null);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const latest = useRef(0);
  useEffect(
    () =>
      watchOrder(orderId, {
        onOrder: (o) => {
          // Versions only grow: an older copy (a reconnect racing a change) is not shown.
          const version = Number(o.version ?? 0);
          if (version >= latest.current) {
            latest.current = version;
            setOrder(o);
          }
        },
        onState: setState,
        onError: setError,
      }),
    [orderId],
  );
  const cancel = async () => {
    setActionError(null);
    const result = await call(
      api.POST("/orders/{order_id}:cancel", {
        params: { path: { order_id: orderId } },
        body: { reason: "cancelled by the customer" },
      }),
    );
    if (result.error) setActionError(result.error);
    else if (result.data.order) setOrder(result.data.order);
  };
  if (error) return <ErrorNotice error={error} />;
  if (!order) return <p aria-live="polite">{CONNECTION[state]}</p>;
  const status = order.status ?? "ORDER_STATUS_UNSPECIFIED";
  const reached = STEPS.indexOf(status);
  return (
    <article aria-labelledby="order-title" class="card">
      <h1 id="order-title">Order {order.orderId}</h1>
      <p class="connection" data-state={state} aria-live="polite">
        {CONNECTION[state]}
      </p>
      <p>
        Status:{" "}
        <strong data-testid="order-status" data-status={status} class={`status s-${statusLabel(status).toLowerCase()}`}>
          {statusLabel(status)}
        </strong>
      </p>
      <div aria-live="polite">
        {order.statusReason && (
          <p data-testid="status-reason" class={status === "ORDER_STATUS_REJECTED" ? "notice error" : "notice"}>
            Reason: {order.statusReason}
          </p>
        )}
        {(order.shortfalls ?? []).length > 0 && (
          <ul aria-label="Short products">
            {(order.shortfalls ?? []).map((s) => (
              <li key={s.productId}>
                {s.productId}: {s.requested} requested, {s.available} available
              </li>
            ))}
          </ul>
        )}
      </div>
      <ol class="steps" aria-label="Progress">
        {STEPS.map((step, i) => (
          <li key={step} class={reached >= i ? "done" : ""} aria-current={reached === i ? "step" : undefined}>
            {statusLabel(step)}
          </li>
        ))}
      </ol>
      <table>
        <caption class="sr-only">Order lines</caption>
        <thead>
          <tr>
            <th scope="col">Product</th>
            <th scope="col">Quantity</th>
            <th scope="col">Line total</th>
          </tr>
        </thead>
        <tbody>
          {(order.items ?? []).map((item) => (
            <tr key={item.productId}>
              <td>{item.productName || item.productId}</td>
              <td>{item.quantity}</td>
              <td>{money(item.lineTotal)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>Total: {money(order.total)}</p>
      <p class="muted">Placed {when(order.createTime)}</p>
      {CANCELLABLE.has(status) && (
        <button type="button" onClick={cancel}>
          Cancel the order
        </button>
      )}
      <ErrorNotice error={actionError} onRetry={cancel} />
    </article>
  );
}

export function MyOrders() {
  const session = useSession();
  const pages = usePages(
    async (pageToken) => {
      const data = await must(api.GET("/orders", { params: { query: { page_size: 20, page_token: pageToken } } }));
      return { items: data.orders ?? [], nextPageToken: data.nextPageToken ?? "" };
    },
    [session?.subject],
  );
  if (!session)
    return (
      <p>
        <a href="#/sign-in">Sign in</a> to see your orders.
      </p>
    );
  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">My orders</h1>
      <ErrorNotice error={pages.error} onRetry={pages.reload} />
      <OrderTable orders={pages.items} />
      <Pager pages={pages} label="Order" />
    </section>
  );
}

function OrderTable({ orders }: { orders: Order[] }) {
  if (!orders.length) return <p>No orders yet.</p>;
  return (
    <table data-testid="my-orders">
      <caption class="sr-only">Your orders</caption>
      <thead>
        <tr>
          <th scope="col">Order</th>
          <th scope="col">Status</th>
          <th scope="col">Total</th>
          <th scope="col">Placed</th>
        </tr>
      </thead>
      <tbody>
        {orders.map((o) => (
          <tr key={o.orderId}>
            <td>
              <a href={href("orders", o.orderId ?? "")}>{o.orderId}</a>
            </td>
            <td>{statusLabel(o.status)}</td>
            <td>{money(o.total)}</td>
            <td>{when(o.createTime)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
