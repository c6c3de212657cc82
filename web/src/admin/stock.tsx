// Stock of one product: add units, or audit a count against the version that was read (a
// version conflict is shown with the current version, never swallowed).
import { useEffect, useState } from "preact/hooks";
import { api, call, type Stock as StockLevel } from "../api/client";
import type { ApiError } from "../api/errors";
import { when } from "../format";
import { ErrorNotice, FieldError } from "../ui/common";

export function Stock({ productId: initial }: { productId: string }) {
  const [productId, setProductId] = useState(initial);
  const [stock, setStock] = useState<StockLevel | null>(null);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [addError, setAddError] = useState<ApiError | null>(null);
  const [auditError, setAuditError] = useState<ApiError | null>(null);
  const [done, setDone] = useState("");
  const [add, setAdd] = useState({ quantity: "1", reason: "" });
  const [audit, setAudit] = useState({ quantity: "0", expectedVersion: "0", reason: "" });

  const load = async (id = productId) => {
    if (!id) return;
    setLoadError(null);
    const result = await call(api.GET("/products/{product_id}/stock", { params: { path: { product_id: id } } }));
    if (result.error) {
      setLoadError(result.error);
      setStock(null);
      return;
    }
    const level = result.data.stock ?? null;
    setStock(level);
    if (level) setAudit((a) => ({ ...a, quantity: String(level.quantity ?? 0), expectedVersion: String(level.version ?? 0) }));
  };
  useEffect(() => void load(initial), [initial]);

  const submitAdd = async (e: Event) => {
    e.preventDefault();
    setAddError(null);
    setDone("");
    const result = await call(
      api.POST("/api/inventory/add", { body: { productId, quantity: add.quantity, reason: add.reason } }),
    );
    if (result.error) return setAddError(result.error);
    setDone(`Added ${add.quantity}; stock is now at version ${result.data.stock?.version}.`);
    await load();
  };

  const submitAudit = async (e: Event) => {
    e.preventDefault();
    setAuditError(null);
    setDone("");
    const result = await call(
      api.POST("/api/inventory/audit", {
        body: { productId, quantity: audit.quantity, expectedVersion: audit.expectedVersion, reason: audit.reason },
      }),
    );
    if (result.error) return setAuditError(result.error);
    setDone(`Audited: ${result.data.stock?.quantity} units, version ${result.data.stock?.version}.`);
    await load();
  };

  return (
    <section aria-labelledby="stock-title">
      <h1 id="stock-title">Stock</h1>
      <form
        class="row"
        aria-label="Find stock"
        onSubmit={(e) => {
          e.preventDefault();
          void load();
        }}
      >
        <label>
          Product id
          <input name="productId" value={productId} onInput={(e) => setProductId(e.currentTarget.value.trim())} />
        </label>
        <button type="submit">Show stock</button>
      </form>
      <ErrorNotice error={loadError} onRetry={() => void load()} />
      {stock && (
        <dl class="facts" data-testid="stock-facts">
          <dt>Quantity</dt>
          <dd data-testid="stock-quantity">{stock.quantity}</dd>
          <dt>Reserved</dt>
          <dd>{stock.reserved}</dd>
          <dt>Available</dt>
          <dd>{stock.available}</dd>
          <dt>Version</dt>
          <dd data-testid="stock-version">{stock.version}</dd>
          <dt>Updated</dt>
          <dd>{when(stock.updateTime)}</dd>
        </dl>
      )}
      <p aria-live="polite" class="ok">
        {done}
      </p>
      {stock && (
        <div class="two">
          <form onSubmit={submitAdd} aria-labelledby="add-title" class="card">
            <h2 id="add-title">Add stock</h2>
            <label>
              Units to add
              <input
                name="addQuantity"
                type="number"
                min={1}
                value={add.quantity}
                aria-describedby="add-quantity-error"
                onInput={(e) => setAdd({ ...add, quantity: e.currentTarget.value })}
              />
            </label>
            <FieldError id="add-quantity-error" error={addError} field="quantity" />
            <label>
              Reason
              <input name="addReason" value={add.reason} onInput={(e) => setAdd({ ...add, reason: e.currentTarget.value })} />
            </label>
            <button type="submit">Add</button>
            <ErrorNotice error={addError?.fieldViolations.length ? null : addError} />
          </form>
          <form onSubmit={submitAudit} aria-labelledby="audit-title" class="card">
            <h2 id="audit-title">Audit (counted stock)</h2>
            <label>
              Units counted
              <input
                name="auditQuantity"
                type="number"
                min={0}
                value={audit.quantity}
                aria-describedby="audit-quantity-error"
                onInput={(e) => setAudit({ ...audit, quantity: e.currentTarget.value })}
              />
            </label>
            <FieldError id="audit-quantity-error" error={auditError} field="quantity" />
            <label>
              Version read
              <input
                name="expectedVersion"
                type="number"
                min={0}
                value={audit.expectedVersion}
                aria-describedby="audit-version-error"
                onInput={(e) => setAudit({ ...audit, expectedVersion: e.currentTarget.value })}
              />
            </label>
            <FieldError id="audit-version-error" error={auditError} field="expectedVersion" />
            <label>
              Reason
              <input
                name="auditReason"
                value={audit.reason}
                onInput={(e) => setAudit({ ...audit, reason: e.currentTarget.value })}
              />
            </label>
            <button type="submit">Record the count</button>
            {auditError?.kind === "conflict" ? (
              <div class="notice error" role="alert" data-testid="audit-conflict">
                <p>
                  Someone changed this stock since you read it
                  {auditError.metadata.current_version ? ` (it is now at version ${auditError.metadata.current_version})` : ""}:
                  your count was not recorded.
                </p>
                <p class="detail">{auditError.message}</p>
                <button type="button" onClick={() => void load().then(() => setAuditError(null))}>
                  Re-read the stock
                </button>
              </div>
            ) : (
              <ErrorNotice error={auditError?.fieldViolations.length ? null : auditError} />
            )}
          </form>
        </div>
      )}
    </section>
  );
}
