/**
 * What every command gets: its parsed arguments, the state directory, and output that is for people
 * by default and JSON with --json. Results go to stdout; prompts, notices and errors to stderr.
 */
import { StateDir } from "./stateDir.ts";
import { terminalSafe } from "./terminalSafe.ts";

export interface CommandOptions {
  state?: string;
  gateway?: string;
  ca?: string;
  json?: boolean;
  "password-stdin"?: boolean;
  follow?: boolean;
  confirm?: boolean;
  "device-name"?: string;
  yes?: boolean;
  devices?: boolean;
}

export class Context {
  readonly state: StateDir;

  constructor(
    readonly args: string[],
    readonly options: CommandOptions,
  ) {
    this.state = new StateDir(options.state);
  }

  get json(): boolean {
    return this.options.json === true;
  }

  /**
   * One result: lines for people, or one JSON document for scripts. Each human line is made safe for
   * the terminal, since it may hold names chosen by others.
   */
  result(human: string | string[], json: unknown): void {
    if (this.json) process.stdout.write(JSON.stringify(json) + "\n");
    else {
      const lines = Array.isArray(human) ? human : [human];
      if (lines.length > 0) process.stdout.write(lines.map(terminalSafe).join("\n") + "\n");
    }
  }

  /** A line for people only (progress, hints); silent with --json so stdout stays parseable. */
  notice(text: string): void {
    if (!this.json) process.stderr.write(terminalSafe(text) + "\n");
  }
}
