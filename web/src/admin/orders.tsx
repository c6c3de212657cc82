// Orders with filters by status and customer, and the status actions the order allows.
import { useState } from "preact/hooks";
import { api, call, must, type Order, type OrderStatus } from "../api/client";
import type { ApiError } from "../api/errors";
import { money, statusLabel, when } from "../format";
import { ErrorNotice, Pager, usePages } from "../ui/common";

const STATUSES: OrderStatus[] = [
  "ORDER_STATUS_PENDING",
  "ORDER_STATUS_CONFIRMED",
  "ORDER_STATUS_REJECTED",
  "ORDER_STATUS_PAID",
  "ORDER_STATUS_SHIPPED",
  "ORDER_STATUS_DELIVERED",
  "ORDER_STATUS_CANCELLED",
];

// The forward moves an admin makes (order_svc/domain/status.py); cancelling is its own action.
const NEXT: Partial<Record<OrderStatus, [OrderStatus, string]>> = {
  ORDER_STATUS_CONFIRMED: ["ORDER_STATUS_PAID", "Mark paid"],
  ORDER_STATUS_PAID: ["ORDER_STATUS_SHIPPED", "Ship"],
  ORDER_STATUS_SHIPPED: ["ORDER_STATUS_DELIVERED", "Mark delivered"],
};
const CANCELLABLE = new Set<OrderStatus>(["ORDER_STATUS_PENDING", "ORDER_STATUS_CONFIRMED", "ORDER_STATUS_PAID"]);

export function Orders({ customerId = "" }: { customerId?: string }) {
  const [status, setStatus] = useState<OrderStatus | "">("");
  const [customer, setCustomer] = useState(customerId);
  const [filter, setFilter] = useState<{ status: OrderStatus | ""; customer: string }>({ status: "", customer: customerId });
  const [actionError, setActionError] = useState<{ orderId: string; error: ApiError } | null>(null);
  const pages = usePages(
    async (pageToken) => {
      const query = {
        page_size: 20,
        page_token: pageToken,
        customer_id: filter.customer,
        ...(filter.status ? { status: filter.status } : {}),
      };
      const data = await must(api.GET("/orders", { params: { query } }));
      return { items: data.orders ?? [], nextPageToken: data.nextPageToken ?? "" };
    },
    [filter.status, filter.customer],
  );

  const act = async (order: Order, to: OrderStatus | "cancel") => {
    setActionError(null);
    const orderId = order.orderId ?? "";
    const result =
      to === "cancel"
        ? await call(
            api.POST("/orders/{order_id}:cancel", {
              params: { path: { order_id: orderId } },
              body: { reason: "cancelled by the back office" },
            }),
          )
        : await call(api.PATCH("/orders/{order_id}", { params: { path: { order_id: orderId } }, body: { status: to } }));
    if (result.error) setActionError({ orderId, error: result.error });
    pages.reload();
  };

  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">Orders</h1>
      <form
        class="row"
        aria-label="Filter orders"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ status, customer: customer.trim() });
        }}
      >
        <label>
          Status
          <select name="status" value={status} onChange={(e) => setStatus(e.currentTarget.value as OrderStatus | "")}>
            <option value="">Any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {statusLabel(s)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Customer id
          <input name="customer" value={customer} onInput={(e) => setCustomer(e.currentTarget.value)} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorNotice error={pages.error} onRetry={pages.reload} />
      <table data-testid="orders-table">
        <caption class="sr-only">Orders</caption>
        <thead>
          <tr>
            <th scope="col">Order</th>
            <th scope="col">Customer</th>
            <th scope="col">Status</th>
            <th scope="col">Total</th>
            <th scope="col">Placed</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {pages.items.map((o) => {
            const s = o.status ?? "ORDER_STATUS_UNSPECIFIED";
            const next = NEXT[s];
            return (
              <tr key={o.orderId} data-order-id={o.orderId}>
                <td>{o.orderId}</td>
                <td>{o.customerId}</td>
                <td data-testid="admin-order-status">
                  {statusLabel(s)}
                  {o.statusReason && <span class="muted"> ({o.statusReason})</span>}
                </td>
                <td>{money(o.total)}</td>
                <td>{when(o.createTime)}</td>
                <td class="actions">
                  {next && (
                    <button type="button" onClick={() => act(o, next[0])}>
                      {next[1]}
                    </button>
                  )}
                  {CANCELLABLE.has(s) && (
                    <button type="button" onClick={() => act(o, "cancel")}>
                      Cancel
                    </button>
                  )}
                  {actionError && actionError.orderId === o.orderId && <ErrorNotice error={actionError.error} />}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {!pages.loading && !pages.items.length && <p>No orders match.</p>}
      <Pager pages={pages} label="Order" />
    </section>
  );
}
