import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "@playwright/test";
import { startGatewayProcess } from "@qpq/gateway/testing";

const webDist = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..", "web", "dist");

test("the service worker serves the app shell while the gateway is down", async ({ browser }) => {
  test.setTimeout(60_000);

  // Its own gateway, so stopping it does not affect the other scenarios.
  const gateway = await startGatewayProcess({ env: { QPQ_WEB_ROOT: webDist } });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(gateway.baseUrl);
    await expect(page.getByLabel("Username")).toBeVisible();
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);

    await gateway.kill();
    const response = await page.reload();
    expect(response?.fromServiceWorker()).toBe(true);
    await expect(page.getByLabel("Username")).toBeEditable();
    await expect(page.getByRole("button", { name: "Log in" })).toBeEnabled();
  } finally {
    await context.close();
    await gateway.kill();
    gateway.cleanup();
  }
});
