/**
 * Runs the real `qpq` executable (cli/bin/qpq.mjs) as a child process, as a person or a script
 * would: for the CLI's integration tests and the Playwright CLI scenario.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const QPQ_BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "qpq.mjs");

export interface QpqResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface QpqRunOptions {
  stdin?: string;
  env?: Record<string, string>;
}

function start(args: string[], opts: QpqRunOptions): ChildProcess {
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  // A password in the test runner's environment must not leak into a test that expects a prompt.
  if (!opts.env?.QPQ_PASSWORD) delete env.QPQ_PASSWORD;
  return spawn(process.execPath, [QPQ_BIN, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
}

export function runQpq(args: string[], opts: QpqRunOptions = {}): Promise<QpqResult> {
  const child = start(args, opts);
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  child.stdin!.end(opts.stdin ?? "");
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A long-running qpq (recv --follow) whose stdout lines can be awaited one by one. */
export class QpqFollower {
  private readonly lines: string[] = [];
  private readonly waiters: (() => void)[] = [];
  private stderrText = "";
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      this.lines.push(line);
      for (const wake of this.waiters.splice(0)) wake();
    });
    child.stderr!.setEncoding("utf8").on("data", (c: string) => {
      this.stderrText += c;
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.exited = new Promise((resolve) => child.once("close", (code) => resolve(code)));
    void this.exited.then(() => {
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static start(args: string[], opts: QpqRunOptions = {}): QpqFollower {
    const child = start(args, opts);
    child.stdin!.end(opts.stdin ?? "");
    return new QpqFollower(child);
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** Resolves with the first output line that matches (consuming it and those before it). */
  async nextLine(matches: (line: string) => boolean = () => true): Promise<string> {
    for (;;) {
      const index = this.lines.findIndex(matches);
      if (index >= 0) return this.lines.splice(0, index + 1).pop()!;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`qpq exited before printing the expected line; stderr:\n${this.stderrText}`);
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Resolves once stderr contains text (e.g. the "online" notice). */
  async stderrContains(text: string): Promise<void> {
    while (!this.stderrText.includes(text)) {
      if (this.child.exitCode !== null) throw new Error(`qpq exited; stderr:\n${this.stderrText}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async stop(): Promise<number | null> {
    this.child.kill("SIGINT");
    return this.exited;
  }
}
