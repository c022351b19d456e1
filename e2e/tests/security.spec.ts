import { expect, test } from "@playwright/test";
import { Actor, baseUrl } from "./actors.ts";

/**
 * Globals the signed-in app page has beyond a same-origin page that runs no script. The baseline is
 * the gateway's /healthz JSON document rather than about:blank, because about:blank is not a secure
 * context and so lacks a few hundred secure-context-only Web APIs (caches, WebTransport, ...) that
 * would otherwise show up as "extra". Nothing is on the allow-list: anything the bundle leaks shows
 * up in the failure message.
 */
const HARMLESS = new Set<string>([]);

test("a signed-in page exposes no app globals: no messenger, keys or test hooks on window", async ({
  browser,
}) => {
  const plain = await browser.newPage();
  await plain.goto(new URL("/healthz", baseUrl()).href);
  const baseline = new Set(await plain.evaluate(() => Object.getOwnPropertyNames(window)));
  await plain.context().close();

  const alice = await Actor.open(browser, "alice");
  await alice.register();
  const extra = await alice.page.evaluate(
    (known) => {
      const skip = new Set(known);
      return Object.getOwnPropertyNames(window)
        .filter((name) => !skip.has(name))
        .map((name) => {
          const value = (window as unknown as Record<string, unknown>)[name];
          const kind = value === null ? "null" : typeof value;
          return `${name}: ${kind}${kind === "object" ? ` ${Object.prototype.toString.call(value)}` : ""}`;
        });
    },
    [...baseline],
  );
  console.log(`extra globals on the app page: ${extra.length === 0 ? "none" : extra.join(", ")}`);
  expect(extra.filter((entry) => !HARMLESS.has(entry.slice(0, entry.indexOf(":"))))).toEqual([]);
  await alice.close();
});

test("the main document's CSP allows WASM compilation but no eval and no inline script", async ({ page }) => {
  const response = await page.goto(baseUrl());
  const csp = response?.headers()["content-security-policy"] ?? "";
  console.log(`Content-Security-Policy: ${csp}`);
  const directives = new Map(
    csp
      .split(";")
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...sources]) => [name!.toLowerCase(), sources] as const),
  );
  const sources = [...directives.values()].flat();
  const scriptSrc = directives.get("script-src") ?? directives.get("default-src") ?? [];
  expect(scriptSrc).toContain("'wasm-unsafe-eval'");
  expect(sources).not.toContain("'unsafe-eval'");
  expect(sources).not.toContain("'unsafe-inline'");
  expect(directives.get("object-src")).toEqual(["'none'"]);

  // And the browser enforces it: an injected inline script does not run, and string code is refused.
  const violations = await page.evaluate(async () => {
    const seen: string[] = [];
    // Resolves once both attempts were reported as violations; if CSP let them run, nothing is
    // reported and the test times out.
    const reported = new Promise<void>((resolve) => {
      document.addEventListener("securitypolicyviolation", (e) => {
        seen.push(e.effectiveDirective);
        if (seen.length === 2) resolve();
      });
    });
    const script = document.createElement("script");
    script.textContent = "document.body.dataset.inline = 'ran'";
    document.head.append(script);
    window.setTimeout("document.body.dataset.timer = 'ran'", 0);
    await reported;
    return { seen: seen.sort(), inline: document.body.dataset.inline, timer: document.body.dataset.timer };
  });
  expect(violations.seen).toEqual(["script-src", "script-src-elem"]);
  expect(violations.inline).toBeUndefined();
  expect(violations.timer).toBeUndefined();
});
