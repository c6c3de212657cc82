// `npm run check:api`: web/openapi.json and web/src/api/schema.d.ts are what `npm run gen:api`
// makes from the contracts now. A contract change regenerates them (and `tsc` then shows every
// page it breaks); a hand edit or a forgotten regeneration fails here.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repo = resolve(import.meta.dirname, "..", "..");
const python = process.env.PYTHON ?? join(repo, ".venv", "bin", "python");
const scratch = mkdtempSync(join(tmpdir(), "oms-api-"));
try {
  const document = join(scratch, "openapi.json");
  const types = join(scratch, "schema.d.ts");
  execFileSync(python, ["-m", "gateway.openapi_export", document], { cwd: repo, stdio: "inherit" });
  execFileSync(join(repo, "node_modules", ".bin", "openapi-typescript"), [document, "-o", types, "--silent"], {
    cwd: repo,
    stdio: "inherit",
  });
  const stale = [
    ["web/openapi.json", document],
    ["web/src/api/schema.d.ts", types],
  ].filter(([committed, fresh]) => readFileSync(join(repo, committed), "utf8") !== readFileSync(fresh, "utf8"));
  if (stale.length) {
    console.error(`out of date: ${stale.map(([c]) => c).join(", ")}; run \`npm run gen:api\` and commit the result`);
    process.exit(1);
  }
  console.log("web API types match the contracts");
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
