// The catalog (search, paging by the API's page tokens) and a product's page. No sign-in needed:
// the catalog's read RPCs are public.
import { useEffect, useState } from "preact/hooks";
import { api, must, type Product, type Stock } from "../api/client";
import { asApiError, type ApiError } from "../api/errors";
import { addToCart } from "../cart";
import { money } from "../format";
import { href } from "../router";
import { ErrorNotice, Pager, usePages } from "../ui/common";

const PAGE_SIZE = 12;

export function Catalog() {
  const [query, setQuery] = useState("");
  const [search, setSearch] = useState("");
  const pages = usePages(
    async (pageToken) => {
      const data = await must(
        api.GET("/products", {
          params: { query: { page_size: PAGE_SIZE, page_token: pageToken, active: true, name_contains: search } },
        }),
      );
      return { items: data.products ?? [], nextPageToken: data.nextPageToken ?? "" };
    },
    [search],
  );
  return (
    <section aria-labelledby="catalog-title">
      <h1 id="catalog-title">Products</h1>
      <form
        role="search"
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          setSearch(query.trim());
        }}
      >
        <label>
          Search products
          <input type="search" name="q" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorNotice error={pages.error} onRetry={pages.reload} />
      {pages.loading && <p aria-live="polite">Loading…</p>}
      {!pages.loading && !pages.error && pages.items.length === 0 && <p>No products match.</p>}
      <ul class="grid" aria-label="Products">
        {pages.items.map((p) => (
          <li key={p.productId} class="card" data-testid="product-card">
            <h2>
              <a href={href("products", p.productId ?? "")}>{p.name}</a>
            </h2>
            <p class="price">{money(p.price)}</p>
            <StockBadge available={Number(p.availableQuantity ?? 0)} />
          </li>
        ))}
      </ul>
      <Pager pages={pages} label="Product" />
    </section>
  );
}

function StockBadge({ available }: { available: number }) {
  return available > 0 ? (
    <p class="stock in">{available} in stock</p>
  ) : (
    <p class="stock out">Out of stock</p>
  );
}

export function ProductPage({ productId }: { productId: string }) {
  const [product, setProduct] = useState<Product | null>(null);
  const [stock, setStock] = useState<Stock | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [quantity, setQuantity] = useState(1);
  const [added, setAdded] = useState("");
  useEffect(() => {
    setError(null);
    Promise.all([
      must(api.GET("/products/{product_id}", { params: { path: { product_id: productId } } })),
      must(api.GET("/products/{product_id}/stock", { params: { path: { product_id: productId } } })),
    ])
      .then(([p, s]) => {
        setProduct(p.product ?? null);
        setStock(s.stock ?? null);
      })
      .catch((e: unknown) => setError(asApiError(e)));
  }, [productId]);
  if (error) return <ErrorNotice error={error} />;
  if (!product) return <p aria-live="polite">Loading…</p>;
  const available = Number(stock?.available ?? product.availableQuantity ?? 0);
  return (
    <article aria-labelledby="product-title" class="card">
      <h1 id="product-title">{product.name}</h1>
      <p class="price">{money(product.price)}</p>
      {product.description && <p>{product.description}</p>}
      <StockBadge available={available} />
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          addToCart(productId, product.name ?? productId, quantity);
          setAdded(`Added ${quantity} × ${product.name} to the cart.`);
        }}
      >
        <label>
          Quantity
          <input
            type="number"
            name="quantity"
            min={1}
            max={1000}
            value={quantity}
            onInput={(e) => setQuantity(Math.max(1, Number(e.currentTarget.value) || 1))}
          />
        </label>
        <button type="submit">Add to cart</button>
      </form>
      <p aria-live="polite" class="ok">
        {added}
      </p>
      <a href={href("cart")}>Go to the cart</a>
    </article>
  );
}
