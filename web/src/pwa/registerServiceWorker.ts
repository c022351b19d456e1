/// <reference types="vite/client" />

/**
 * Registers the service worker (web/public/sw.js, served at /sw.js) that keeps the app shell cached so
 * the app opens offline. Call once at start-up; it never throws.
 *
 * Skipped in `vite dev`: a worker caching the dev server's unbundled modules would serve stale code.
 * Registration waits for the window's load event so the worker's precaching does not compete with the
 * first page load for bandwidth.
 */
export function registerServiceWorker(): void {
  if (import.meta.env.DEV) return;
  if (typeof window === "undefined" || !("serviceWorker" in navigator)) return;

  const register = (): void => {
    navigator.serviceWorker
      // updateViaCache "none": always check /sw.js itself with the server, never the HTTP cache.
      .register("/sw.js", { scope: "/", updateViaCache: "none" })
      .catch((error: unknown) => {
        console.warn("quicproquo: service worker registration failed; offline start unavailable", error);
      });
  };

  if (document.readyState === "complete") register();
  else window.addEventListener("load", register, { once: true });
}
