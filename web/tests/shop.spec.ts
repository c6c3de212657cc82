import { expect, test } from "@playwright/test";
import { Api, checkPage, signInAdmin, signInShopper, unique } from "./support";

test("a shopper browses, places an order once (double click) and sees it turn CONFIRMED live", async ({
  page,
  request,
}) => {
  const api = await Api.asAdmin(request);
  const name = unique("Teapot");
  await api.product(name, 10);
  const customerId = await api.customer();

  // Browsing needs no sign-in.
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Products" })).toBeVisible();
  await page.getByLabel("Search products").fill(name);
  await page.getByRole("button", { name: "Search" }).click();
  const card = page.getByTestId("product-card").filter({ hasText: name });
  await expect(card).toHaveCount(1);
  await expect(card).toContainText("10 in stock");
  await checkPage(page, "shop-catalog");

  await card.getByRole("link", { name }).click();
  await expect(page.getByRole("heading", { name })).toBeVisible();
  await page.getByLabel("Quantity").fill("2");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect(page.getByText(`Added 2 × ${name} to the cart.`)).toBeVisible();
  await checkPage(page, "shop-product");

  await signInShopper(page, customerId);
  await page.goto("/#/cart");
  await expect(page.getByRole("link", { name })).toBeVisible();
  await checkPage(page, "shop-cart");

  // A double click, and a retry of the same request, place one order (one Idempotency-Key):
  // every request the page sends is delivered twice, as after an answer lost on the way back.
  const keys: string[] = [];
  await page.route("**/orders", async (route) => {
    if (route.request().method() !== "POST") return route.continue();
    keys.push(route.request().headers()["idempotency-key"] ?? "");
    await route.fetch();
    await route.fulfill({ response: await route.fetch() });
  });
  await page.getByRole("button", { name: "Place order" }).dblclick();
  await expect(page).toHaveURL(/#\/orders\/.+/);
  await expect(page.getByTestId("order-status")).toHaveText("Confirmed");
  await expect(page.locator(".connection")).toBeVisible();
  await checkPage(page, "shop-order-confirmed");
  const orders = await api.orders(customerId);
  expect(orders).toHaveLength(1);
  expect(orders[0]?.status).toBe("ORDER_STATUS_CONFIRMED");
  expect(keys.length).toBeGreaterThanOrEqual(1);
  expect(new Set(keys).size).toBe(1);
  expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);

  await page.goto("/#/orders");
  await expect(page.getByTestId("my-orders").getByRole("link", { name: orders[0]!.orderId })).toBeVisible();
  await checkPage(page, "shop-my-orders");
});

test("an order for more than the stock shows REJECTED with the reason", async ({ page, request }) => {
  const api = await Api.asAdmin(request);
  const name = unique("Rare vase");
  const productId = await api.product(name, 1);
  const customerId = await api.customer();

  await signInShopper(page, customerId);
  await page.goto(`/#/products/${productId}`);
  await page.getByLabel("Quantity").fill("3");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.goto("/#/cart");
  await page.getByRole("button", { name: "Place order" }).click();
  await expect(page.getByTestId("order-status")).toHaveText("Rejected");
  await expect(page.getByTestId("status-reason")).toContainText(/stock|short|available/i);
  await expect(page.getByRole("list", { name: "Short products" })).toContainText(`${productId}: 3 requested, 1 available`);
  await expect(page.locator(".connection")).toHaveAttribute("data-state", "ended");
  await checkPage(page, "shop-order-rejected");
});

test("an admin ships an order and the shopper's open page shows SHIPPED, across a lost stream", async ({
  browser,
  request,
}) => {
  const api = await Api.asAdmin(request);
  const name = unique("Lamp");
  const productId = await api.product(name, 5);
  const customerId = await api.customer();

  const shopperContext = await browser.newContext();
  const shopper = await shopperContext.newPage();
  await signInShopper(shopper, customerId);
  await shopper.goto(`/#/products/${productId}`);
  await shopper.getByRole("button", { name: "Add to cart" }).click();
  await shopper.goto("/#/cart");
  await shopper.getByRole("button", { name: "Place order" }).click();
  await expect(shopper.getByTestId("order-status")).toHaveText("Confirmed");
  const connection = shopper.locator(".connection");
  await expect(connection).toHaveAttribute("data-state", "live");

  // The gateway ends every stream after OMS_WEB_STREAM_LIFETIME_S (set short for this run): the
  // page has to reconnect by itself to keep following the order.
  let watches = 0;
  shopper.on("request", (r) => {
    if (r.url().includes(":watch")) watches += 1;
  });
  const lifetimeS = Number(process.env.OMS_WEB_STREAM_LIFETIME_S ?? "0");
  test.skip(!lifetimeS, "needs a gateway whose streams end soon (tests/e2e/test_web_browser.py)");
  await expect.poll(() => watches, { timeout: (lifetimeS * 2 + 10) * 1000 }).toBeGreaterThanOrEqual(1);
  await expect(connection).toHaveAttribute("data-state", "live");

  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await signInAdmin(admin);
  await admin.getByLabel("Customer id").fill(customerId);
  await admin.getByRole("button", { name: "Filter" }).click();
  const row = admin.getByTestId("orders-table").locator("tbody tr");
  await expect(row).toHaveCount(1);
  await checkPage(admin, "admin-orders");
  await row.getByRole("button", { name: "Mark paid" }).click();
  await expect(row.getByTestId("admin-order-status")).toHaveText(/Paid/);
  await expect(shopper.getByTestId("order-status")).toHaveText("Paid");
  await row.getByRole("button", { name: "Ship" }).click();
  await expect(row.getByTestId("admin-order-status")).toHaveText(/Shipped/);

  await expect(shopper.getByTestId("order-status")).toHaveText("Shipped");
  await checkPage(shopper, "shop-order-shipped");
  await shopperContext.close();
  await adminContext.close();
});

test("API errors are shown where they belong: a field violation on the field, 401 as sign in", async ({
  page,
  request,
}) => {
  const api = await Api.asAdmin(request);
  const name = unique("Chair");
  const productId = await api.product(name, 5);
  const customerId = await api.customer();

  await signInShopper(page, customerId);
  await page.goto(`/#/products/${productId}`);
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.goto("/#/cart");
  await page.getByLabel(`Quantity of ${name}`).fill("5000");
  await page.getByLabel(`Quantity of ${name}`).blur();
  await page.getByRole("button", { name: "Place order" }).click();
  await expect(page.locator("#qty-0-error")).toContainText(/1000/);
  await expect(page.getByRole("alert").first()).toBeVisible();
  await checkPage(page, "shop-cart-field-error");

  // A token the API does not accept: the page asks to sign in again.
  await page.evaluate(() => localStorage.setItem("oms.shop.session", "e30.eyJzdWIiOiJjLXgifQ.c2ln"));
  await page.goto("/#/orders");
  await page.reload();
  await expect(page.getByText("Please sign in (again) to continue.")).toBeVisible();
});

test("a shopper cancels an order, and the page follows it to CANCELLED", async ({ page, request }) => {
  const api = await Api.asAdmin(request);
  const name = unique("Kettle");
  const productId = await api.product(name, 3);
  const customerId = await api.customer();

  await signInShopper(page, customerId);
  await page.goto(`/#/products/${productId}`);
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.goto("/#/cart");
  await page.getByRole("button", { name: "Place order" }).click();
  await expect(page.getByTestId("order-status")).toHaveText("Confirmed");
  await page.getByRole("button", { name: "Cancel the order" }).click();
  await expect(page.getByTestId("order-status")).toHaveText("Cancelled");
  await expect(page.getByTestId("status-reason")).toContainText("cancelled by the customer");
  await expect(page.getByRole("button", { name: "Cancel the order" })).toHaveCount(0);
  const orders = await api.orders(customerId);
  expect(orders.map((o) => o.status)).toEqual(["ORDER_STATUS_CANCELLED"]);
});

test("a shopper pays by card and the page follows the order to PAID; a declined card cancels it", async ({
  page,
  request,
}) => {
  const api = await Api.asAdmin(request);
  const name = unique("Grinder");
  const productId = await api.product(name, 5);
  const customerId = await api.customer();

  await signInShopper(page, customerId);
  await page.goto(`/#/products/${productId}`);
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.goto("/#/cart");
  await page.getByLabel("Payment").selectOption("tok_visa");
  await page.getByRole("button", { name: "Place order" }).click();
  await expect(page.getByTestId("order-status")).toHaveText("Paid");
  await checkPage(page, "shop-order-paid");

  await page.goto(`/#/products/${productId}`);
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.goto("/#/cart");
  await page.getByLabel("Payment").selectOption("tok_chargeDeclined");
  await page.getByRole("button", { name: "Place order" }).click();
  await expect(page.getByTestId("order-status")).toHaveText("Cancelled");
  await expect(page.getByTestId("status-reason")).toContainText("payment failed");
  const statuses = (await api.orders(customerId)).map((o) => o.status).sort();
  expect(statuses).toEqual(["ORDER_STATUS_CANCELLED", "ORDER_STATUS_PAID"]);
});

test("429 says when to retry and UNAVAILABLE offers to try again", async ({ page }) => {
  // The gateway's answers are stood in for here (the real ones are tested in tests/e2e): what
  // is under test is what the page makes of them.
  let answer: "rate-limited" | "unavailable" | "real" = "rate-limited";
  await page.route(/\/products\?/, async (route) => {
    if (answer === "rate-limited") {
      await route.fulfill({
        status: 429,
        headers: { "Retry-After": "7", "Content-Type": "application/json" },
        body: JSON.stringify({ code: 8, message: "rate limit exceeded: 600 per 1 minute", details: [] }),
      });
    } else if (answer === "unavailable") {
      await route.fulfill({
        status: 503,
        contentType: "application/json",
        body: JSON.stringify({ code: 14, message: "inventory is unavailable", details: [] }),
      });
    } else {
      await route.continue();
    }
  });
  await page.goto("/");
  await expect(page.getByRole("alert")).toContainText("Too many requests: please retry in 7 seconds.");
  answer = "unavailable";
  await page.getByRole("button", { name: "Try again" }).click();
  await expect(page.getByRole("alert")).toContainText("temporarily unavailable. Please try again.");
  await checkPage(page, "shop-unavailable");
  answer = "real";
  await page.getByRole("button", { name: "Try again" }).click();
  await expect(page.getByRole("alert")).toHaveCount(0);
  await expect(page.getByRole("heading", { name: "Products" })).toBeVisible();
});
