// `npm start`: the messenger on a fresh clone: installs packages, builds the web app if needed, and
// runs the gateway (WebTransport + HTTP, embedded SQLite under QPQ_DATA_DIR).
import { spawn } from "node:child_process";
import { ensureNodeModules, ensureWebBuild, root } from "./ensure.mjs";

ensureNodeModules();
ensureWebBuild();
const child = spawn(process.execPath, ["--import", "tsx", "gateway/src/main.ts"], {
  cwd: root,
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
