import { existsSync } from "node:fs";
import { defineConfig } from "@playwright/test";

/**
 * Debian's Chromium when present (CI installs it); Playwright's own browser only as the fallback on
 * machines that have one, since its download does not work here. Never --disable-quic: WebTransport
 * runs on QUIC.
 */
const debianChromium = "/usr/bin/chromium";

export default defineConfig({
  testDir: "./tests",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 20_000 },
  reporter: [["list"]],
  globalSetup: "./globalSetup.ts",
  use: {
    headless: true,
    launchOptions: {
      executablePath: existsSync(debianChromium) ? debianChromium : undefined,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
