// Test files may use Node built-ins (eslint.config.js relaxes the browser-only rule for *.test.ts).
import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));

function capnpOnPath(): boolean {
  try {
    execFileSync("capnp", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const hasCapnp = capnpOnPath();
if (!hasCapnp) {
  console.warn(
    "generated.test.ts: `capnp` is not on PATH (Debian: apt install capnproto); schema staleness check skipped",
  );
}

describe("generated schema code", () => {
  it.skipIf(!hasCapnp)("matches schemas/*.capnp (node scripts/gen-schema.mjs --check)", () => {
    const result = spawnSync(process.execPath, ["scripts/gen-schema.mjs", "--check"], {
      cwd: root,
      encoding: "utf8",
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });
});
