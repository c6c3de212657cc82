// Placing the order exactly once: one Idempotency-Key per cart content, kept until the order is
// placed, so a double click, a retry after a lost answer or a reload re-sends the same key and
// the order service answers with the order it already placed instead of placing another.
import { api, call, type PlaceOrderRequest } from "../api/client";
import type { CartLine } from "../cart";
import { newIdempotencyKey } from "../format";

const KEY = "oms.shop.checkout";

// The payment step's hook: PlaceOrder gets a payment method once the payment contract lands
// (its field is not in the contract yet); the checkout form has no payment choice until then.
export interface CheckoutOptions {
  paymentMethod?: string;
}

function cartFingerprint(lines: CartLine[]): string {
  return lines
    .map((l) => `${l.productId}×${l.quantity}`)
    .sort()
    .join(",");
}

/** The key for this cart: the same one until the cart changes or its order is placed. */
export function idempotencyKeyFor(lines: CartLine[]): string {
  const fingerprint = cartFingerprint(lines);
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as { key: string; cart: string } | null;
    if (saved && saved.cart === fingerprint) return saved.key;
  } catch {
    // a damaged entry: make a new key
  }
  const key = newIdempotencyKey();
  sessionStorage.setItem(KEY, JSON.stringify({ key, cart: fingerprint }));
  return key;
}

export function forgetIdempotencyKey(): void {
  sessionStorage.removeItem(KEY);
}

export function placeOrderBody(customerId: string, lines: CartLine[], options: CheckoutOptions = {}): PlaceOrderRequest {
  const body: PlaceOrderRequest = {
    customerId,
    items: lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
  };
  // Sent only when the page asks for it, which it does once the contract has the field
  // (the gateway refuses fields it does not know).
  if (options.paymentMethod) Object.assign(body, { paymentMethod: options.paymentMethod });
  return body;
}

export async function placeOrder(customerId: string, lines: CartLine[], options: CheckoutOptions = {}) {
  return call(
    api.POST("/orders", {
      body: placeOrderBody(customerId, lines, options),
      headers: { "Idempotency-Key": idempotencyKeyFor(lines) },
    }),
  );
}
