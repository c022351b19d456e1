/**
 * The real `qpq` executable against the real gateway process over real WebTransport: two people in
 * two state directories talk, scripts get JSON, and failures end with the documented exit codes.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGatewayProcess, type GatewayProcess } from "@qpq/gateway/testing";
import { ExitCode } from "./exitCodes.ts";
import { acquireStateLock } from "./lock.ts";
import { QpqFollower, runQpq } from "./testing/runQpq.ts";

let gateway: GatewayProcess;
const root = mkdtempSync(join(tmpdir(), "qpq-cli-test-"));

beforeAll(async () => {
  gateway = await startGatewayProcess();
});

afterAll(async () => {
  await gateway?.kill();
  gateway?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

let counter = 0;
const suffix = Date.now().toString(36).slice(-4);

/** One CLI user with their own state directory. */
class CliUser {
  readonly state: string;
  constructor(
    readonly name: string,
    readonly password = `pw of ${name}`,
  ) {
    this.state = join(root, name);
  }

  static named(base: string): CliUser {
    return new CliUser(`${base}${suffix}${++counter}`);
  }

  run(args: string[], stdin?: string) {
    return runQpq([...args, "--state", this.state], stdin === undefined ? {} : { stdin });
  }

  async ok(args: string[], stdin?: string): Promise<string> {
    const result = await this.run(args, stdin);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    return result.stdout;
  }

  async json<T>(args: string[], stdin?: string): Promise<T> {
    return JSON.parse(await this.ok([...args, "--json"], stdin)) as T;
  }

  async register(): Promise<void> {
    await this.ok(
      ["register", this.name, "--gateway", gateway.baseUrl, "--password-stdin"],
      `${this.password}\n`,
    );
  }
}

interface Received {
  conversation: string;
  title: string;
  id: string;
  sender: string;
  text: string;
  sentAtMs: number;
  receivedAtMs: number;
  status: string;
}

const lines = (stdout: string) => stdout.split("\n").filter((l) => l.length > 0);
const parseLines = (stdout: string) => lines(stdout).map((l) => JSON.parse(l) as Received);

// Each qpq run starts Node, loads MLS and OPAQUE and does a QUIC handshake; scenarios run several.
describe("qpq with a real gateway", { timeout: 240_000 }, () => {
  it("two CLI users register, open a direct conversation and exchange messages both ways", async () => {
    const alice = CliUser.named("alice");
    const bob = CliUser.named("bob");
    await alice.register();
    await bob.register();
    expect(statSync(alice.state).mode & 0o777).toBe(0o700);
    for (const file of ["profile.json", "session.json", "state.qpq"]) {
      expect(statSync(join(alice.state, file)).mode & 0o777).toBe(0o600);
    }

    const dm = await alice.json<{ id: string; created: boolean; direct: boolean; members: string[] }>([
      "dm",
      bob.name,
    ]);
    expect(dm).toMatchObject({ created: true, direct: true });
    expect(dm.id).toMatch(/^[0-9a-f]{32}$/);
    expect(dm.members.sort()).toEqual([alice.name, bob.name].sort());
    // dm again finds the same conversation instead of creating another.
    expect(await alice.json(["dm", bob.name])).toMatchObject({ id: dm.id, created: false });

    expect(await alice.ok(["send", bob.name, "hello", "bob"])).toBe(`sent to ${bob.name}\n`);
    const sent = await alice.json<Received>(["send", dm.id], "second line from stdin\n");
    expect(sent).toMatchObject({
      conversation: dm.id,
      sender: alice.name,
      text: "second line from stdin",
      status: "sent",
    });

    const got = parseLines(await bob.ok(["recv", "--json"]));
    expect(got.map((m) => [m.sender, m.text, m.conversation, m.status])).toEqual([
      [alice.name, "hello bob", dm.id, "received"],
      [alice.name, "second line from stdin", dm.id, "received"],
    ]);
    expect(got[0]).toEqual({
      conversation: dm.id,
      title: alice.name,
      id: expect.any(String),
      sender: alice.name,
      text: "hello bob",
      sentAtMs: expect.any(Number),
      receivedAtMs: expect.any(Number),
      status: "received",
    });
    // recv prints each message once.
    expect(await bob.ok(["recv"])).toBe("");

    // A terminal escape sequence (clear screen) in a message is shown, not executed.
    await bob.ok(["send", alice.name, "hi alice\u001b[2J"]);
    const human = lines(await alice.ok(["recv"]));
    expect(human).toHaveLength(1);
    expect(human[0]).toMatch(
      new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d ${bob.name}: hi alice\\\\u\\{1b\\}\\[2J$`),
    );

    const channels = await bob.json<{ id: string; direct: boolean; title: string }[]>(["channels"]);
    expect(channels).toEqual([expect.objectContaining({ id: dm.id, direct: true, title: alice.name })]);
    expect(await bob.json(["whoami"])).toEqual({
      username: bob.name,
      gateway: gateway.baseUrl,
      state: bob.state,
    });

    const aliceSide = await alice.json<{ safetyNumber: string; verified: boolean }>(["verify", bob.name]);
    const bobSide = await bob.json<{ safetyNumber: string }>(["verify", alice.name]);
    expect(aliceSide.safetyNumber).toBe(bobSide.safetyNumber);
    expect(aliceSide.verified).toBe(false);
    expect(await alice.json(["verify", bob.name, "--confirm"])).toMatchObject({ verified: true });
  });

  it("a group of three: create with members, invite later, everyone reads everyone", async () => {
    const [alice, bob, carol] = [CliUser.named("alice"), CliUser.named("bob"), CliUser.named("carol")];
    await Promise.all([alice.register(), bob.register(), carol.register()]);
    const group = await alice.json<{ id: string; members: string[] }>(["group", "create", "ops", bob.name]);
    expect(group.members.sort()).toEqual([alice.name, bob.name].sort());
    await alice.ok(["invite", "ops", carol.name]);
    expect((await carol.json<{ members: string[] }>(["members", "ops"])).members.sort()).toEqual(
      [alice.name, bob.name, carol.name].sort(),
    );
    await carol.ok(["send", "ops", "carol here"]);
    await alice.ok(["send", group.id.slice(0, 8), "alice here"]);
    const bobGot = parseLines(await bob.ok(["recv", "--json"]));
    expect(bobGot.map((m) => `${m.sender}: ${m.text} (${m.title})`)).toEqual([
      `${carol.name}: carol here (ops)`,
      `${alice.name}: alice here (ops)`,
    ]);

    // update: alice's new keys are committed (the epoch moves on) and the others keep reading her.
    const [before] = await alice.json<{ epoch: number }[]>(["channels"]);
    const rotated = await alice.json<{ epoch: number }>(["update", "ops"]);
    expect(rotated.epoch).toBeGreaterThan(before!.epoch);
    await alice.ok(["send", "ops", "with fresh keys"]);
    expect(parseLines(await bob.ok(["recv", "--json"])).map((m) => m.text)).toEqual(["with fresh keys"]);

    // remove: carol is out; she learns it, cannot send, and reads nothing new.
    const afterRemoval = await alice.json<{ members: string[] }>(["remove", "ops", carol.name]);
    expect(afterRemoval.members.sort()).toEqual([alice.name, bob.name].sort());
    await alice.ok(["send", "ops", "carol is gone"]);
    expect(parseLines(await bob.ok(["recv", "--json"])).map((m) => m.text)).toEqual(["carol is gone"]);
    const carolNow = await carol.json<{ id: string; removed: boolean }[]>(["channels"]);
    expect(carolNow).toEqual([expect.objectContaining({ id: group.id, removed: true })]);
    expect(parseLines(await carol.ok(["recv", "--json"])).map((m) => m.text)).toEqual([
      "alice here",
      "with fresh keys",
    ]);
    const refused = await carol.run(["send", "ops", "let me in", "--json"]);
    expect(refused.code).toBe(ExitCode.Rejected);
    expect(JSON.parse(refused.stderr)).toMatchObject({ error: { code: "E028" } });
    expect((await alice.run(["remove", "ops", carol.name])).code).toBe(ExitCode.NotFound);
  });

  it("usernames are canonical: `invite team BOB` adds bob, and a dm in any spelling is the same", async () => {
    const [alice, bob] = [CliUser.named("alice"), CliUser.named("bob")];
    await Promise.all([alice.register(), bob.register()]);
    await alice.ok(["group", "create", "team"]);
    const shouted = bob.name.toUpperCase();
    const invited = await alice.json<{ members: string[] }>(["invite", "team", shouted]);
    expect(invited.members.sort()).toEqual([alice.name, bob.name].sort());
    expect((await bob.json<{ members: string[] }>(["members", "team"])).members.sort()).toEqual(
      [alice.name, bob.name].sort(),
    );
    // Already in, under any spelling: refused before any KeyPackage is claimed.
    const again = await alice.run(["invite", "team", bob.name, "--json"]);
    expect(again.code).toBe(ExitCode.Rejected);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: { code: "E007" } });
    const dm = await alice.json<{ id: string; created: boolean }>(["dm", shouted]);
    expect(dm.created).toBe(true);
    const fullwidth = [...bob.name].map((c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).join("");
    expect(await alice.json(["dm", fullwidth])).toMatchObject({ id: dm.id, created: false });
    await alice.ok(["send", shouted, "hi bob"]);
    expect(parseLines(await bob.ok(["recv", "--json"])).map((m) => m.text)).toEqual(["hi bob"]);

    // Registering in capitals makes the canonical account, which logs in under any spelling.
    const carol = CliUser.named("carol");
    const loud = new CliUser(carol.name.toUpperCase());
    await loud.ok(
      ["register", loud.name, "--gateway", gateway.baseUrl, "--password-stdin", "--json"],
      `${loud.password}\n`,
    );
    expect(await loud.json(["whoami"])).toMatchObject({ username: carol.name });
    await loud.ok(["logout"]);
    await loud.ok(["login", carol.name, "--password-stdin"], `${loud.password}\n`);
    await alice.ok(["invite", "team", loud.name]);
  });

  it("leave: carol leaves a group of three; she is out at once, and a member online commits it", async () => {
    const [alice, bob, carol] = [CliUser.named("alice"), CliUser.named("bob"), CliUser.named("carol")];
    await Promise.all([alice.register(), bob.register(), carol.register()]);
    const group = await alice.json<{ id: string }>(["group", "create", "crew", bob.name, carol.name]);
    await carol.ok(["recv"]);
    const left = await carol.json<{ left: boolean; removed: boolean }>(["leave", "crew"]);
    expect(left).toMatchObject({ left: true, removed: true });
    expect(await carol.ok(["channels"])).toContain("(you left)");
    const refused = await carol.run(["send", "crew", "one more", "--json"]);
    expect(refused.code).toBe(ExitCode.Rejected);
    expect(JSON.parse(refused.stderr)).toMatchObject({ error: { code: "E028" } });
    expect((await carol.run(["leave", "crew"])).code).toBe(ExitCode.Rejected);

    // alice is first in the commit order: her next command commits the proposal before it exits.
    await alice.ok(["recv"]);
    await bob.ok(["recv"]);
    expect((await bob.json<{ members: string[] }>(["members", group.id])).members.sort()).toEqual(
      [alice.name, bob.name].sort(),
    );
  });

  it("recv --follow prints messages as they arrive and ends cleanly on SIGINT", async () => {
    const alice = CliUser.named("alice");
    const bob = CliUser.named("bob");
    await Promise.all([alice.register(), bob.register()]);
    await alice.ok(["dm", bob.name]);
    await alice.ok(["send", bob.name, "before following"]);
    const follower = QpqFollower.start(["recv", "--follow", "--json", "--state", bob.state]);
    try {
      expect(JSON.parse(await follower.nextLine())).toMatchObject({ text: "before following" });
      await alice.ok(["send", bob.name, "while following"]);
      expect(JSON.parse(await follower.nextLine())).toMatchObject({
        text: "while following",
        sender: alice.name,
      });
      // While following, the state is locked: a second qpq on it is refused with exit code 7.
      const second = await bob.run(["send", alice.name, "no"]);
      expect(second.code).toBe(ExitCode.Locked);
      expect(second.stderr).toMatch(/another qpq process \(pid \d+\) is using the state/);
    } finally {
      expect(await follower.stop()).toBe(0);
    }
    expect(await bob.ok(["recv"])).toBe("");
  });

  it("logs in again after logout, with the same keys and history", async () => {
    const alice = CliUser.named("alice");
    const bob = CliUser.named("bob");
    await Promise.all([alice.register(), bob.register()]);
    await alice.ok(["dm", bob.name]);
    expect(await alice.json(["logout"])).toEqual({ username: alice.name, revoked: true });
    const afterLogout = await alice.run(["send", bob.name, "x"]);
    expect(afterLogout.code).toBe(ExitCode.NoSession);
    expect(afterLogout.stderr).toContain("not logged in");

    await alice.ok(["login", "--password-stdin"], `${alice.password}\n`);
    await alice.ok(["send", bob.name, "back again"]);
    expect(parseLines(await bob.ok(["recv", "--json"])).map((m) => m.text)).toEqual(["back again"]);
  });

  describe("exit codes", () => {
    const alice = CliUser.named("alice");
    beforeAll(() => alice.register());

    it("3 for a wrong password and for an unknown user, with the registry code in --json", async () => {
      const other = join(root, `fresh${++counter}`);
      const wrong = await runQpq(
        [
          "login",
          alice.name,
          "--gateway",
          gateway.baseUrl,
          "--state",
          alice.state,
          "--password-stdin",
          "--json",
        ],
        { stdin: "not the password\n" },
      );
      expect(wrong.code).toBe(ExitCode.AuthFailed);
      expect(JSON.parse(wrong.stderr)).toEqual({
        error: {
          exitCode: 3,
          code: "E008",
          codeName: "AuthFailed",
          message: expect.stringContaining("E008"),
        },
      });
      const unknown = await runQpq(
        ["login", `nobody${suffix}`, "--gateway", gateway.baseUrl, "--state", other, "--password-stdin"],
        { stdin: "whatever\n" },
      );
      expect(unknown.code).toBe(ExitCode.AuthFailed);
      expect(unknown.stderr).toContain("E008");
      // The failed logins changed nothing: alice's session still works.
      await alice.ok(["channels"]);
    });

    it("4 without a session", async () => {
      const result = await runQpq(["recv", "--state", join(root, `empty${++counter}`)]);
      expect(result.code).toBe(ExitCode.NoSession);
      expect(result.stderr).toBe("qpq: not logged in: run `qpq login`\n");
    });

    it("5 for an unknown user or conversation, leaving no conversation behind", async () => {
      const dm = await alice.run(["dm", `ghost${suffix}`, "--json"]);
      expect(dm.code).toBe(ExitCode.NotFound);
      expect(JSON.parse(dm.stderr)).toMatchObject({ error: { exitCode: 5, code: "E012" } });
      const send = await alice.run(["send", "no-such-conversation", "hi"]);
      expect(send.code).toBe(ExitCode.NotFound);
      expect(await alice.json(["channels"])).toEqual([]);
    });

    it("2 for bad usage, 7 while another process holds the state", async () => {
      expect((await alice.run(["send"])).code).toBe(ExitCode.Usage);
      expect((await alice.run(["frobnicate"])).code).toBe(ExitCode.Usage);
      expect((await alice.run(["recv", "--confirm"])).code).toBe(ExitCode.Usage);
      // No terminal, no --password-stdin, no QPQ_PASSWORD: refused before anything is sent.
      const noPassword = await alice.run(["login"]);
      expect(noPassword.code).toBe(ExitCode.Usage);
      expect(noPassword.stderr).toContain("--password-stdin");
      const lock = await acquireStateLock(alice.state);
      try {
        expect((await alice.run(["channels"])).code).toBe(ExitCode.Locked);
      } finally {
        await lock.release();
      }
    });

    it("8 when the state directory holds another account", async () => {
      const result = await runQpq(
        [
          "register",
          `other${suffix}`,
          "--gateway",
          gateway.baseUrl,
          "--state",
          alice.state,
          "--password-stdin",
        ],
        { stdin: "pw\n" },
      );
      expect(result.code).toBe(ExitCode.State);
      expect(result.stderr).toContain(`holds the account ${alice.name}`);
    });

    it("6 when the gateway cannot be reached", async () => {
      const result = await runQpq(
        [
          "login",
          alice.name,
          "--gateway",
          "http://127.0.0.1:9",
          "--state",
          join(root, `x${++counter}`),
          "--password-stdin",
        ],
        { stdin: "pw\n" },
      );
      expect(result.code).toBe(ExitCode.Unreachable);
    });

    it("--help and help COMMAND print usage and succeed", async () => {
      const overview = await runQpq(["--help"]);
      expect(overview.code).toBe(0);
      for (const command of [
        "register",
        "login",
        "logout",
        "whoami",
        "dm",
        "group create",
        "invite",
        "remove",
        "leave",
        "update",
        "members",
        "send",
        "recv",
        "channels",
        "verify",
      ]) {
        expect(overview.stdout).toContain(`  ${command} `);
      }
      const one = await runQpq(["help", "send"]);
      expect(one.code).toBe(0);
      expect(one.stdout).toMatch(/^usage: qpq send CONVERSATION/);
      expect((await runQpq(["group", "create", "--help"])).stdout).toMatch(/^usage: qpq group create NAME/);
    });
  });
});
