/**
 * Every command with its usage line, the options it accepts and its help text: the single source
 * for argument checking, `qpq --help` and `qpq help COMMAND`.
 */

export type OptionName =
  | "state"
  | "gateway"
  | "ca"
  | "json"
  | "password-stdin"
  | "follow"
  | "confirm"
  | "device-name"
  | "yes"
  | "devices"
  | "help";

export const OPTIONS: Record<OptionName, { type: "string" | "boolean"; short?: string; help: string }> = {
  state: { type: "string", help: "state directory (default $QPQ_STATE or ~/.qpq)" },
  gateway: { type: "string", help: "gateway web address, e.g. https://chat.example (default $QPQ_GATEWAY)" },
  ca: { type: "string", help: "PEM file with extra trusted root certificates" },
  json: { type: "boolean", help: "machine-readable output (recv: one JSON object per line)" },
  "password-stdin": { type: "boolean", help: "read the password from the first line of stdin" },
  follow: { type: "boolean", short: "f", help: "keep listening and print messages as they arrive" },
  confirm: { type: "boolean", help: "mark the contact verified (after comparing safety numbers)" },
  "device-name": {
    type: "string",
    help: 'how a login that makes a new device lists it (default "qpq on HOSTNAME")',
  },
  yes: { type: "boolean", short: "y", help: "do it without asking for confirmation" },
  devices: { type: "boolean", help: "also list the contact's devices and their fingerprints" },
  help: { type: "boolean", short: "h", help: "show help" },
};

const COMMON: OptionName[] = ["state", "json", "ca", "help"];

export interface CommandSpec {
  /** "group create" for the two-word command. */
  name: string;
  usage: string;
  summary: string;
  details?: string;
  options: OptionName[];
  /** Positional arguments after the command name: minimum, and maximum (Infinity for lists). */
  args: [number, number];
}

export const COMMANDS: CommandSpec[] = [
  {
    name: "register",
    usage: "qpq register USERNAME --gateway URL [--password-stdin]",
    summary: "create an account; its keys live in this state directory",
    details:
      "Creates the identity key on this machine, registers it with OPAQUE (the password never leaves\n" +
      "this machine) and logs in. The password is asked twice on a terminal.",
    options: [...COMMON, "gateway", "password-stdin"],
    args: [1, 1],
  },
  {
    name: "login",
    usage: "qpq login [USERNAME] [--gateway URL] [--password-stdin] [--device-name NAME]",
    summary: "log in once; later commands resume the session without the password",
    details:
      "USERNAME and the gateway default to those of the account in the state directory.\n" +
      "The session token and the state key are kept in session.json (0600) until `qpq logout`.\n" +
      "In a state directory that holds no keys for the account, the login makes this a new device of\n" +
      "the account (named by --device-name): it reads the history from the account's backup, and the\n" +
      "account's other devices (or other members') add it to the conversations; the login waits up to\n" +
      "10 seconds for that, and `qpq channels` and `qpq recv` show the rest once it happened.",
    options: [...COMMON, "gateway", "password-stdin", "device-name"],
    args: [0, 1],
  },
  {
    name: "logout",
    usage: "qpq logout",
    summary: "end the session at the gateway and forget it here",
    options: COMMON,
    args: [0, 0],
  },
  {
    name: "whoami",
    usage: "qpq whoami",
    summary: "show the logged-in user and gateway",
    options: COMMON,
    args: [0, 0],
  },
  {
    name: "dm",
    usage: "qpq dm USER",
    summary: "open (or create) the direct conversation with USER and print its id",
    options: COMMON,
    args: [1, 1],
  },
  {
    name: "group create",
    usage: "qpq group create NAME [USER...]",
    summary: "create a group conversation, optionally inviting users",
    options: COMMON,
    args: [1, Infinity],
  },
  {
    name: "invite",
    usage: "qpq invite GROUP USER...",
    summary: "add users to a conversation",
    options: COMMON,
    args: [2, Infinity],
  },
  {
    name: "remove",
    usage: "qpq remove GROUP USER",
    summary: "remove USER (all their devices) from a conversation; they cannot read what follows",
    options: COMMON,
    args: [2, 2],
  },
  {
    name: "leave",
    usage: "qpq leave GROUP",
    summary: "leave a conversation; you read nothing that follows",
    details:
      "A member cannot remove itself in MLS: this asks the others to, and another member's client\n" +
      "commits it. This device stops sending there at once and keeps the history it already has.",
    options: COMMON,
    args: [1, 1],
  },
  {
    name: "update",
    usage: "qpq update GROUP",
    summary: "rotate this device's keys in a conversation (post-compromise recovery)",
    details:
      "Commits a fresh leaf key for this device, so secrets an attacker may have copied before stop\n" +
      "opening new messages. The core also rotates every week on its own.",
    options: COMMON,
    args: [1, 1],
  },
  {
    name: "members",
    usage: "qpq members GROUP",
    summary: "list a conversation's members",
    options: COMMON,
    args: [1, 1],
  },
  {
    name: "send",
    usage: "qpq send CONVERSATION [TEXT...]",
    summary: "send a message (TEXT, or stdin when TEXT is absent or -)",
    details:
      "CONVERSATION is a conversation id (or a unique prefix of at least 6 characters), a group name,\n" +
      "or the username of a direct conversation.",
    options: COMMON,
    args: [1, Infinity],
  },
  {
    name: "recv",
    usage: "qpq recv [--follow]",
    summary: "print messages received since the last recv",
    details: "With --follow, keeps listening (reconnecting when the connection drops) until interrupted.",
    options: [...COMMON, "follow"],
    args: [0, 0],
  },
  {
    name: "channels",
    usage: "qpq channels",
    summary: "list conversations",
    options: COMMON,
    args: [0, 0],
  },
  {
    name: "verify",
    usage: "qpq verify USER [--confirm] [--devices]",
    summary: "show the safety number to compare with USER; --confirm marks USER verified",
    details:
      "The safety number covers USER's account, whatever their devices. --devices also lists each\n" +
      "device the account key vouches for, with its fingerprint, to compare device by device.",
    options: [...COMMON, "confirm", "devices"],
    args: [1, 1],
  },
  {
    name: "devices",
    usage: "qpq devices",
    summary: "list this account's devices (this one marked), when added and last seen, fingerprints",
    details:
      "A device is a browser or a qpq state directory where the account logged in. DEVICE in the\n" +
      "commands below is a device's name or a prefix of its id (at least 4 hex digits).",
    options: COMMON,
    args: [0, 0],
  },
  {
    name: "devices rename",
    usage: "qpq devices rename DEVICE NAME...",
    summary: "rename one of this account's devices (names are shown to this account only)",
    options: COMMON,
    args: [2, Infinity],
  },
  {
    name: "devices revoke",
    usage: "qpq devices revoke DEVICE [--yes]",
    summary: "cut a lost or stolen device off: it is removed from every conversation at once",
    details:
      "Asks for confirmation on a terminal; without one, --yes is required. The device in use cannot\n" +
      "be revoked here: run `qpq logout`, or revoke it from another device.",
    options: [...COMMON, "yes"],
    args: [1, 1],
  },
  {
    name: "help",
    usage: "qpq help [COMMAND]",
    summary: "show help for all commands or one",
    options: ["help"],
    args: [0, 2],
  },
];

export function findCommand(words: string[]): { spec: CommandSpec; rest: string[] } | undefined {
  const two = words.slice(0, 2).join(" ");
  const byTwo = COMMANDS.find((c) => c.name === two);
  if (byTwo) return { spec: byTwo, rest: words.slice(2) };
  const byOne = COMMANDS.find((c) => c.name === words[0]);
  return byOne && !byOne.name.includes(" ") ? { spec: byOne, rest: words.slice(1) } : undefined;
}

export function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "qpq: the quicproquo command-line messenger",
    "",
    "usage: qpq COMMAND [ARGS] [OPTIONS]",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "options:",
    ...optionLines(Object.keys(OPTIONS) as OptionName[]),
    "",
    "Run `qpq help COMMAND` for details. Exit codes are listed in docs/cli.md.",
  ].join("\n");
}

export function commandHelp(spec: CommandSpec): string {
  return [
    `usage: ${spec.usage}`,
    "",
    spec.summary,
    ...(spec.details ? ["", spec.details] : []),
    "",
    "options:",
    ...optionLines(spec.options),
  ].join("\n");
}

function optionLines(names: OptionName[]): string[] {
  const label = (n: OptionName) =>
    `${OPTIONS[n].short ? `-${OPTIONS[n].short}, ` : "    "}--${n}${OPTIONS[n].type === "string" ? " VALUE" : ""}`;
  const width = Math.max(...names.map((n) => label(n).length));
  return names.map((n) => `  ${label(n).padEnd(width)}  ${OPTIONS[n].help}`);
}
