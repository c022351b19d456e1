// Installs what the project needs on a fresh clone: npm packages from the lock file, and (as root on
// Debian) the system packages the tests use. Shared by `npm start` and `npm test`.
import { execFileSync, execSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function run(cmd, args, opts = {}) {
  console.log(`$ ${cmd} ${args.join(" ")}`);
  execFileSync(cmd, args, { cwd: root, stdio: "inherit", ...opts });
}

function has(bin) {
  try {
    execSync(`command -v ${bin}`, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** npm ci when node_modules is missing or older than the lock file. */
export function ensureNodeModules() {
  const marker = join(root, "node_modules", ".package-lock.json");
  const lock = join(root, "package-lock.json");
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  run("npm", ["ci", "--no-audit", "--no-fund"]);
}

let aptUpdated = false;
/** apt-get install when a binary is missing and we may (root on Debian); returns whether it is there. */
export function ensureDebianPackage(bin, pkg) {
  if (has(bin)) return true;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || !has("apt-get")) {
    console.warn(`note: ${bin} is missing (Debian package ${pkg}); install it to run everything`);
    return false;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  if (!aptUpdated) {
    run("apt-get", ["update", "-qq"], { env });
    aptUpdated = true;
  }
  run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", pkg], { env });
  return has(bin);
}

/** Builds the web app when its output is missing. */
export function ensureWebBuild() {
  if (existsSync(join(root, "web", "dist", "index.html"))) return;
  if (!existsSync(join(root, "web", "index.html"))) return;
  run("npm", ["run", "build:web"]);
}
