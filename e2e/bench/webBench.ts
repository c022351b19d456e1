/**
 * Web app benchmark: the built app (web/dist) served by its own real gateway, driven by Chromium with
 * the Playwright suite's launch options.
 *
 *   npx tsx e2e/bench/webBench.ts [--write] [--messages N] [--loads N]
 *
 * (a) bytes of JS, WASM and CSS a first visit transfers, raw (decoded) and as they would be
 *     gzip-compressed (node:zlib, default level), plus what the service worker fetches again to
 *     precache the shell; and the bytes of index.html, JS, CSS and WASM as actually sent, in the
 *     Content-Encoding Chromium negotiated with the gateway;
 * (b) time from navigation start to a usable login form (Username field visible and enabled, "Log in"
 *     enabled), cold (fresh context) and warm (reload under the installed service worker);
 * (c) send-to-display latency between two people in two browser contexts: the click on Send in
 *     alice's page to the message text appearing in bob's message log, both as absolute time
 *     (performance.timeOrigin + performance.now(); one machine, one clock).
 *
 * With --write it replaces (or appends) the "## Web app (Playwright, Chromium)" section of
 * docs/benchmarks.md, leaving the other sections as they are.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus, release, totalmem, type } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { chromium, type Browser, type BrowserContext, type Page, type Response } from "@playwright/test";
import { startGatewayProcess } from "@qpq/gateway/testing";
import { writeBenchSection } from "../../scripts/benchDoc.ts";
import config from "../playwright.config.ts";

const root = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..");
const webDist = join(root, "web", "dist");
const SECTION = "## Web app (Playwright, Chromium)";
/** Generous: registration stretches the password with Argon2 in the page. */
const SLOW = 120_000;

const args = process.argv.slice(2);
const write = args.includes("--write");
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`);
  return value;
};
const messageCount = option("--messages", 100);
const loadCount = option("--loads", 10);

// ---------------------------------------------------------------------------------------------------
// Small helpers.

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  // Nearest rank.
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const kib = (bytes: number): string => (bytes / 1024).toFixed(1);

type Kind = "js" | "wasm" | "css";

function kindOf(response: Response): Kind | undefined {
  const path = new URL(response.url()).pathname;
  const contentType = response.headers()["content-type"] ?? "";
  if (/\.m?js$/.test(path) || contentType.includes("javascript")) return "js";
  if (path.endsWith(".wasm") || contentType.includes("application/wasm")) return "wasm";
  if (path.endsWith(".css") || contentType.includes("text/css")) return "css";
  return undefined;
}

/**
 * Init script: records performance.now() in window.__benchFormReady the moment the login form is usable.
 * A string, not a function: tsx (esbuild keepNames) would wrap named inner functions in a __name()
 * helper that does not exist in the page.
 */
const WATCH_LOGIN_FORM = `(() => {
  const usable = () => {
    const label = [...document.querySelectorAll("label")].find((l) => l.textContent.trim() === "Username");
    const input = label && label.control;
    const button = [...document.querySelectorAll("button")].find((b) => b.textContent.trim() === "Log in");
    return !!input && !input.disabled && input.checkVisibility() && !!button && !button.disabled && button.checkVisibility();
  };
  const observer = new MutationObserver(() => {
    if (window.__benchFormReady === undefined && usable()) {
      window.__benchFormReady = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document, { childList: true, subtree: true, attributes: true });
})();`;

async function formReadyAt(page: Page): Promise<number> {
  const handle = await page.waitForFunction(
    () => (window as unknown as { __benchFormReady?: number }).__benchFormReady,
    undefined,
    { timeout: SLOW },
  );
  return (await handle.jsonValue()) as number;
}

// ---------------------------------------------------------------------------------------------------
// (a) Transfer size of the first visit.

interface Transfer {
  files: number;
  raw: number;
  gzip: number;
}

interface TransferResult {
  page: Record<Kind, Transfer>;
  serviceWorker: Record<Kind, Transfer>;
  swEventsSeen: boolean;
  /** Bytes of base64 WASM modules inlined in the first visit's JS (counted under JS, not WASM). */
  inlinedWasmBase64: number;
  /** index.html, JS, CSS and WASM of the first visit, response bodies as they came over the wire. */
  sent: { files: number; bytes: number };
}

async function measureTransfer(browser: Browser, baseUrl: string): Promise<TransferResult> {
  const empty = (): Record<Kind, Transfer> => ({
    js: { files: 0, raw: 0, gzip: 0 },
    wasm: { files: 0, raw: 0, gzip: 0 },
    css: { files: 0, raw: 0, gzip: 0 },
  });
  const result: TransferResult = {
    page: empty(),
    serviceWorker: empty(),
    swEventsSeen: false,
    inlinedWasmBase64: 0,
    sent: { files: 0, bytes: 0 },
  };
  const context = await browser.newContext();
  const pending: Promise<void>[] = [];
  context.on("response", (response) => {
    const kind = kindOf(response);
    if (response.fromServiceWorker() || response.status() !== 200) return;
    const fromWorker = response.request().serviceWorker() !== null;
    const isHtml = (response.headers()["content-type"] ?? "").startsWith("text/html");
    if (!fromWorker && (kind || isHtml)) {
      // responseBodySize is the encoded size: what compression actually saved on this connection.
      pending.push(
        response
          .request()
          .sizes()
          .then(
            (sizes) => {
              result.sent.files += 1;
              result.sent.bytes += sizes.responseBodySize;
            },
            () => undefined,
          ),
      );
    }
    if (!kind) return;
    pending.push(
      response.body().then(
        (body) => {
          const bucket = (fromWorker ? result.serviceWorker : result.page)[kind];
          bucket.files += 1;
          bucket.raw += body.length;
          bucket.gzip += gzipSync(body).length;
          if (fromWorker) result.swEventsSeen = true;
          else if (kind === "js") {
            // "AGFzbQ" is base64 for the WASM magic "\0asm".
            for (const m of body.toString("latin1").matchAll(/AGFzbQ[A-Za-z0-9+/]+=*/g)) {
              result.inlinedWasmBase64 += m[0].length;
            }
          }
        },
        () => undefined,
      ),
    );
  });
  const page = await context.newPage();
  await page.goto(baseUrl);
  await page.getByLabel("Username").waitFor({ timeout: SLOW });
  // The service worker precaches the shell once the page has loaded; wait until it is active.
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  await page.waitForLoadState("networkidle");
  await Promise.all(pending);
  await context.close();
  return result;
}

// ---------------------------------------------------------------------------------------------------
// (b) Navigation start to a usable login form.

async function measureLoads(browser: Browser, baseUrl: string): Promise<{ cold: number[]; warm: number[] }> {
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < loadCount; i++) {
    const context = await browser.newContext();
    await context.addInitScript(WATCH_LOGIN_FORM);
    const page = await context.newPage();
    await page.goto(baseUrl);
    cold.push(await formReadyAt(page));
    if (i === 0) {
      await page.evaluate(async () => {
        await navigator.serviceWorker.ready;
      });
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
      for (let j = 0; j < loadCount; j++) {
        await page.reload();
        warm.push(await formReadyAt(page));
      }
    }
    await context.close();
  }
  return { cold: cold.sort((a, b) => a - b), warm: warm.sort((a, b) => a - b) };
}

// ---------------------------------------------------------------------------------------------------
// (c) Send-to-display latency.

async function signUp(context: BrowserContext, baseUrl: string, username: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(baseUrl);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(`bench password of ${username}`);
  await page.getByRole("button", { name: "Create account" }).click();
  await page
    .getByRole("status", { name: "Connection" })
    .filter({ hasText: /^Online$/ })
    .waitFor({ timeout: SLOW });
  return page;
}

const messageText = (page: Page, text: string) =>
  page.getByRole("log", { name: "Messages" }).getByText(text, { exact: true });

async function measureLatency(browser: Browser, baseUrl: string): Promise<number[]> {
  const suffix = Date.now().toString(36).slice(-5);
  const aliceContext = await browser.newContext();
  const bobContext = await browser.newContext();
  try {
    const alice = await signUp(aliceContext, baseUrl, `alice${suffix}`);
    const bob = await signUp(bobContext, baseUrl, `bob${suffix}`);

    await alice.getByRole("button", { name: "New conversation" }).click();
    await alice.getByLabel("Start a conversation with").fill(`bob${suffix}`);
    await alice.getByRole("button", { name: "Start conversation" }).click();
    await alice.getByRole("heading", { level: 2, name: `bob${suffix}` }).waitFor({ timeout: SLOW });
    const textbox = alice.getByRole("textbox", { name: "Message" });
    const sendButton = alice.getByRole("button", { name: "Send" });
    await textbox.fill("warm-up");
    await sendButton.click();
    await bob
      .getByRole("navigation", { name: "Conversations" })
      .getByRole("button", { name: `alice${suffix}` })
      .click({ timeout: SLOW });
    await messageText(bob, "warm-up").waitFor({ timeout: SLOW });

    // Bob's page: when a message text first appears in the log, note the absolute time.
    await bob.evaluate(() => {
      const arrived = new Map<string, number>();
      (window as unknown as { __benchArrived: Map<string, number> }).__benchArrived = arrived;
      const log = document.querySelector('[role="log"][aria-label="Messages"]');
      if (!log) throw new Error("no message log");
      new MutationObserver(() => {
        const now = performance.timeOrigin + performance.now();
        for (const el of log.querySelectorAll(".text")) {
          const text = el.textContent ?? "";
          if (!arrived.has(text)) arrived.set(text, now);
        }
      }).observe(log, { childList: true, subtree: true, characterData: true });
    });
    // Alice's page: the absolute time of the click on Send, before the app's own handler runs.
    await alice.evaluate(() => {
      const sent = new Map<string, number>();
      (window as unknown as { __benchSent: Map<string, number> }).__benchSent = sent;
      window.addEventListener(
        "click",
        (event) => {
          const now = performance.timeOrigin + performance.now();
          const button = (event.target as Element | null)?.closest("button");
          const box = document.querySelector<HTMLTextAreaElement>("textarea#message");
          if (button?.textContent?.trim() === "Send" && box) sent.set(box.value.trim(), now);
        },
        { capture: true },
      );
    });

    for (let i = 0; i < messageCount; i++) {
      const text = `latency probe ${i}`;
      await textbox.fill(text);
      await sendButton.click();
      await messageText(bob, text).waitFor({ timeout: SLOW });
      await alice
        .getByRole("log", { name: "Messages" })
        .getByRole("listitem")
        .filter({ has: alice.getByText(text, { exact: true }) })
        .filter({ hasText: "· Sent" })
        .waitFor({ timeout: SLOW });
    }

    const sent = await alice.evaluate(() => [
      ...(window as unknown as { __benchSent: Map<string, number> }).__benchSent,
    ]);
    const arrived = new Map(
      await bob.evaluate(() => [
        ...(window as unknown as { __benchArrived: Map<string, number> }).__benchArrived,
      ]),
    );
    const latencies: number[] = [];
    for (const [text, at] of sent) {
      const seen = arrived.get(text);
      if (seen === undefined) throw new Error(`bob never saw ${JSON.stringify(text)}`);
      latencies.push(seen - at);
    }
    if (latencies.length !== messageCount) {
      throw new Error(`recorded ${latencies.length} sends for ${messageCount} messages`);
    }
    return latencies.sort((a, b) => a - b);
  } finally {
    await aliceContext.close();
    await bobContext.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// Report.

function report(
  browserVersion: string,
  transfer: TransferResult,
  loads: { cold: number[]; warm: number[] },
  latency: number[],
): string {
  const lines: string[] = [];
  const log = (line = ""): void => {
    lines.push(line);
  };
  const total = (r: Record<Kind, Transfer>): Transfer => ({
    files: r.js.files + r.wasm.files + r.css.files,
    raw: r.js.raw + r.wasm.raw + r.css.raw,
    gzip: r.js.gzip + r.wasm.gzip + r.css.gzip,
  });
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const launchArgs = config.use?.launchOptions?.args ?? [];

  log(SECTION);
  log();
  log(
    `Measured by \`npx tsx e2e/bench/webBench.ts\` on ${new Date().toISOString().slice(0, 10)}: ` +
      `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${type()} ${release()}, ` +
      `Node ${process.version}, headless Chromium ${browserVersion} (${launchArgs.join(" ")}). ` +
      "The gateway (its own process) and the browser share the machine and talk over loopback.",
  );
  log();
  log("### First visit: code transferred");
  log();
  log("| | files | raw KiB | gzip KiB |");
  log("|---|---|---|---|");
  for (const kind of ["js", "wasm", "css"] as const) {
    const t = transfer.page[kind];
    log(`| ${kind.toUpperCase()} | ${t.files} | ${kib(t.raw)} | ${kib(t.gzip)} |`);
  }
  const pageTotal = total(transfer.page);
  log(`| **total** | ${pageTotal.files} | **${kib(pageTotal.raw)}** | **${kib(pageTotal.gzip)}** |`);
  const sw = total(transfer.serviceWorker);
  log(
    transfer.swEventsSeen
      ? `| service worker precache, fetched again | ${sw.files} | ${kib(sw.raw)} | ${kib(sw.gzip)} |`
      : "| service worker precache | (not observable in this Chromium) | | |",
  );
  log();
  if (transfer.inlinedWasmBase64 > 0) {
    log(
      `The JS includes ${kib(transfer.inlinedWasmBase64)} KiB of base64-inlined WASM ` +
        `(about ${kib((transfer.inlinedWasmBase64 * 3) / 4)} KiB of module), counted as JS.`,
    );
    log();
  }
  log(
    `As sent: index.html, JS, CSS and WASM of the first visit, ${transfer.sent.files} files, ` +
      `**${kib(transfer.sent.bytes)} KiB** on the wire (response bodies in the Content-Encoding Chromium ` +
      "negotiated; the gateway serves the build's precompressed brotli/gzip copies).",
  );
  log();
  log(
    "Raw is the decoded size of each body; gzip is each JS/WASM/CSS " +
      "body compressed with node:zlib at its default level, i.e. what a compressing server or proxy would " +
      "send. First visit = a fresh browser context loading the app until the login form is usable and the " +
      "network is idle. The service worker row counts the requests the worker makes while precaching.",
  );
  log();
  log("### Navigation start to usable login form");
  log();
  log("| load | runs | p50 ms | p90 ms | min ms | max ms |");
  log("|---|---|---|---|---|---|");
  for (const [name, xs] of [
    ["cold (fresh context, empty cache)", loads.cold],
    ["warm (reload under the service worker)", loads.warm],
  ] as const) {
    log(
      `| ${name} | ${xs.length} | ${ms(percentile(xs, 50))} | ${ms(percentile(xs, 90))} | ${ms(xs[0]!)} | ${ms(xs[xs.length - 1]!)} |`,
    );
  }
  log();
  log(
    "performance.now() in the page (0 = navigation start) when a MutationObserver first finds the " +
      "Username field visible and enabled and the Log in button enabled.",
  );
  log();
  log("### Send-to-display latency, alice → bob");
  log();
  log("| messages | p50 ms | p90 ms | min ms | max ms |");
  log("|---|---|---|---|---|");
  log(
    `| ${latency.length} | ${ms(percentile(latency, 50))} | ${ms(percentile(latency, 90))} | ${ms(latency[0]!)} | ${ms(latency[latency.length - 1]!)} |`,
  );
  log();
  log(
    "Two browser contexts (two people, each with their own IndexedDB) in a direct conversation. From the " +
      "click on Send in alice's page to the text appearing in bob's message log (MutationObserver), as " +
      "absolute time (performance.timeOrigin + performance.now()) in both pages. Messages go one at a " +
      "time: the next is sent once bob shows the previous one and alice shows it as Sent. Includes MLS " +
      "encryption, the encrypted IndexedDB writes on both sides, the gateway's durable enqueue and the " +
      "React render.",
  );
  return lines.join("\n") + "\n";
}

/** Writes the section into docs/benchmarks.md, leaving the other benchmarks' sections alone. */
function writeSection(section: string): Promise<void> {
  return writeBenchSection(join(root, "docs", "benchmarks.md"), SECTION, section);
}

async function main(): Promise<void> {
  if (!existsSync(join(webDist, "index.html"))) {
    execFileSync("npx", ["vite", "build", "--logLevel", "warn"], { cwd: root, stdio: "inherit" });
  }
  const gateway = await startGatewayProcess({ env: { QPQ_WEB_ROOT: webDist } });
  const browser = await chromium.launch({ ...config.use?.launchOptions, headless: true });
  try {
    console.error("measuring first-visit transfer…");
    const transfer = await measureTransfer(browser, gateway.baseUrl);
    console.error(`measuring ${loadCount} cold and ${loadCount} warm loads…`);
    const loads = await measureLoads(browser, gateway.baseUrl);
    console.error(`measuring latency over ${messageCount} messages…`);
    const latency = await measureLatency(browser, gateway.baseUrl);
    const section = report(browser.version(), transfer, loads, latency);
    console.log(section);
    if (write) {
      await writeSection(section);
      console.error("wrote docs/benchmarks.md");
    }
  } finally {
    await browser.close();
    await gateway.kill();
    gateway.cleanup();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
