// The cart: product id → quantity (plus what the page showed), kept in localStorage so it
// survives reloads and is shared by the shop's tabs.
export interface CartLine {
  productId: string;
  name: string;
  quantity: number;
}

const KEY = "oms.shop.cart";
type Listener = (lines: CartLine[]) => void;
const listeners = new Set<Listener>();

export function cartLines(): CartLine[] {
  try {
    const parsed = JSON.parse(localStorage.getItem(KEY) ?? "[]") as unknown;
    return Array.isArray(parsed)
      ? parsed.filter(
          (l): l is CartLine =>
            typeof l === "object" && l !== null && typeof l.productId === "string" && Number.isInteger(l.quantity),
        )
      : [];
  } catch {
    return [];
  }
}

function save(lines: CartLine[]): void {
  localStorage.setItem(KEY, JSON.stringify(lines));
  listeners.forEach((l) => l(lines));
}

export function addToCart(productId: string, name: string, quantity: number): void {
  const lines = cartLines();
  const line = lines.find((l) => l.productId === productId);
  if (line) line.quantity += quantity;
  else lines.push({ productId, name, quantity });
  save(lines);
}

export function setQuantity(productId: string, quantity: number): void {
  save(
    cartLines()
      .map((l) => (l.productId === productId ? { ...l, quantity } : l))
      .filter((l) => l.quantity > 0),
  );
}

export function clearCart(): void {
  save([]);
}

export function onCartChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
