// Regenerates shared/src/protocol/generated/ from schemas/*.capnp. Needs `capnp` (Debian: capnproto).
// With --check it writes to a temporary folder and fails when the committed output differs.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "shared/src/protocol/generated");
const check = process.argv.includes("--check");
const schemas = readdirSync(join(root, "schemas")).filter((f) => f.endsWith(".capnp"));

const tmp = mkdtempSync(join(tmpdir(), "qpq-gen-"));
try {
  const bin = join(root, "node_modules/.bin/capnp-es");
  execFileSync(bin, [`-ots:${tmp}`, "--src-prefix=schemas", ...schemas.map((s) => `schemas/${s}`)], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
  });
  let stale = [];
  for (const file of readdirSync(tmp)) {
    const fresh = "// @ts-nocheck\n/* eslint-disable */\n" + readFileSync(join(tmp, file), "utf8");
    const target = join(outDir, file);
    let committed = "";
    try {
      committed = readFileSync(target, "utf8");
    } catch {
      /* missing counts as stale */
    }
    if (committed !== fresh) {
      stale.push(file);
      if (!check) writeFileSync(target, fresh);
    }
  }
  if (check && stale.length > 0) {
    console.error(`stale generated schema code: ${stale.join(", ")} (run npm run gen:schema)`);
    process.exit(1);
  }
  if (!check) console.log(stale.length ? `regenerated ${stale.join(", ")}` : "generated code up to date");
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
