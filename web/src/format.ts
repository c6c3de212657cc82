// How amounts, statuses and times are shown.
import type { Money, OrderStatus } from "./api/client";

export function money(value: Money | undefined): string {
  if (!value) return "—";
  const units = BigInt(value.units ?? "0");
  const nanos = value.nanos ?? 0;
  const amount = Number(units) + nanos / 1e9;
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency: value.currencyCode || "EUR" }).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${value.currencyCode ?? ""}`.trim();
  }
}

export function statusLabel(status: OrderStatus | string | undefined): string {
  const word = (status ?? "").replace(/^ORDER_STATUS_|^NOTIFICATION_STATUS_/, "");
  return word ? word.charAt(0) + word.slice(1).toLowerCase() : "—";
}

export function when(timestamp: string | undefined): string {
  if (!timestamp) return "—";
  const at = new Date(timestamp);
  return Number.isNaN(at.getTime()) ? timestamp : at.toLocaleString("en-GB", { hour12: false });
}

export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}
