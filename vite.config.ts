import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The web app lives in web/ and is built into web/dist, which the gateway serves.
export default defineConfig({
  root: "web",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  server: { host: "127.0.0.1", port: 5173 },
});
