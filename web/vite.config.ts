// The shop (index.html) and the back office (admin.html) are two pages of one build; the
// gateway serves dist/ (gateway/web.py). Assets are content-hashed, so it caches them for good.
import { resolve } from "node:path";
import preact from "@preact/preset-vite";
import { defineConfig } from "vitest/config";

const root = import.meta.dirname;

export default defineConfig({
  root,
  base: "/",
  plugins: [preact()],
  build: {
    outDir: resolve(root, "dist"),
    emptyOutDir: true,
    // No inline script or style: the pages' Content-Security-Policy allows neither.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: { shop: resolve(root, "index.html"), admin: resolve(root, "admin.html") },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
