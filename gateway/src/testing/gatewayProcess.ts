/**
 * Starts the real gateway (gateway/src/main.ts) as a child process on random loopback ports, for
 * integration tests, benchmarks and the Playwright setup. No mocks: the child is what `npm start` runs.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "main.ts");

export interface GatewayProcess {
  readonly httpPort: number;
  readonly wtPort: number;
  readonly baseUrl: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Everything the child wrote to stderr so far (logs), for failure messages. */
  logs(): string;
  /** Sends a signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Removes the temporary data directory (after kill). */
  cleanup(): void;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Reuse a data directory (to restart on the same state); a fresh temp dir otherwise. */
  dataDir?: string;
  host?: string;
  /** Fixed ports (to restart where clients expect it); 0 = random. */
  httpPort?: number;
  wtPort?: number;
  timeoutMs?: number;
  /** Extra Node flags for the child, e.g. ["--cpu-prof"] when profiling a benchmark. */
  nodeArgs?: string[];
}

export async function startGatewayProcess(opts: StartOptions = {}): Promise<GatewayProcess> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "qpq-gw-"));
  const host = opts.host ?? "127.0.0.1";
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), "--import", "tsx", MAIN], {
    env: {
      ...process.env,
      QPQ_HOST: host,
      QPQ_HTTP_PORT: String(opts.httpPort ?? 0),
      QPQ_WT_PORT: String(opts.wtPort ?? 0),
      QPQ_DATA_DIR: dataDir,
      QPQ_LOG_LEVEL: process.env.QPQ_LOG_LEVEL ?? "warn",
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-64 * 1024);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const ready = await new Promise<{ httpPort: number; wtPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`gateway did not start within ${opts.timeoutMs ?? 30_000} ms:\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      if (!line.startsWith("QPQ_READY ")) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice("QPQ_READY ".length)) as { httpPort: number; wtPort: number });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before it was ready:\n${stderr}`));
    });
  });

  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    httpPort: ready.httpPort,
    wtPort: ready.wtPort,
    baseUrl: `http://${urlHost}:${ready.httpPort}`,
    dataDir,
    child,
    logs: () => stderr,
    async kill(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
    cleanup() {
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
