// `npm run dev`: the gateway plus Vite's dev server with hot reload. Vite proxies the gateway's HTTP
// endpoints, so the app at http://127.0.0.1:5173 discovers the gateway as it would in production.
import { spawn } from "node:child_process";
import { ensureNodeModules, root } from "./ensure.mjs";

ensureNodeModules();
const children = [
  spawn(process.execPath, ["--import", "tsx", "gateway/src/main.ts"], { cwd: root, stdio: "inherit" }),
  spawn("npx", ["vite"], { cwd: root, stdio: "inherit" }),
];
const stop = (signal) => {
  for (const child of children) child.kill(signal);
};
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => stop(signal));
for (const child of children) {
  child.on("exit", (code) => {
    stop("SIGTERM");
    process.exit(code ?? 0);
  });
}
