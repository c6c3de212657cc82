import { beforeEach, describe, expect, it } from "vitest";
import { forgetIdempotencyKey, idempotencyKeyFor, placeOrderBody } from "./checkout";

class MemoryStorage {
  private items = new Map<string, string>();
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
}

const cart = [
  { productId: "p-1", name: "Teapot", quantity: 2 },
  { productId: "p-2", name: "Cup", quantity: 1 },
];

describe("the checkout's Idempotency-Key", () => {
  beforeEach(() => {
    Object.assign(globalThis, { sessionStorage: new MemoryStorage() });
  });

  it("stays the same for the same cart (a double click, a retry, a reload)", () => {
    const key = idempotencyKeyFor(cart);
    expect(idempotencyKeyFor([...cart].reverse())).toBe(key);
    expect(idempotencyKeyFor(cart)).toBe(key);
  });

  it("changes with the cart, and after the order is placed", () => {
    const key = idempotencyKeyFor(cart);
    const other = idempotencyKeyFor([{ productId: "p-1", name: "Teapot", quantity: 3 }]);
    expect(other).not.toBe(key);
    forgetIdempotencyKey();
    expect(idempotencyKeyFor([{ productId: "p-1", name: "Teapot", quantity: 3 }])).not.toBe(other);
  });

  it("sends the payment method only when one is chosen", () => {
    expect(placeOrderBody("c-1", cart)).toEqual({
      customerId: "c-1",
      items: [
        { productId: "p-1", quantity: 2 },
        { productId: "p-2", quantity: 1 },
      ],
    });
    expect(placeOrderBody("c-1", cart, { paymentMethod: "card" })).toMatchObject({ paymentMethod: "card" });
  });
});
