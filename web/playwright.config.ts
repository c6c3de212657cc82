// Browser tests of the shop and the back office on Debian's Chromium (Playwright's own browser
// download is not used), against a running gateway: tests/e2e/test_web_browser.py starts the
// real mesh and runs them with OMS_WEB_BASE_URL set. Screenshots go to web/test-artifacts/.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "tests",
  outputDir: "test-artifacts/results",
  timeout: 90_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: 1, // one shared mesh, a 2-core machine
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: process.env.OMS_WEB_BASE_URL ?? "http://127.0.0.1:8080",
    ignoreHTTPSErrors: true, // OMS_RUN_TLS: the development CA
    viewport: { width: 1280, height: 860 },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.OMS_CHROMIUM ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    },
  },
});
