import { expect, test } from "@playwright/test";
import { adminToken, Api, checkPage, signInAdmin, unique } from "./support";

test("an audit with a stale version shows the conflict, and a re-read lets it through", async ({ page, request }) => {
  const api = await Api.asAdmin(request);
  const name = unique("Shelf");
  const productId = await api.product(name, 4);

  await signInAdmin(page);
  await page.goto(`/admin#/stock/${productId}`);
  await expect(page.getByTestId("stock-quantity")).toHaveText("4");
  const version = Number(await page.getByTestId("stock-version").textContent());

  // Someone else changes the stock after the page read it.
  await api.call("POST", "/api/inventory/add", { productId, quantity: "2", reason: "delivery" });

  await page.getByLabel("Units counted").fill("3");
  await page.getByRole("button", { name: "Record the count" }).click();
  const conflict = page.getByTestId("audit-conflict");
  await expect(conflict).toContainText("Someone changed this stock since you read it");
  await expect(conflict).toContainText(`version ${version + 1}`);
  await checkPage(page, "admin-stock-conflict");

  await conflict.getByRole("button", { name: "Re-read the stock" }).click();
  await expect(page.getByTestId("stock-version")).toHaveText(String(version + 1));
  await page.getByLabel("Units counted").fill("3");
  await page.getByRole("button", { name: "Record the count" }).click();
  await expect(page.getByText(/Audited: 3 units/)).toBeVisible();
  await expect(page.getByTestId("stock-quantity")).toHaveText("3");
});

test("the back office's tables page through the API, and each page passes axe", async ({ page, request }) => {
  const api = await Api.asAdmin(request);
  await api.customer();
  await signInAdmin(page);
  await checkPage(page, "admin-orders-list");
  for (const [hash, heading, shot] of [
    ["#/products", "Products", "admin-products"],
    ["#/customers", "Customers", "admin-customers"],
    ["#/notifications", "Notifications", "admin-notifications"],
    ["#/dead-letters", "Dead letters and parked events", "admin-dead-letters"],
    ["#/stock", "Stock", "admin-stock"],
  ] as const) {
    await page.goto(`/admin${hash}`);
    await expect(page.getByRole("heading", { name: heading, exact: true })).toBeVisible();
    await expect(page.getByText("Loading…")).toHaveCount(0);
    await checkPage(page, shot);
  }
  // Paging with page tokens: the customers table has more than one page here (20 a page)
  // once enough customers exist; make sure it does, then walk forward and back.
  for (let i = 0; i < 21; i++) await api.customer();
  await page.goto("/admin#/customers");
  const pager = page.getByRole("navigation", { name: "Customer pages" });
  await expect(pager.getByText("Page 1")).toBeVisible();
  await pager.getByRole("button", { name: "Next page" }).click();
  await expect(pager.getByText("Page 2")).toBeVisible();
  await pager.getByRole("button", { name: "Previous page" }).click();
  await expect(pager.getByText("Page 1")).toBeVisible();
});

test("the back office takes a pasted provider token, and refuses one that is not an admin's", async ({
  page,
  request,
}) => {
  await page.goto("/admin");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await checkPage(page, "admin-sign-in");

  const token = page.getByRole("textbox", { name: "Token" });
  await token.fill("not a token");
  await page.getByRole("button", { name: "Use this token" }).click();
  await expect(page.getByRole("alert")).toContainText("This is not a token");

  const customer = await request.post("/auth/dev-sign-in", { data: { role: "customer", customerId: "c-demo-ada" } });
  await token.fill(((await customer.json()) as { token: string }).token);
  await page.getByRole("button", { name: "Use this token" }).click();
  await expect(page.getByRole("alert")).toContainText("This token has no 'admin' role.");

  await token.fill(await adminToken(request));
  await page.getByRole("button", { name: "Use this token" }).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText(/Signed in as admin-1/);
  await expect(page.getByRole("heading", { name: "Orders" })).toBeVisible();
});
