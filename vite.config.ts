import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The web app lives in web/ and is built into web/dist, which the gateway serves.
export default defineConfig({
  root: "web",
  plugins: [react()],
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
