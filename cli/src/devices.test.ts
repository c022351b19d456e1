/**
 * Multi-device accounts through the real `qpq` executable and gateway process: a login from a fresh
 * state directory makes a new device that gets the history and the conversations, `qpq devices`
 * lists, renames and revokes, `verify --devices` shows a contact's devices, and a revoked device's
 * state directory fails with documented codes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGatewayProcess, type GatewayProcess } from "@qpq/gateway/testing";
import { ExitCode } from "./exitCodes.ts";
import { QpqFollower, runQpq } from "./testing/runQpq.ts";

let gateway: GatewayProcess;
const root = mkdtempSync(join(tmpdir(), "qpq-cli-devices-"));
const suffix = Date.now().toString(36).slice(-4);

beforeAll(async () => {
  gateway = await startGatewayProcess();
});

afterAll(async () => {
  await gateway?.kill();
  gateway?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

/** One device of an account: the account's name and password, and this device's state directory. */
class Device {
  readonly state: string;
  constructor(
    readonly name: string,
    dir: string,
    readonly password = `pw of ${name}`,
  ) {
    this.state = join(root, dir);
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

  register(): Promise<unknown> {
    return this.json(
      ["register", this.name, "--gateway", gateway.baseUrl, "--password-stdin"],
      `${this.password}\n`,
    );
  }

  login<T>(extra: string[] = []): Promise<T> {
    return this.json<T>(
      ["login", this.name, "--gateway", gateway.baseUrl, "--password-stdin", ...extra],
      `${this.password}\n`,
    );
  }
}

interface DeviceJson {
  id: string;
  name: string;
  current: boolean;
  revoked: boolean;
  createdAtMs: number;
  lastSeenMs: number;
  revokedAtMs: number;
  fingerprint: string;
}

interface LoginJson {
  username: string;
  identityKey: string;
  deviceKey: string;
  deviceName: string;
  newDevice: boolean;
  restoredMessages?: number;
  conversations?: number;
  conversationsPending?: number;
}

const texts = (stdout: string) =>
  stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as { text: string; sender: string; title: string });

describe("qpq devices with a real gateway", { timeout: 240_000 }, () => {
  describe("bob's desk and laptop", () => {
    const alice = new Device(`alice${suffix}`, "alice");
    const desk = new Device(`bob${suffix}`, "bob-desk");
    const laptop = new Device(desk.name, "bob-laptop", desk.password);
    let joined: LoginJson;
    let laptopId: string;
    let deskId: string;

    it("a login from a fresh state directory is a new device with the history and the conversation", async () => {
      await alice.register();
      const registered = await desk.register();
      expect(registered).toMatchObject({ newDevice: false });
      await alice.ok(["dm", desk.name]);
      await alice.ok(["send", desk.name, "before the laptop"]);
      // bob's desk reads it and, as every device does, backs it up for the account's later devices.
      expect(texts(await desk.ok(["recv", "--json"])).map((m) => m.text)).toEqual(["before the laptop"]);

      // A device name the gateway refuses (control characters) fails the login with the registry code.
      const badName = await new Device(desk.name, "bob-bad", desk.password).run(
        [
          "login",
          desk.name,
          "--gateway",
          gateway.baseUrl,
          "--password-stdin",
          "--device-name",
          "x\u001b[2J",
          "--json",
        ],
        `${desk.password}\n`,
      );
      expect(badName.code).toBe(ExitCode.Rejected);
      expect(JSON.parse(badName.stderr)).toMatchObject({ error: { code: "E007" } });

      // The desk is online (following), so it adds the laptop to the DM while the laptop's login waits.
      const follower = QpqFollower.start(["recv", "--follow", "--json", "--state", desk.state]);
      try {
        joined = await laptop.login<LoginJson>(["--device-name", "bob's laptop"]);
      } finally {
        expect(await follower.stop()).toBe(0);
      }
      expect(joined).toMatchObject({
        username: desk.name,
        newDevice: true,
        deviceName: "bob's laptop",
        restoredMessages: 1,
        conversations: 1,
        conversationsPending: 0,
      });

      // The history from before the laptop existed, and the conversation with its title.
      const history = texts(await laptop.ok(["recv", "--json"]));
      expect(history.map((m) => [m.sender, m.text, m.title])).toEqual([
        [alice.name, "before the laptop", alice.name],
      ]);
    });

    it("devices lists both, each marking itself; verify --devices shows alice the same fingerprints", async () => {
      const fromLaptop = await laptop.json<DeviceJson[]>(["devices"]);
      expect(fromLaptop.map((d) => [d.name, d.current, d.revoked]).sort()).toEqual(
        [
          ["bob's laptop", true, false],
          ["qpq on " + (await import("node:os")).hostname(), false, false],
        ].sort(),
      );
      laptopId = fromLaptop.find((d) => d.current)!.id;
      expect(laptopId).toBe(joined.deviceKey);
      deskId = fromLaptop.find((d) => !d.current)!.id;
      const human = await desk.ok(["devices"]);
      expect(human).toMatch(new RegExp(`^\\* ${deskId.slice(0, 12)}  qpq on .*  \\(this device\\)$`, "m"));
      expect(human).toMatch(new RegExp(`^  ${laptopId.slice(0, 12)}  bob's laptop$`, "m"));
      expect(human).toContain(`fingerprint ${fromLaptop[0]!.fingerprint}`);

      // alice sees one bob with two devices, the same fingerprints bob sees.
      const contact = await alice.json<{ devices: { id: string; fingerprint: string; revoked: boolean }[] }>([
        "verify",
        desk.name,
        "--devices",
      ]);
      expect(contact.devices.map((d) => d.fingerprint).sort()).toEqual(
        fromLaptop.map((d) => d.fingerprint).sort(),
      );
    });

    it("renames by id prefix and by name; names the gateway refuses fail with E007", async () => {
      expect(
        await laptop.json<DeviceJson>(["devices", "rename", deskId.slice(0, 6), "old", "desk"]),
      ).toMatchObject({
        id: deskId,
        name: "old desk",
      });
      expect(await desk.json<DeviceJson>(["devices", "rename", "old desk", "the desk"])).toMatchObject({
        id: deskId,
        name: "the desk",
        current: true,
      });
      const refusedName = await desk.run(["devices", "rename", "the desk", "bad\u0007name", "--json"]);
      expect(refusedName.code).toBe(ExitCode.Rejected);
      expect(JSON.parse(refusedName.stderr)).toMatchObject({ error: { code: "E007" } });
      expect((await desk.run(["devices", "rename", "no such device", "x"])).code).toBe(ExitCode.NotFound);
    });

    it("revokes the other device; its state directory fails with E011, then E035", async () => {
      const self = await laptop.run(["devices", "revoke", laptopId.slice(0, 8)]);
      expect(self.code).toBe(ExitCode.Rejected);
      expect(self.stderr).toContain("the device you are using");
      const unconfirmed = await laptop.run(["devices", "revoke", "the desk"]);
      expect(unconfirmed.code).toBe(ExitCode.Usage);
      expect(unconfirmed.stderr).toContain("--yes");
      const revoked = await laptop.json<DeviceJson>(["devices", "revoke", "the desk", "--yes"]);
      expect(revoked).toMatchObject({ id: deskId, revoked: true });
      expect(revoked.revokedAtMs).toBeGreaterThan(0);
      expect((await laptop.run(["devices", "revoke", "the desk", "--yes"])).code).toBe(ExitCode.Rejected);
      expect(await laptop.ok(["devices"])).toMatch(/the desk {2}\(revoked \d{4}-\d\d-\d\d \d\d:\d\d UTC\)/);

      // The desk's session ended with the revocation (E011), and its state can never attach again (E035).
      const ended = await desk.run(["channels", "--json"]);
      expect(ended.code).toBe(ExitCode.NoSession);
      expect(JSON.parse(ended.stderr)).toMatchObject({ error: { exitCode: 4, code: "E011" } });
      const again = await desk.run(["login", "--password-stdin", "--json"], `${desk.password}\n`);
      expect(again.code).toBe(ExitCode.State);
      expect(JSON.parse(again.stderr)).toMatchObject({
        error: { exitCode: 8, code: "E035", codeName: "DeviceRevoked" },
      });
    });

    it("the laptop goes on: it reads alice and alice reads it as bob", async () => {
      await alice.ok(["send", desk.name, "after the revocation"]);
      expect(texts(await laptop.ok(["recv", "--json"])).map((m) => m.text)).toEqual(["after the revocation"]);
      await laptop.ok(["send", alice.name, "from the laptop"]);
      expect(texts(await alice.ok(["recv", "--json"])).map((m) => [m.sender, m.text])).toEqual([
        [desk.name, "from the laptop"],
      ]);
      const seen = await alice.json<{ devices: { id: string; revoked: boolean }[] }>([
        "verify",
        desk.name,
        "--devices",
      ]);
      expect(seen.devices.find((d) => d.id === deskId)?.revoked).toBe(true);
    });
  });

  it("a new device with no other device online: the history now, the conversations once added", async () => {
    const alice = new Device(`carol${suffix}`, "carol");
    const first = new Device(`dave${suffix}`, "dave-1");
    const second = new Device(first.name, "dave-2", first.password);
    await Promise.all([alice.register(), first.register()]);
    await alice.ok(["dm", first.name]);
    await alice.ok(["send", first.name, "hello dave"]);
    await first.ok(["recv"]);
    // Nobody online to add it: the login says how many conversations are still to come.
    const joined = await second.login<LoginJson>();
    expect(joined).toMatchObject({
      newDevice: true,
      restoredMessages: 1,
      conversations: 0,
      conversationsPending: 1,
    });
    expect(joined.deviceName).toMatch(/^qpq on /);
    expect(texts(await second.ok(["recv", "--json"])).map((m) => m.text)).toEqual(["hello dave"]);
    // A member device's next command adds it (alice's here: any member's device does it).
    await alice.ok(["channels"]);
    expect((await second.json<{ direct: boolean }[]>(["channels"])).length).toBe(1);
    await second.ok(["send", alice.name, "from dave's second device"]);
    expect(texts(await alice.ok(["recv", "--json"])).map((m) => [m.sender, m.text])).toEqual([
      [first.name, "from dave's second device"],
    ]);
    // A second login in the same directory is the same device, not a new one.
    await second.ok(["logout"]);
    expect(await second.login<LoginJson>()).toMatchObject({ newDevice: false, deviceKey: joined.deviceKey });
  });
});
