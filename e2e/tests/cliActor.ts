import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "@playwright/test";
import { QpqFollower, runQpq } from "@qpq/cli/testing";
import { baseUrl, uniqueName } from "./actors.ts";

export interface CliMessage {
  conversation: string;
  title: string;
  sender: string;
  text: string;
}

/** A person using the `qpq` command-line client (the real executable) with their own state directory. */
export class CliActor {
  readonly state = mkdtempSync(join(tmpdir(), "qpq-e2e-cli-"));
  readonly password: string;
  private follower: QpqFollower | undefined;

  constructor(
    readonly name: string,
    password?: string,
  ) {
    this.password = password ?? `cli pw of ${name}`;
  }

  /** Another device of an account registered elsewhere (a browser): its name and password. */
  static deviceOf(account: { name: string; password: string }): CliActor {
    return new CliActor(account.name, account.password);
  }

  static create(base: string): CliActor {
    return new CliActor(uniqueName(base));
  }

  /** Runs qpq with --json and returns its parsed output; fails the test on a non-zero exit. */
  async qpq<T = unknown>(args: string[], stdin?: string): Promise<T> {
    const result = await runQpq(
      [...args, "--state", this.state, "--json"],
      stdin === undefined ? {} : { stdin },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as T;
  }

  async register(): Promise<void> {
    await this.qpq(["register", this.name, "--gateway", baseUrl(), "--password-stdin"], `${this.password}\n`);
  }

  /** `qpq login` in this actor's (fresh or not) state directory; its JSON result. */
  login<T = unknown>(extra: string[] = []): Promise<T> {
    return this.qpq<T>(
      ["login", this.name, "--gateway", baseUrl(), "--password-stdin", ...extra],
      `${this.password}\n`,
    );
  }

  /** What a one-shot `qpq recv --json` prints: the messages not printed before. */
  async recv(): Promise<CliMessage[]> {
    const result = await runQpq(["recv", "--json", "--state", this.state]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    return result.stdout
      .split("\n")
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as CliMessage);
  }

  async send(conversation: string, text: string): Promise<void> {
    expect(await this.qpq<{ status: string }>(["send", conversation, text])).toMatchObject({
      status: "sent",
    });
  }

  /** Starts `qpq recv --follow --json` so arriving messages can be awaited. */
  listen(): void {
    this.follower = QpqFollower.start(["recv", "--follow", "--json", "--state", this.state]);
  }

  /** The next message the listener printed with this text. */
  async received(text: string): Promise<CliMessage> {
    if (!this.follower) throw new Error("listen() first");
    const line = await this.follower.nextLine((l) => (JSON.parse(l) as CliMessage).text === text);
    return JSON.parse(line) as CliMessage;
  }

  async stopListening(): Promise<void> {
    const code = await this.follower?.stop();
    this.follower = undefined;
    expect(code).toBe(0);
  }
}
