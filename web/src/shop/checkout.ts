// Placing the order exactly once: one Idempotency-Key per cart content, kept until the order is
// placed, so a double click, a retry after a lost answer or a reload re-sends the same key and
// the order service answers with the order it already placed instead of placing another.
import { api, call, type PlaceOrderRequest } from "../api/client";
import type { CartLine } from "../cart";
import { newIdempotencyKey } from "../format";

const KEY = "oms.shop.checkout";

// How the order is paid: a payment provider's token for the customer's card (PlaceOrder's
// payment_method), or none: the order then waits CONFIRMED for an offline payment.
export interface CheckoutOptions {
  paymentMethod?: string;
}

// The simulated provider's test cards (payment_svc/adapters/simulated_provider.py), what the
// development mesh authorizes with. With Stripe, a real page gets the token from Stripe's own
// card form instead; that needs Stripe's script, which this offline build does not load.
export const PAYMENT_CHOICES: { value: string; label: string }[] = [
  { value: "", label: "Pay later (invoice, offline payment)" },
  { value: "tok_visa", label: "Test card: Visa, approved" },
  { value: "tok_mastercard", label: "Test card: Mastercard, approved" },
  { value: "tok_chargeDeclined", label: "Test card: declined" },
  { value: "tok_insufficient_funds", label: "Test card: insufficient funds" },
];

function cartFingerprint(lines: CartLine[], options: CheckoutOptions): string {
  const items = lines
    .map((l) => `${l.productId}×${l.quantity}`)
    .sort()
    .join(",");
  // Another payment method is another request: the same key with a different body is refused.
  return `${items}|${options.paymentMethod ?? ""}`;
}

/** The key for this cart and payment: the same one until either changes or the order is placed. */
export function idempotencyKeyFor(lines: CartLine[], options: CheckoutOptions = {}): string {
  const fingerprint = cartFingerprint(lines, options);
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
  if (options.paymentMethod) body.paymentMethod = options.paymentMethod;
  return body;
}

export async function placeOrder(customerId: string, lines: CartLine[], options: CheckoutOptions = {}) {
  return call(
    api.POST("/orders", {
      body: placeOrderBody(customerId, lines, options),
      headers: { "Idempotency-Key": idempotencyKeyFor(lines, options) },
    }),
  );
}
