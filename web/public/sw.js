/**
 * quicproquo service worker: keeps the app shell (index.html plus Vite's built assets, the manifest and
 * the icons) in Cache Storage so the app opens offline. It caches code and static files only; messages
 * and keys live in IndexedDB, and the messenger protocol runs over WebTransport, which never passes
 * through a service worker.
 *
 * This file is copied verbatim from web/public/, so its bytes do not change when the app is rebuilt and
 * the browser will not reinstall it on a deploy. Updates roll out instead through the shell refresh
 * below: every successfully fetched index.html re-precaches the assets it references, ready for the next
 * load. Bump CACHE_VERSION only when this file's caching scheme changes.
 */

const CACHE_VERSION = "v1";
const CACHE_PREFIX = "qpq-shell-";
const CACHE_NAME = CACHE_PREFIX + CACHE_VERSION;

/** The cache key of the app shell (index.html); the gateway serves it for "/". */
const SHELL_URL = "/";

/** How long a navigation waits for the network before showing the cached shell. */
const NAVIGATION_TIMEOUT_MS = 3000;

/** Live data: always straight from the network, never cached. */
const NEVER_CACHE = new Set(["/.well-known/qpq.json", "/healthz"]);

/** Same-origin static files that are not fingerprinted: served from cache, revalidated behind. */
const isRevalidated = (path) => path === "/manifest.webmanifest" || path.startsWith("/icons/");

/** Vite puts hashed file names under /assets/, so a cached copy never goes stale. */
const isFingerprinted = (path) => path.startsWith("/assets/");

// ---------------------------------------------------------------------------------------------------
// Finding what the shell needs.

/**
 * Same-origin URLs referenced by the HTML's src/href attributes that are worth precaching: built
 * assets (entry script, stylesheets, module preloads), the manifest and the icons. A regex is enough for
 * Vite's generated HTML, and there is no DOMParser in a worker.
 */
function shellUrlsIn(html) {
  const urls = new Set();
  for (const match of html.matchAll(/\s(?:src|href)\s*=\s*["']([^"']+)["']/gi)) {
    const url = new URL(match[1], self.location.origin);
    if (url.origin !== self.location.origin) continue;
    if (isFingerprinted(url.pathname) || isRevalidated(url.pathname)) urls.add(url.pathname);
  }
  return urls;
}

/**
 * Built files that scripts or stylesheets reference but the HTML does not: lazily imported chunks
 * (`import("./chunk-hash.js")`), the preload map ("assets/chunk-hash.js"), WASM, fonts. Vite writes
 * them all flat into /assets/, so either spelling names /assets/<file>. Precaching them means a feature
 * first used while offline still works. A false match only costs a failed fetch: see below.
 */
function assetUrlsIn(text) {
  const urls = new Set();
  for (const match of text.matchAll(/(?:\.\/|assets\/)([\w.-]+\.(?:js|css|wasm|woff2?|png|svg|webp))\b/g)) {
    urls.add("/assets/" + match[1]);
  }
  return urls;
}

/** Fetches one URL into the cache unless it is already there; returns the response body text. */
async function cacheOne(cache, url) {
  let response = await cache.match(url);
  if (!response) {
    // Built assets are fingerprinted and immutable: the HTTP cache copy from the page's own load is
    // exactly right, so do not download them again. Everything else must be revalidated.
    response = await fetch(url, { cache: url.startsWith("/assets/") ? "default" : "no-cache" });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    await cache.put(url, response.clone());
  }
  const type = response.headers.get("Content-Type") ?? "";
  return /javascript|css/.test(type) ? response.text() : "";
}

/**
 * Stores a freshly fetched index.html and everything it needs. The HTML's own references must all load
 * (or the shell would be broken offline, so the caller keeps the previous one); files discovered inside
 * scripts are best effort. Then drops built assets the new shell no longer uses, so the cache does not
 * grow with every deploy.
 */
async function precacheShell(html, response) {
  const cache = await caches.open(CACHE_NAME);
  const needed = new Set(shellUrlsIn(html));
  const direct = await Promise.all(
    [...needed].map((url) => cacheOne(cache, url).then((text) => ({ url, text }))),
  );

  // Follow references from scripts and stylesheets, transitively (chunks import chunks).
  const pending = [...direct];
  while (pending.length > 0) {
    const { text } = pending.pop();
    for (const url of assetUrlsIn(text)) {
      if (needed.has(url)) continue;
      needed.add(url);
      try {
        pending.push({ url, text: await cacheOne(cache, url) });
      } catch {
        needed.delete(url);
      }
    }
  }

  // Only now replace the shell: its assets are all in place.
  await cache.put(SHELL_URL, response);

  for (const request of await cache.keys()) {
    const path = new URL(request.url).pathname;
    if (isFingerprinted(path) && !needed.has(path)) await cache.delete(request);
  }
}

/**
 * Treats a navigation response as the app shell only if it is the built app: a successful same-origin
 * HTML page that loads a script from /assets/ (not the gateway's "web app not built" placeholder).
 */
async function refreshShellFrom(response) {
  if (!response.ok || response.type !== "basic" || response.redirected) return;
  if (!(response.headers.get("Content-Type") ?? "").startsWith("text/html")) return;
  const html = await response.clone().text();
  if (!/<script[^>]+src=["']\/assets\//i.test(html)) return;
  await precacheShell(html, response);
}

// ---------------------------------------------------------------------------------------------------
// Lifecycle.

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const response = await fetch(SHELL_URL, { cache: "no-cache" });
      await refreshShellFrom(response);
      // Take over at once: a page runs fine under a newer worker because the caches are keyed by URL.
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME) await caches.delete(name);
      }
      // Control the page that registered us, so it works offline without a reload first.
      await self.clients.claim();
    })(),
  );
});

// ---------------------------------------------------------------------------------------------------
// Requests.

self.addEventListener("fetch", (event) => {
  const { request } = event;
  // Only plain same-origin GETs; anything else (POSTs, other origins, Range requests for media) is
  // left to the browser untouched.
  if (request.method !== "GET" || request.headers.has("Range")) return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || NEVER_CACHE.has(url.pathname)) return;

  if (request.mode === "navigate") {
    // Like the gateway, only extension-less paths are app routes; a direct visit to a file is not.
    const lastSegment = url.pathname.slice(url.pathname.lastIndexOf("/") + 1);
    if (url.pathname === "/index.html" || !lastSegment.includes(".")) {
      event.respondWith(networkFirstShell(event, request));
    }
  } else if (isFingerprinted(url.pathname)) {
    event.respondWith(cacheFirst(request));
  } else if (isRevalidated(url.pathname)) {
    event.respondWith(staleWhileRevalidate(event, request));
  }
});

/**
 * Navigations: the network wins if it answers within NAVIGATION_TIMEOUT_MS, so a deploy shows up at
 * once; otherwise (offline, gateway down or very slow, 5xx from a proxy) the cached shell is shown and
 * the app reconnects by itself. A late network answer still refreshes the cache for the next load.
 */
async function networkFirstShell(event, request) {
  const fetched = fetch(request);
  const network = fetched.then((response) => {
    if (response.status >= 500) throw new Error(`HTTP ${response.status}`);
    return response;
  });
  // Cloned before the page can read the body; waitUntil keeps the worker alive for the refresh even
  // when the cached shell answered first.
  event.waitUntil(network.then((response) => refreshShellFrom(response.clone())).catch(() => {}));
  const timeout = new Promise((resolve) => setTimeout(resolve, NAVIGATION_TIMEOUT_MS));
  try {
    const response = await Promise.race([network, timeout]);
    if (response) return response;
  } catch {
    // Offline or server error: fall through to the cache.
  }
  // Nothing cached yet (first visit while offline): the browser shows its own error, or the 5xx.
  return (await caches.match(SHELL_URL)) ?? fetched;
}

/** Built assets never change under the same name: a cached copy is always right. */
async function cacheFirst(request) {
  const cached = await caches.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.type === "basic") {
    const copy = response.clone();
    const cache = await caches.open(CACHE_NAME);
    await cache.put(request, copy);
  }
  return response;
}

/** Manifest and icons: answer from cache at once, fetch a fresh copy for next time. */
async function staleWhileRevalidate(event, request) {
  const network = fetch(request).then(async (response) => {
    if (response.ok && response.type === "basic") {
      const copy = response.clone(); // before the page may consume the body
      const cache = await caches.open(CACHE_NAME);
      await cache.put(request, copy);
    }
    return response;
  });
  event.waitUntil(network.catch(() => {}));
  return (await caches.match(request)) ?? network;
}
