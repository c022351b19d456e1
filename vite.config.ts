import { resolve } from "node:path";
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";
import { precompressDir } from "./scripts/precompress.ts";

/**
 * Every way of building (npm run build:web, npm test, npm start on a fresh clone) goes through Vite, so
 * the .br/.gz copies the gateway serves are made here rather than by a separate step one could forget.
 * closeBundle runs after Vite has also copied web/public, so the service worker and manifest are included.
 */
function precompress(): Plugin {
  let outDir = "";
  return {
    name: "qpq-precompress",
    apply: "build",
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    async closeBundle() {
      const r = await precompressDir(outDir);
      const kib = (n: number): string => (n / 1024).toFixed(1);
      this.info?.(
        `precompressed ${r.files} files: ${kib(r.raw)} KiB → br ${kib(r.br)} KiB, gzip ${kib(r.gzip)} KiB`,
      );
    },
  };
}

// The web app lives in web/ and is built into web/dist, which the gateway serves.
export default defineConfig({
  root: "web",
  plugins: [react(), precompress()],
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  server: {
    host: "127.0.0.1",
    port: 5173,
    // In development the gateway runs beside Vite (npm run dev); its HTTP endpoints are proxied so the
    // app finds the WebTransport URL exactly as in production.
    proxy: {
      "/.well-known": `http://127.0.0.1:${process.env.QPQ_HTTP_PORT ?? "8080"}`,
      "/healthz": `http://127.0.0.1:${process.env.QPQ_HTTP_PORT ?? "8080"}`,
    },
  },
});
