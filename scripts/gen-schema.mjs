// Regenerates shared/src/protocol/generated/ from schemas/node.capnp: codec.ts (our codec, by
// gen-codec.mjs) and node.ts (capnp-es's classes, the independent implementation the conformance test
// checks codec.ts against). Needs `capnp` (Debian: capnproto). With --check it writes to a temporary
// folder and fails when the committed output differs.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import * as prettier from "prettier";
import { emit, loadSchema } from "./gen-codec.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "shared/src/protocol/generated");
const check = process.argv.includes("--check");
const SCHEMA = "schemas/node.capnp";

const tmp = mkdtempSync(join(tmpdir(), "qpq-gen-"));
try {
  execFileSync(join(root, "node_modules/.bin/capnp-es"), [`-ots:${tmp}`, "--src-prefix=schemas", SCHEMA], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
  });
  const options = { ...(await prettier.resolveConfig(join(outDir, "codec.ts"))), parser: "typescript" };
  const fresh = {
    "node.ts": "// @ts-nocheck\n/* eslint-disable */\n" + readFileSync(join(tmp, "node.ts"), "utf8"),
    "codec.ts": await prettier.format(
      emit(loadSchema(SCHEMA, root), ["ClientFrame", "ServerFrame"]),
      options,
    ),
  };
  const stale = [];
  for (const [file, text] of Object.entries(fresh)) {
    const target = join(outDir, file);
    let committed = "";
    try {
      committed = readFileSync(target, "utf8");
    } catch {
      /* missing counts as stale */
    }
    if (committed !== text) {
      stale.push(file);
      if (!check) writeFileSync(target, text);
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
