// `npm test`: every check the project has, in the order that fails fastest. Installs what it needs.
import { execFileSync } from "node:child_process";
import { ensureDebianPackage, ensureNodeModules, root } from "./ensure.mjs";

ensureNodeModules();
// Required, never skipped: the committed codec is checked against a fresh generation from the schema.
if (!ensureDebianPackage("capnp", "capnproto")) {
  console.error("capnp (Debian package capnproto) is required: it checks the generated codec");
  process.exit(1);
}
const hasChromium = ensureDebianPackage("chromium", "chromium");
// Let's Encrypt's test ACME server, for the gateway's ACME tests (they skip without it).
if (!ensureDebianPackage("pebble", "pebble")) console.warn("note: the ACME tests will be skipped");

const steps = [
  ["architecture doc matches the tree", ["node", "scripts/check-architecture.mjs"]],
  ["typecheck", ["npm", "run", "--silent", "typecheck"]],
  ["lint", ["npm", "run", "--silent", "lint"]],
  ["format", ["npm", "run", "--silent", "format:check"]],
  ["unit and integration tests", ["npx", "vitest", "run"]],
  ["web build", ["npx", "vite", "build", "--logLevel", "warn"]],
];
if (hasChromium || process.env.QPQ_E2E_FORCE) {
  steps.push([
    "end-to-end tests (Playwright, real browsers)",
    ["npx", "playwright", "test", "-c", "e2e/playwright.config.ts"],
  ]);
} else {
  console.warn("note: no Chromium found (Debian package chromium): end-to-end tests skipped");
}

let passed = 0;
for (const [name, [cmd, ...args]] of steps) {
  console.log(`\n=== ${name} ===`);
  try {
    execFileSync(cmd, args, { cwd: root, stdio: "inherit" });
    passed++;
  } catch {
    console.error(`\n${name} failed`);
    console.log(`steps: ${passed} passed, 1 failed`);
    process.exit(1);
  }
}
console.log(`\nsteps: ${passed} passed, 0 failed`);
