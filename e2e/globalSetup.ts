import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startGatewayProcess } from "@qpq/gateway/testing";

const root = join(fileURLToPath(new URL(".", import.meta.url)), "..");

/** Builds the web app when it is missing (QPQ_E2E_BUILD=1 forces it) and starts one real gateway on random loopback ports for all scenarios. */
export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!existsSync(join(root, "web", "dist", "index.html")) || process.env.QPQ_E2E_BUILD === "1") {
    execFileSync("npx", ["vite", "build", "--logLevel", "warn"], { cwd: root, stdio: "inherit" });
  }
  const gateway = await startGatewayProcess({
    env: {
      QPQ_WEB_ROOT: join(root, "web", "dist"),
      // Every actor of every scenario registers from 127.0.0.1: the default 20 per address would make
      // the suite fail once it grows past that. The limit itself is tested in gateway/test.
      QPQ_REGISTER_PER_ADDRESS: "1000/1000",
    },
  });
  process.env.QPQ_E2E_BASE_URL = gateway.baseUrl;
  process.env.QPQ_E2E_DATA_DIR = gateway.dataDir;
  process.env.QPQ_E2E_HTTP_PORT = String(gateway.httpPort);
  process.env.QPQ_E2E_WT_PORT = String(gateway.wtPort);
  return async () => {
    await gateway.kill();
    gateway.cleanup();
  };
}
