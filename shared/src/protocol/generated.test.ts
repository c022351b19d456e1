// Test files may use Node built-ins (eslint.config.js relaxes the browser-only rule for *.test.ts).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));

describe("generated schema code", () => {
  // Never skipped: without `capnp` the committed codec could drift from the schema unnoticed.
  // `npm test` installs it (Debian: capnproto).
  it("matches schemas/node.capnp (node scripts/gen-schema.mjs --check)", () => {
    const result = spawnSync(process.execPath, ["scripts/gen-schema.mjs", "--check"], {
      cwd: root,
      encoding: "utf8",
    });
    expect(result.error, "is capnp installed? (apt-get install capnproto)").toBeUndefined();
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });
});
