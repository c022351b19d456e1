/**
 * The gateway's HTTP side: the web app's static files, the discovery document, a health probe and
 * ACME HTTP-01 challenge answers.
 * Everything else (the messenger protocol) runs over WebTransport on the UDP port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
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
 * third-party origin is allowed. connect-src needs https: because WebTransport URLs are https URLs on
 * another port (a different origin than this page).
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' https:",
  "worker-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
};

const PLACEHOLDER = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>quicproquo</title></head>
<body><main><h1>quicproquo gateway</h1><p>The gateway is running. The web app has not been built yet
(<code>npm run build:web</code>).</p></main></body></html>`;

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Uint8Array,
  cache = "no-store",
): void {
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": type, "Cache-Control": cache });
  res.end(body);
}

async function serveStatic(root: string, urlPath: string, res: ServerResponse): Promise<boolean> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return false;
  }
  const file = normalize(join(root, decoded === "/" ? "index.html" : decoded));
  if (file !== root && !file.startsWith(root + sep)) return false;
  try {
    const info = await stat(file);
    if (!info.isFile()) return false;
    const body = await readFile(file);
    // Vite fingerprints everything under assets/: those can be cached forever; the rest must revalidate.
    const immutable = decoded.startsWith("/assets/");
    send(
      res,
      200,
      TYPES[extname(file)] ?? "application/octet-stream",
      body,
      immutable ? "public, max-age=31536000, immutable" : "no-cache",
    );
    return true;
  } catch {
    return false;
  }
}

async function handle(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
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
  if (await serveStatic(deps.webRoot, path, res)) return;
  // Client-side routes fall back to the app shell; without a built app, to a placeholder.
  if (!extname(path) && (await serveStatic(deps.webRoot, "/index.html", res))) return;
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
