/**
 * Reading the password: never from the command line (it would sit in shell history and in ps
 * output). On a terminal it is typed without echo; scripts pipe it with --password-stdin or set
 * QPQ_PASSWORD.
 */
import { CliError, ExitCode } from "./exitCodes.ts";

export interface PasswordSource {
  passwordStdin: boolean;
  /** Registration asks twice on a terminal, to catch typos in a password that cannot be recovered. */
  confirm?: boolean;
}

export async function readPassword(source: PasswordSource): Promise<string> {
  if (source.passwordStdin) return firstLine(await readAll(process.stdin));
  const fromEnv = process.env.QPQ_PASSWORD;
  if (fromEnv !== undefined) return fromEnv;
  if (!process.stdin.isTTY) {
    throw new CliError(
      ExitCode.Usage,
      "no terminal to ask for the password: use --password-stdin or QPQ_PASSWORD",
    );
  }
  const password = await promptHidden("Password: ");
  if (source.confirm && (await promptHidden("Password again: ")) !== password) {
    throw new CliError(ExitCode.Usage, "the passwords do not match");
  }
  return password;
}

function firstLine(text: string): string {
  const line = text.split(/\r?\n/, 1)[0] ?? "";
  if (line.length === 0) throw new CliError(ExitCode.Usage, "--password-stdin: no password on stdin");
  return line;
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  stream.setEncoding("utf8");
  for await (const chunk of stream) text += chunk as string;
  return text;
}

/** Raw mode keeps the terminal from echoing; the prompt goes to stderr so stdout stays clean. */
function promptHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.setEncoding("utf8");
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = "";
    const finish = (error?: Error) => {
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === "\r" || char === "\n") return finish();
        if (char === "\u0003") return finish(new CliError(ExitCode.Usage, "cancelled"));
        if (char === "\u007f" || char === "\b") typed = typed.slice(0, -1);
        else if (char >= " ") typed += char;
      }
    };
    input.on("data", onData);
  });
}
