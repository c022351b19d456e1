/**
 * qpq's entry point: parses the command line, runs one command, and turns failures into a message
 * on stderr (JSON with --json) and a documented exit code.
 */
import { parseArgs } from "node:util";
import { COMMANDS, OPTIONS, commandHelp, findCommand, overview, type CommandSpec } from "./commandTable.ts";
import { Context, type CommandOptions } from "./context.ts";
import { CliError, ExitCode, describeFailure } from "./exitCodes.ts";
import { terminalSafe } from "./terminalSafe.ts";

type Handler = (ctx: Context) => Promise<void>;
const account = () => import("./commands/account.ts");
const conversations = () => import("./commands/conversations.ts");
const messages = () => import("./commands/messages.ts");
const devicesCommands = () => import("./commands/devices.ts");

/** Loaded on demand: help and usage errors answer without loading MLS, OPAQUE and QUIC. */
const HANDLERS: Record<string, () => Promise<Handler>> = {
  register: async () => (await account()).register,
  login: async () => (await account()).login,
  logout: async () => (await account()).logout,
  whoami: async () => (await import("./commands/whoami.ts")).whoami,
  dm: async () => (await conversations()).dm,
  "group create": async () => (await conversations()).groupCreate,
  invite: async () => (await conversations()).invite,
  members: async () => (await conversations()).members,
  remove: async () => (await import("./commands/lifecycle.ts")).remove,
  leave: async () => (await import("./commands/lifecycle.ts")).leave,
  update: async () => (await import("./commands/lifecycle.ts")).update,
  channels: async () => (await conversations()).channels,
  verify: async () => (await conversations()).verify,
  send: async () => (await messages()).send,
  recv: async () => (await messages()).recv,
  devices: async () => (await devicesCommands()).devices,
  "devices rename": async () => (await devicesCommands()).rename,
  "devices revoke": async () => (await devicesCommands()).revoke,
};

async function run(argv: string[]): Promise<ExitCode> {
  const parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const options = parsed.values as CommandOptions & { help?: boolean };
  const words = parsed.positionals;
  if (words.length === 0) {
    process.stdout.write(overview() + "\n");
    return options.help ? ExitCode.Ok : ExitCode.Usage;
  }
  const found = findCommand(words);
  if (!found) throw new CliError(ExitCode.Usage, `unknown command "${words.join(" ")}" (see \`qpq --help\`)`);
  const { spec, rest } = found;
  if (options.help) {
    process.stdout.write(commandHelp(spec) + "\n");
    return ExitCode.Ok;
  }
  if (spec.name === "help") return help(rest);
  checkUsage(spec, rest, options as Record<string, unknown>);
  const handler = await HANDLERS[spec.name]!();
  await handler(new Context(rest, options));
  return ExitCode.Ok;
}

function help(words: string[]): ExitCode {
  if (words.length === 0) {
    process.stdout.write(overview() + "\n");
    return ExitCode.Ok;
  }
  const found = findCommand(words);
  if (!found || found.rest.length > 0) {
    // `qpq help group` is a fair question: show the two-word commands that start with it.
    const prefixed = COMMANDS.filter((c) => c.name.startsWith(`${words[0]} `));
    if (prefixed.length === 0) throw new CliError(ExitCode.Usage, `no command "${words.join(" ")}"`);
    process.stdout.write(prefixed.map(commandHelp).join("\n\n") + "\n");
    return ExitCode.Ok;
  }
  process.stdout.write(commandHelp(found.spec) + "\n");
  return ExitCode.Ok;
}

function checkUsage(spec: CommandSpec, args: string[], options: Record<string, unknown>): void {
  const [min, max] = spec.args;
  if (args.length < min || args.length > max) {
    throw new CliError(ExitCode.Usage, `usage: ${spec.usage}`);
  }
  for (const name of Object.keys(options)) {
    if (!(spec.options as string[]).includes(name)) {
      throw new CliError(ExitCode.Usage, `${spec.name} has no option --${name} (usage: ${spec.usage})`);
    }
  }
}

function report(error: unknown, json: boolean): ExitCode {
  const usage =
    error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS");
  const failure = usage
    ? { exitCode: ExitCode.Usage, message: (error as Error).message }
    : describeFailure(error);
  if (json) {
    process.stderr.write(JSON.stringify({ error: { ...failure } }) + "\n");
  } else {
    process.stderr.write(`qpq: ${terminalSafe(failure.message)}\n`);
    if (failure.exitCode === ExitCode.Failure && error instanceof Error && process.env.QPQ_DEBUG) {
      process.stderr.write(`${error.stack}\n`);
    }
  }
  return failure.exitCode;
}

const argv = process.argv.slice(2);
let code: ExitCode;
try {
  code = await run(argv);
} catch (error) {
  code = report(error, argv.includes("--json"));
}
// Connections and timers of the core may linger; the command is done once its output is flushed.
process.stdout.write("", () => process.exit(code));
