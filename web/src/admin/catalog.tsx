// Products and customers: paged tables and a form to create one.
import { useState } from "preact/hooks";
import { api, call, must } from "../api/client";
import type { ApiError } from "../api/errors";
import { money, when } from "../format";
import { href } from "../router";
import { ErrorNotice, FieldError, Pager, usePages } from "../ui/common";

function Field(props: {
  label: string;
  name: string;
  field: string;
  error: ApiError | null;
  value: string;
  onInput: (value: string) => void;
  type?: string;
}) {
  const errorId = `${props.name}-error`;
  return (
    <>
      <label>
        {props.label}
        <input
          name={props.name}
          type={props.type ?? "text"}
          value={props.value}
          aria-invalid={props.error?.forField(props.field) ? true : undefined}
          aria-describedby={errorId}
          onInput={(e) => props.onInput(e.currentTarget.value)}
        />
      </label>
      <FieldError id={errorId} error={props.error} field={props.field} />
    </>
  );
}

export function Products() {
  const [search, setSearch] = useState("");
  const pages = usePages(
    async (pageToken) => {
      const data = await must(
        api.GET("/products", { params: { query: { page_size: 20, page_token: pageToken, name_contains: search } } }),
      );
      return { items: data.products ?? [], nextPageToken: data.nextPageToken ?? "" };
    },
    [search],
  );
  const [form, setForm] = useState({ productId: "", name: "", price: "", currency: "EUR", description: "" });
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState("");
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setDone("");
    const [units = "0", fraction = ""] = form.price.trim().split(".");
    const nanos = Number((fraction + "000000000").slice(0, 9));
    const result = await call(
      api.POST("/products", {
        body: {
          productId: form.productId,
          name: form.name,
          description: form.description,
          active: true,
          price: { currencyCode: form.currency, units, nanos },
        },
      }),
    );
    if (result.error) return setError(result.error);
    setDone(`Created ${result.data.product?.productId}.`);
    pages.reload();
  };
  return (
    <section aria-labelledby="products-title">
      <h1 id="products-title">Products</h1>
      <form
        role="search"
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          setSearch((e.currentTarget.elements.namedItem("q") as HTMLInputElement).value.trim());
        }}
      >
        <label>
          Search products
          <input type="search" name="q" />
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorNotice error={pages.error} onRetry={pages.reload} />
      <table>
        <caption class="sr-only">Products</caption>
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Name</th>
            <th scope="col">Price</th>
            <th scope="col">Available</th>
            <th scope="col">Active</th>
            <th scope="col">Stock</th>
          </tr>
        </thead>
        <tbody>
          {pages.items.map((p) => (
            <tr key={p.productId}>
              <td>{p.productId}</td>
              <td>{p.name}</td>
              <td>{money(p.price)}</td>
              <td>{p.availableQuantity}</td>
              <td>{p.active ? "yes" : "no"}</td>
              <td>
                <a href={href("stock", p.productId ?? "")}>Stock of {p.name}</a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager pages={pages} label="Product" />
      <form onSubmit={create} class="card narrow" aria-labelledby="new-product-title">
        <h2 id="new-product-title">New product</h2>
        <Field label="Product id (empty: assigned)" name="productId" field="product.productId" error={error} value={form.productId} onInput={(v) => setForm({ ...form, productId: v })} />
        <Field label="Name" name="name" field="product.name" error={error} value={form.name} onInput={(v) => setForm({ ...form, name: v })} />
        <Field label="Price (e.g. 12.50)" name="price" field="product.price" error={error} value={form.price} onInput={(v) => setForm({ ...form, price: v })} />
        <Field label="Currency" name="currency" field="product.price.currencyCode" error={error} value={form.currency} onInput={(v) => setForm({ ...form, currency: v })} />
        <Field label="Description" name="description" field="product.description" error={error} value={form.description} onInput={(v) => setForm({ ...form, description: v })} />
        <button type="submit">Create product</button>
        <ErrorNotice error={error?.fieldViolations.length ? null : error} />
        <p aria-live="polite" class="ok">
          {done}
        </p>
      </form>
    </section>
  );
}

export function Customers() {
  const pages = usePages(async (pageToken) => {
    const data = await must(api.GET("/customers", { params: { query: { page_size: 20, page_token: pageToken } } }));
    return { items: data.customers ?? [], nextPageToken: data.nextPageToken ?? "" };
  }, []);
  const [form, setForm] = useState({ customerId: "", name: "", email: "" });
  const [error, setError] = useState<ApiError | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const result = await call(api.POST("/customers", { body: form }));
    if (result.error) return setError(result.error);
    setForm({ customerId: "", name: "", email: "" });
    pages.reload();
  };
  return (
    <section aria-labelledby="customers-title">
      <h1 id="customers-title">Customers</h1>
      <ErrorNotice error={pages.error} onRetry={pages.reload} />
      <table>
        <caption class="sr-only">Customers</caption>
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Since</th>
            <th scope="col">Orders</th>
          </tr>
        </thead>
        <tbody>
          {pages.items.map((c) => (
            <tr key={c.customerId}>
              <td>{c.customerId}</td>
              <td>{c.name}</td>
              <td>{c.email}</td>
              <td>{when(c.createTime)}</td>
              <td>
                <a href={href("orders", c.customerId ?? "")}>Orders of {c.name}</a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager pages={pages} label="Customer" />
      <form onSubmit={create} class="card narrow" aria-labelledby="new-customer-title">
        <h2 id="new-customer-title">New customer</h2>
        <Field label="Customer id (empty: assigned)" name="customerId" field="customer.customerId" error={error} value={form.customerId} onInput={(v) => setForm({ ...form, customerId: v })} />
        <Field label="Name" name="customerName" field="customer.name" error={error} value={form.name} onInput={(v) => setForm({ ...form, name: v })} />
        <Field label="Email" name="email" type="email" field="customer.email" error={error} value={form.email} onInput={(v) => setForm({ ...form, email: v })} />
        <button type="submit">Create customer</button>
        <ErrorNotice error={error?.fieldViolations.length ? null : error} />
      </form>
    </section>
  );
}
