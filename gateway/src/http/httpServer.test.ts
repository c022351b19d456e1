/**
 * Static file serving by the real HTTP server, against a temporary web root precompressed by the same
 * script the web build uses. Raw node:http requests, so the bytes on the wire are checked undecoded.
 */
import { request, type IncomingHttpHeaders, type Server } from "node:http";
import { mkdtempSync, mkdirSync, realpathSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { precompressDir } from "../../../scripts/precompress.ts";
import { acceptedCodings, contentSecurityPolicy, startHttpServer } from "./httpServer.ts";
import type { DiscoveryDocument } from "./discovery.ts";

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let dir: string;
let root: string;
let server: Server;
let port: number;
let discovery: DiscoveryDocument | undefined;

const APP_JS = Buffer.from(
  Array.from({ length: 2000 }, (_, i) => `export const value${i} = "item ${i % 37}";\n`).join(""),
);
const INDEX_HTML = Buffer.from(
  `<!doctype html><html><head><script type="module" src="/assets/app-Ab12Cd34.js"></script></head>` +
    `<body>${"<div>shell</div>".repeat(50)}</body></html>`,
);
const SW_JS = Buffer.from(`self.addEventListener("fetch", () => {});\n`.repeat(40));
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);
const SECRET = "outside the web root";

function get(path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

function decoded(reply: Reply): Buffer {
  switch (reply.headers["content-encoding"]) {
    case "br":
      return brotliDecompressSync(reply.body);
    case "gzip":
      return gunzipSync(reply.body);
    case undefined:
      return reply.body;
    default:
      throw new Error(`unexpected Content-Encoding ${reply.headers["content-encoding"]}`);
  }
}

beforeAll(async () => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), "qpq-static-")));
  root = join(dir, "dist");
  mkdirSync(join(root, "assets"), { recursive: true });
  mkdirSync(join(root, "icons"));
  writeFileSync(join(root, "index.html"), INDEX_HTML);
  writeFileSync(join(root, "assets", "app-Ab12Cd34.js"), APP_JS);
  writeFileSync(join(root, "sw.js"), SW_JS);
  writeFileSync(join(root, "manifest.webmanifest"), JSON.stringify({ name: "quicproquo", icons: [] }));
  writeFileSync(join(root, "icons", "icon.png"), PNG);
  writeFileSync(join(dir, "secret.txt"), SECRET);
  await precompressDir(root);
  // Added after the build step: no variants, so identity whatever the client accepts.
  writeFileSync(join(root, "assets", "late-Zz98Yy76.js"), APP_JS);
  ({ server, port } = await startHttpServer("127.0.0.1", 0, {
    webRoot: root,
    discovery: () => discovery,
    health: () => ({ ok: true }),
  }));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe("acceptedCodings", () => {
  it.each([
    [undefined, []],
    ["", []],
    ["identity", []],
    ["gzip, deflate, br, zstd", ["br", "gzip"]],
    ["gzip", ["gzip"]],
    ["x-gzip", ["gzip"]],
    ["br", ["br"]],
    ["BR;Q=1", ["br"]],
    ["gzip;q=1.0, br;q=0.5", ["gzip", "br"]],
    ["br;q=0.8, gzip;q=0.8", ["br", "gzip"]],
    ["gzip, br;q=0", ["gzip"]],
    ["br;q=0.000, gzip;q=0", []],
    ["br ; q=0.001", ["br"]],
    ["*", ["br", "gzip"]],
    ["*;q=0.5, br;q=0", ["gzip"]],
    ["*;q=0", []],
    ["br;q=2, gzip;q=0.5", ["gzip"]],
    ["br;q=abc", []],
    ["br;q=0.5555", []],
    [" , ;q=1, gzip", ["gzip"]],
  ] as const)("%j → %j", (header, expected) => {
    expect(acceptedCodings(header)).toEqual(expected);
  });
});

describe("static files", () => {
  it("sends brotli when accepted, with the right headers and the original bytes", async () => {
    const reply = await get("/assets/app-Ab12Cd34.js", { "Accept-Encoding": "gzip, deflate, br" });
    expect(reply.status).toBe(200);
    expect(reply.headers["content-encoding"]).toBe("br");
    expect(reply.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(reply.headers.vary).toBe("Accept-Encoding");
    expect(reply.headers["content-length"]).toBe(String(reply.body.length));
    expect(reply.body.length).toBeLessThan(APP_JS.length / 4);
    expect(reply.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(reply.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(reply.headers["x-content-type-options"]).toBe("nosniff");
    expect(reply.headers["referrer-policy"]).toBe("no-referrer");
    expect(decoded(reply).equals(APP_JS)).toBe(true);
  });

  it.each([
    ["gzip, deflate", "gzip"],
    ["gzip, br;q=0", "gzip"],
    ["br;q=0.5, gzip;q=0.8", "gzip"],
    ["*;q=0.5, br;q=0", "gzip"],
    ["br;q=0.9, gzip", "gzip"],
    ["br;q=0.8, gzip;q=0.8", "br"],
    ["*", "br"],
    ["identity", undefined],
    ["br;q=0, gzip;q=0", undefined],
    ["deflate", undefined],
  ])("Accept-Encoding %j → %s", async (accept, coding) => {
    const reply = await get("/assets/app-Ab12Cd34.js", { "Accept-Encoding": accept });
    expect(reply.status).toBe(200);
    expect(reply.headers["content-encoding"]).toBe(coding);
    expect(reply.headers.vary).toBe("Accept-Encoding");
    expect(reply.headers["content-length"]).toBe(String(reply.body.length));
    expect(decoded(reply).equals(APP_JS)).toBe(true);
  });

  it("sends identity to a client without Accept-Encoding", async () => {
    const reply = await get("/assets/app-Ab12Cd34.js");
    expect(reply.headers["content-encoding"]).toBeUndefined();
    expect(reply.headers.vary).toBe("Accept-Encoding");
    expect(reply.body.equals(APP_JS)).toBe(true);
  });

  it("falls back to identity where no precompressed copy exists", async () => {
    const late = await get("/assets/late-Zz98Yy76.js", { "Accept-Encoding": "br, gzip" });
    expect(late.status).toBe(200);
    expect(late.headers["content-encoding"]).toBeUndefined();
    expect(late.headers["content-length"]).toBe(String(APP_JS.length));
    expect(late.body.equals(APP_JS)).toBe(true);

    const png = await get("/icons/icon.png", { "Accept-Encoding": "br, gzip" });
    expect(png.status).toBe(200);
    expect(png.headers["content-encoding"]).toBeUndefined();
    expect(png.headers["content-type"]).toBe("image/png");
    expect(png.headers["cache-control"]).toBe("no-cache");
    expect(png.body.equals(PNG)).toBe(true);
  });

  it("ignores a precompressed copy older than its original", async () => {
    const file = join(root, "stale", "edited.js");
    mkdirSync(join(root, "stale"));
    writeFileSync(file, APP_JS);
    await precompressDir(join(root, "stale"));
    const edited = Buffer.from("export const edited = true;\n".repeat(100));
    writeFileSync(file, edited);
    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);
    const reply = await get("/stale/edited.js", { "Accept-Encoding": "br, gzip" });
    expect(reply.headers["content-encoding"]).toBeUndefined();
    expect(reply.body.equals(edited)).toBe(true);
  });

  it("keeps the app shell, service worker and manifest revalidated, compressed too", async () => {
    for (const path of ["/", "/index.html", "/chat/some-route", "/assets/..%2findex.html"]) {
      const reply = await get(path, { "Accept-Encoding": "br" });
      expect(reply.status, path).toBe(200);
      expect(reply.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(reply.headers["cache-control"]).toBe("no-cache");
      expect(reply.headers["content-encoding"]).toBe("br");
      expect(decoded(reply).equals(INDEX_HTML)).toBe(true);
    }
    const sw = await get("/sw.js", { "Accept-Encoding": "gzip" });
    expect(sw.headers["cache-control"]).toBe("no-cache");
    expect(sw.headers["content-encoding"]).toBe("gzip");
    expect(decoded(sw).equals(SW_JS)).toBe(true);
    const manifest = await get("/manifest.webmanifest", { "Accept-Encoding": "br" });
    expect(manifest.status).toBe(200);
    expect(manifest.headers["content-type"]).toBe("application/manifest+json");
    expect(manifest.headers["cache-control"]).toBe("no-cache");
  });

  it("never serves a .br or .gz copy as a resource of its own", async () => {
    for (const path of ["/assets/app-Ab12Cd34.js.br", "/assets/app-Ab12Cd34.js.gz", "/index.html.br"]) {
      const reply = await get(path, { "Accept-Encoding": "br, gzip" });
      expect(reply.status, path).toBe(404);
      expect(reply.headers["content-encoding"]).toBeUndefined();
    }
  });

  it("refuses paths outside the web root", async () => {
    for (const path of [
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/..%2fsecret.txt",
      "/assets/..%2f..%2fsecret.txt",
    ]) {
      const reply = await get(path, { "Accept-Encoding": "br, gzip" });
      expect(decoded(reply).toString(), path).not.toContain(SECRET);
      expect(reply.status === 404 || decoded(reply).equals(INDEX_HTML), path).toBe(true);
    }
  });

  it("answers If-None-Match with 304, per representation", async () => {
    const br = await get("/assets/app-Ab12Cd34.js", { "Accept-Encoding": "br" });
    const gzip = await get("/assets/app-Ab12Cd34.js", { "Accept-Encoding": "gzip" });
    const identity = await get("/assets/app-Ab12Cd34.js");
    const tags = [br, gzip, identity].map((r) => r.headers.etag);
    for (const tag of tags) expect(tag).toMatch(/^"[\w-]+"$/);
    expect(new Set(tags).size).toBe(3);

    const etag = br.headers.etag!;
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const reply = await get("/assets/app-Ab12Cd34.js", {
        "Accept-Encoding": "br",
        "If-None-Match": ifNoneMatch,
      });
      expect(reply.status, ifNoneMatch).toBe(304);
      expect(reply.body.length).toBe(0);
      expect(reply.headers.etag).toBe(etag);
      expect(reply.headers.vary).toBe("Accept-Encoding");
      expect(reply.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    }
    // The brotli tag does not validate the gzip representation.
    const other = await get("/assets/app-Ab12Cd34.js", { "Accept-Encoding": "gzip", "If-None-Match": etag });
    expect(other.status).toBe(200);
    expect(other.headers.etag).toBe(gzip.headers.etag);

    const shell = await get("/", { "Accept-Encoding": "br" });
    const revalidated = await get("/", { "Accept-Encoding": "br", "If-None-Match": shell.headers.etag! });
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers["cache-control"]).toBe("no-cache");
  });

  it("answers HEAD with the GET headers and no body", async () => {
    const get1 = await get("/assets/app-Ab12Cd34.js", { "Accept-Encoding": "br" });
    const head = await get("/assets/app-Ab12Cd34.js", { "Accept-Encoding": "br" }, "HEAD");
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers["content-length"]).toBe(get1.headers["content-length"]);
    expect(head.headers["content-encoding"]).toBe("br");
    expect(head.headers.etag).toBe(get1.headers.etag);
  });
});

describe("content security policy", () => {
  const connectSrc = (csp: string) =>
    csp
      .split(";")
      .map((d) => d.trim())
      .find((d) => d.startsWith("connect-src "))!
      .split(" ")
      .slice(1);

  it("lets the page connect only to itself and the gateway's WebTransport origin", async () => {
    discovery = {
      protocolVersion: 2,
      webtransport: "https://gw.example:4433/wt",
      certificateHashes: [],
    };
    try {
      for (const path of ["/", "/assets/app-Ab12Cd34.js", "/healthz", "/missing.js"]) {
        const reply = await get(path);
        expect(connectSrc(String(reply.headers["content-security-policy"])), path).toEqual([
          "'self'",
          "https://gw.example:4433",
        ]);
      }
    } finally {
      discovery = undefined;
    }
    // Before the endpoint is up there is nothing to connect to but the page's own origin.
    expect(connectSrc(String((await get("/")).headers["content-security-policy"]))).toEqual(["'self'"]);
  });

  it("names IPv6 and default-port origins exactly, and never a bare scheme", () => {
    const doc = (webtransport: string) => ({ protocolVersion: 2, webtransport, certificateHashes: [] });
    expect(connectSrc(contentSecurityPolicy(doc("https://[2001:db8::1]:4433/wt")))).toEqual([
      "'self'",
      "https://[2001:db8::1]:4433",
    ]);
    expect(connectSrc(contentSecurityPolicy(doc("https://chat.example/wt")))).toEqual([
      "'self'",
      "https://chat.example",
    ]);
    expect(connectSrc(contentSecurityPolicy(doc("not a url")))).toEqual(["'self'"]);
    expect(connectSrc(contentSecurityPolicy(doc("http://gw.example:4433/wt")))).toEqual(["'self'"]);
  });
});
