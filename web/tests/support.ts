// What the browser tests share: the API as an admin (to make their own products and
// customers, with unique ids), signing in through the pages, axe and screenshots.
import AxeBuilder from "@axe-core/playwright";
import { expect, type APIRequestContext, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";

export const SCREENSHOTS = resolve(import.meta.dirname, "..", "test-artifacts", "screenshots");

export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function adminToken(request: APIRequestContext): Promise<string> {
  const reply = await request.post("/auth/dev-sign-in", { data: { role: "admin" } });
  expect(reply.ok(), await reply.text()).toBeTruthy();
  return ((await reply.json()) as { token: string }).token;
}

export class Api {
  constructor(
    private readonly request: APIRequestContext,
    private readonly token: string,
  ) {}

  static async asAdmin(request: APIRequestContext): Promise<Api> {
    return new Api(request, await adminToken(request));
  }

  async call(method: "GET" | "POST" | "PATCH", path: string, data?: unknown): Promise<any> {
    const reply = await this.request.fetch(path, {
      method,
      data,
      headers: { Authorization: `Bearer ${this.token}` },
    });
    expect(reply.ok(), `${method} ${path}: ${reply.status()} ${await reply.text()}`).toBeTruthy();
    return reply.json();
  }

  async product(name: string, stock: number, priceUnits = 12): Promise<string> {
    const productId = unique("p-web");
    await this.call("POST", "/products", {
      productId,
      name,
      description: `${name}, made for the browser tests.`,
      price: { currencyCode: "EUR", units: String(priceUnits), nanos: 500_000_000 },
      active: true,
    });
    if (stock) await this.call("POST", "/api/inventory/add", { productId, quantity: String(stock), reason: "test" });
    return productId;
  }

  async customer(): Promise<string> {
    const customerId = unique("c-web");
    await this.call("POST", "/customers", { customerId, name: "Ada Lovelace", email: `${customerId}@example.com` });
    return customerId;
  }

  async orders(customerId: string): Promise<{ orderId: string; status: string }[]> {
    const data = await this.call("GET", `/orders?customer_id=${encodeURIComponent(customerId)}&page_size=50`);
    return data.orders ?? [];
  }
}

export async function signInShopper(page: Page, customerId: string): Promise<void> {
  await page.goto("/#/sign-in");
  await page.getByLabel("Customer id").fill(customerId);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText(`Signed in as ${customerId}`);
}

export async function signInAdmin(page: Page): Promise<void> {
  await page.goto("/admin#/orders");
  await page.getByRole("button", { name: /Sign in as/ }).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText(/Signed in as admin-1/);
}

/** axe-core on the page as it is: no serious or critical violation; then a screenshot. */
export async function checkPage(page: Page, name: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    `accessibility of ${name}`,
  ).toEqual([]);
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: resolve(SCREENSHOTS, `${name}.png`), fullPage: true });
}
