/**
 * The gateway's HTTP side: the web app's static files (precompressed at build time, negotiated per
 * request), the discovery document, a health probe and
 * ACME HTTP-01 challenge answers.
 * Everything else (the messenger protocol) runs over WebTransport on the UDP port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createHash } from "node:crypto";
import type { Stats } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import type { AddressInfo } from "node:net";
import type { DiscoveryDocument } from "./discovery.ts";

export interface HttpDeps {
  webRoot: string;
  /** undefined while the WebTransport endpoint is not up yet (waiting for its first certificate). */
  discovery: () => DiscoveryDocument | undefined;
  health: () => Record<string, unknown>;
  /** The key authorization for an open ACME HTTP-01 challenge token. */
  acmeChallenge?: (token: string) => string | undefined;
}

const ACME_CHALLENGE_PREFIX = "/.well-known/acme-challenge/";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".wasm": "application/wasm",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * The OPAQUE WASM is compiled at run time, hence 'wasm-unsafe-eval'; nothing else is loosened and no
 * third-party origin is allowed. The page talks to two origins only: its own ('self': discovery) and
 * the WebTransport endpoint, an https origin on another port. That one is named exactly: "https:"
 * would let injected script send what it read to any https server.
 */
export function contentSecurityPolicy(discovery: DiscoveryDocument | undefined): string {
  const connect = ["'self'"];
  const webtransport = discovery && webTransportOrigin(discovery.webtransport);
  if (webtransport) connect.push(webtransport);
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connect.join(" ")}`,
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join("; ");
}

/** The origin of the WebTransport URL, or undefined when it is not an https URL. */
function webTransportOrigin(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

const SECURITY_HEADERS: Record<string, string> = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
};

/**
 * Set on every response before anything else, so that each path (errors included) has them. The CSP
 * is computed per request: the endpoint's origin is known only once it is up (and its port may be 0
 * until then).
 */
function setSecurityHeaders(deps: HttpDeps, res: ServerResponse): void {
  res.setHeader("Content-Security-Policy", contentSecurityPolicy(deps.discovery()));
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
}

const PLACEHOLDER = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>quicproquo</title></head>
<body><main><h1>quicproquo gateway</h1><p>The gateway is running. The web app has not been built yet
(<code>npm run build:web</code>).</p></main></body></html>`;

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store" });
  res.end(body);
}

type Coding = "br" | "gzip";

/** The file suffix of each precompressed variant (scripts/precompress.ts writes them at build time). */
const VARIANT_SUFFIX: Record<Coding, string> = { br: ".br", gzip: ".gz" };

/** On equal q the smaller encoding wins: brotli at maximum quality beats gzip on this app's code. */
const CODING_PREFERENCE: readonly Coding[] = ["br", "gzip"];

/** RFC 9110 qvalue: at most three decimals, never above 1. */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * The content codings the client accepts, best first, from an Accept-Encoding header. Only br and gzip
 * matter, as those are the only precompressed variants; identity is always acceptable to us, because
 * answering 406 to a client that refuses identity would help nobody. A malformed q counts as 0, so a
 * garbled header falls back to the uncompressed file instead of bytes the client may not decode.
 */
export function acceptedCodings(header: string | undefined): Coding[] {
  // No header at all formally allows any coding, but clients that omit it are typically simple tools
  // that would be surprised by compressed bytes.
  if (header === undefined) return [];
  const weights = new Map<string, number>();
  for (const entry of header.split(",")) {
    const [name = "", ...params] = entry.split(";");
    let coding = name.trim().toLowerCase();
    if (!coding) continue;
    // RFC 9110 asks recipients to treat x-gzip as gzip.
    if (coding === "x-gzip") coding = "gzip";
    let weight = 1;
    for (const param of params) {
      const eq = param.indexOf("=");
      if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== "q") continue;
      const value = param.slice(eq + 1).trim();
      weight = QVALUE.test(value) ? Number(value) : 0;
    }
    weights.set(coding, weight);
  }
  const wildcard = weights.get("*") ?? 0;
  return CODING_PREFERENCE.map((coding) => ({ coding, weight: weights.get(coding) ?? wildcard }))
    .filter(({ weight }) => weight > 0)
    .sort((a, b) => b.weight - a.weight) // stable: ties keep CODING_PREFERENCE order
    .map(({ coding }) => coding);
}

/** If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ prefixes do not matter. */
function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}

/**
 * Strong ETags are hashes of the bytes actually sent, so each representation (br, gzip, identity) has
 * its own. Keyed by file identity and modification so a rebuilt file is hashed again, and so a 304 needs
 * no read. Bounded, since every deploy brings new file names.
 */
const etagCache = new Map<string, string>();
const ETAG_CACHE_MAX = 1024;

function etagKey(path: string, info: Stats): string {
  return `${path}\0${info.size}\0${info.mtimeMs}\0${info.ino}`;
}

function etagOf(body: Uint8Array): string {
  return `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
}

const STALE_SLACK_MS = 2_000;

interface Representation {
  path: string;
  info: Stats;
  coding?: Coding;
}

/**
 * The precompressed variant to send, or the file itself. A variant clearly older than its original is
 * ignored: the original was changed after the build, and the variant would send stale code. The slack
 * keeps compression working after a copy that does not preserve times (cp -r writes a file and its
 * variants in directory order, milliseconds apart), while a hand edit comes much later than that.
 */
async function chooseRepresentation(file: string, info: Stats, accepted: Coding[]): Promise<Representation> {
  for (const coding of accepted) {
    const path = file + VARIANT_SUFFIX[coding];
    const variant = await stat(path).catch(() => undefined);
    if (variant?.isFile() && variant.mtimeMs >= info.mtimeMs - STALE_SLACK_MS)
      return { path, info: variant, coding };
  }
  return { path: file, info };
}

async function serveStatic(
  root: string,
  urlPath: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return false;
  }
  const file = normalize(join(root, decoded === "/" ? "index.html" : decoded));
  if (file !== root && !file.startsWith(root + sep)) return false;
  // The .br/.gz files are encodings of another resource, not resources of their own: served directly
  // they would go out with a wrong type (or be decoded by the browser into the wrong file).
  const ext = extname(file);
  if (ext === VARIANT_SUFFIX.br || ext === VARIANT_SUFFIX.gzip) return false;
  try {
    const info = await stat(file);
    if (!info.isFile()) return false;
    const rep = await chooseRepresentation(file, info, acceptedCodings(req.headers["accept-encoding"]));
    const key = etagKey(rep.path, rep.info);
    let body: Buffer | undefined;
    let etag = etagCache.get(key);
    if (etag === undefined) {
      body = await readFile(rep.path);
      etag = etagOf(body);
      if (etagCache.size >= ETAG_CACHE_MAX) etagCache.clear();
      etagCache.set(key, etag);
    }
    // Vite fingerprints everything under assets/: those can be cached forever; the rest (index.html,
    // sw.js, the manifest) must be revalidated, or a deploy and service worker updates would not show.
    // Decided on the resolved file, so an encoded "/assets/..%2findex.html" cannot pin the shell forever.
    const immutable = file.startsWith(join(root, "assets") + sep);
    const headers: Record<string, string> = {
      "Cache-Control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
      // Sent even for identity: a shared cache must not hand this response to a client that negotiated
      // differently.
      Vary: "Accept-Encoding",
      ETag: etag,
    };
    if (noneMatch(req.headers["if-none-match"], etag)) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    body ??= await readFile(rep.path);
    headers["Content-Type"] = TYPES[ext] ?? "application/octet-stream";
    headers["Content-Length"] = String(body.length);
    if (rep.coding) headers["Content-Encoding"] = rep.coding;
    res.writeHead(200, headers);
    res.end(body);
    return true;
  } catch {
    return false;
  }
}

async function handle(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  setSecurityHeaders(deps, res);
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(res, 405, "text/plain", "method not allowed");
    return;
  }
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  if (path === "/healthz") {
    send(res, 200, "application/json", JSON.stringify(deps.health()));
    return;
  }
  if (path === "/.well-known/qpq.json") {
    res.setHeader("Access-Control-Allow-Origin", "*");
    const document = deps.discovery();
    if (document) send(res, 200, "application/json", JSON.stringify(document));
    else send(res, 503, "text/plain", "the WebTransport endpoint is waiting for its certificate");
    return;
  }
  if (path.startsWith(ACME_CHALLENGE_PREFIX)) {
    const answer = deps.acmeChallenge?.(path.slice(ACME_CHALLENGE_PREFIX.length));
    if (answer) send(res, 200, "application/octet-stream", answer);
    else send(res, 404, "text/plain", "not found");
    return;
  }
  if (await serveStatic(deps.webRoot, path, req, res)) return;
  // Client-side routes fall back to the app shell; without a built app, to a placeholder.
  if (!extname(path) && (await serveStatic(deps.webRoot, "/index.html", req, res))) return;
  if (!extname(path)) {
    send(res, 200, "text/html; charset=utf-8", PLACEHOLDER);
    return;
  }
  send(res, 404, "text/plain", "not found");
}

export async function startHttpServer(
  host: string,
  port: number,
  deps: HttpDeps,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    handle(deps, req, res).catch(() => {
      if (!res.headersSent) send(res, 500, "text/plain", "internal error");
      else res.destroy();
    });
  });
  // Bound so a slow or idle client cannot hold sockets forever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
