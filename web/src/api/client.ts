// The typed API client: openapi-fetch over the types generated from the gateway's /openapi.json
// (schema.d.ts, `npm run gen:api`), so a contract change that breaks a page fails `tsc`.
import createClient, { type Middleware } from "openapi-fetch";
import { currentSession } from "./auth";
import { apiError, networkError, type ApiError } from "./errors";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Order = Schemas["oms.order.v1.Order"];
export type OrderStatus = Schemas["oms.order.v1.OrderStatus"];
export type Product = Schemas["oms.inventory.v1.Product"];
export type Stock = Schemas["oms.inventory.v1.Stock"];
export type Customer = Schemas["oms.order.v1.Customer"];
export type Notification = Schemas["oms.notify.v1.Notification"];
export type Money = Schemas["google.type.Money"];
export type PlaceOrderRequest = Schemas["oms.order.v1.PlaceOrderRequest"];

const authorise: Middleware = {
  onRequest({ request }) {
    const session = currentSession();
    if (session && !request.headers.has("Authorization")) {
      request.headers.set("Authorization", `Bearer ${session.token}`);
    }
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: "" });
api.use(authorise);

export type Result<T> = { data: T; error?: undefined } | { data?: undefined; error: ApiError };

/** Awaits an openapi-fetch call and turns every failure (HTTP or network) into an ApiError. */
export async function call<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<Result<T>> {
  try {
    const { data, error, response } = await pending;
    if (response.ok && data !== undefined) return { data };
    return { error: apiError(response, error) };
  } catch (cause) {
    return { error: networkError(cause) };
  }
}

/** Like ``call`` but throws the ApiError: for loaders that show one error for the whole view. */
export async function must<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const result = await call(pending);
  if (result.error) throw result.error;
  return result.data;
}
