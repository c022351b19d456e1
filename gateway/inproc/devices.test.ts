/**
 * Multi-device accounts on the in-process gateway (docs/cryptography/devices.md): a second device
 * joins by logging in, members' devices add it to the account's groups, it sends and receives like
 * the first, other members see one person, and a revoked device is cut off.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatewayClient, MemoryClientStore, Messenger, type ContactView } from "@qpq/shared/client";
import { ErrorCode } from "@qpq/shared/protocol";
import { bytesEqual } from "@qpq/shared/bytes";
import { inProcessGateway, type InProcessGateway } from "../src/testing/index.ts";
import { adopt, FAST, groupOf, registerActor, seedActor, texts, until, type Actor } from "./harness.ts";

let gw: InProcessGateway;
let alice: Actor;
let bob: Actor;
let bob2: Actor;
let dm: string;
const contactEvents: ContactView[] = [];

/** Another device of an actor's account: a new store, logged in with the password. */
async function secondDevice(of: Actor, deviceName: string): Promise<Actor> {
  const store = new MemoryClientStore();
  const client = await GatewayClient.connect(gw.connect());
  const messenger = await Messenger.login(client, of.name, of.password, { store, ...FAST, deviceName });
  return adopt({ ...of, store, messenger, client, received: [], errors: [] }, messenger, client);
}

/** Texts stored on the actor's device: received, sent and restored from the backup alike. */
async function stored(actor: Actor, groupId: string): Promise<string[]> {
  return (await actor.messenger.messages(groupId)).map((m) => m.text);
}

/** Adding a device takes a notice, a KeyPackage claim and a commit: generous on a loaded machine. */
const ADD_TIMEOUT_MS = 30_000;

async function leaves(actor: Actor, groupId: string): Promise<number> {
  return (await actor.messenger.members(groupId)).length;
}

beforeAll(async () => {
  gw = await inProcessGateway();
  [alice, bob] = (await Promise.all(["alice", "bob"].map((n) => registerActor(gw, n)))) as [Actor, Actor];
  alice.messenger.on("contact", (c) => contactEvents.push(c));
  dm = await groupOf([alice, bob], "dm");
  await alice.messenger.send(dm, "before bob's second device");
  await until([bob], "bob reads the first message", async () =>
    (await texts(bob, dm)).includes("before bob's second device"),
  );
});

afterAll(async () => {
  for (const a of [alice, bob, bob2]) a?.messenger.close();
  await gw?.close();
});

describe("a second device", () => {
  it("joins by logging in and is added to the account's conversations", async () => {
    bob2 = await secondDevice(bob, "bob's laptop");
    expect(bytesEqual(bob2.messenger.accountKey, bob.messenger.accountKey)).toBe(true);
    expect(
      bytesEqual(bob2.messenger.identity.signaturePublicKey, bob.messenger.identity.signaturePublicKey),
    ).toBe(false);
    await until(
      [alice, bob, bob2],
      "bob's second device is in the DM",
      async () => (await bob2.messenger.conversations()).some((g) => g.id === dm),
      ADD_TIMEOUT_MS,
    );
    await until([alice, bob2], "everyone sees three leaves", async () => (await leaves(alice, dm)) === 3);
    // The name travels after the add, as an application message from the device that added it.
    await until(
      [bob2],
      "the new device knows the conversation's name",
      async () => (await bob2.messenger.conversation(dm))?.name === "dm",
    );
  });

  it("holds the history from before it was added, read from the account's backup", async () => {
    await bob.messenger.flush();
    expect(bob2.messenger.historyRestored).toBeDefined();
    // Restored before or after bob's first device uploaded: read it again once that upload is done.
    await bob2.messenger.restoreHistory();
    expect(await stored(bob2, dm)).toContain("before bob's second device");
    expect(await gw.store.backupBytes(bob.name)).toBeGreaterThan(0);
  });

  it("receives what alice sends, and what it sends reaches alice and bob's first device", async () => {
    await alice.messenger.send(dm, "to both of bob's devices");
    await until(
      [bob, bob2],
      "both devices receive",
      async () =>
        (await texts(bob, dm)).includes("to both of bob's devices") &&
        (await texts(bob2, dm)).includes("to both of bob's devices"),
    );
    await bob2.messenger.send(dm, "from the laptop");
    await until(
      [alice, bob],
      "alice and bob's first device get it",
      async () =>
        (await texts(alice, dm)).includes("from the laptop") &&
        (await texts(bob, dm)).includes("from the laptop"),
    );
    const got = (await alice.messenger.messages(dm)).find((m) => m.text === "from the laptop");
    expect(got?.sender).toBe(bob.name);
  });

  it("alice sees one bob: a two-person conversation, no impostor, the same safety number", async () => {
    const conversation = await alice.messenger.conversation(dm);
    expect(conversation?.members).toEqual([alice.name, bob.name]);
    const names = new Set((await alice.messenger.members(dm)).map((m) => m.username));
    expect(names).toEqual(new Set([alice.name, bob.name]));
    expect(contactEvents.filter((c) => c.impostor)).toEqual([]);
    const before = (await alice.messenger.contact(bob.name))?.safetyNumber;
    expect(before).toBeDefined();
    expect((await bob2.messenger.contact(alice.name))?.safetyNumber).toBe(before);
  });

  it("lists the account's devices with the current one marked, and renames them", async () => {
    const list = await bob.messenger.devices.list();
    expect(list).toHaveLength(2);
    expect(list.filter((d) => d.current).map((d) => d.name)).toEqual(["this device"]);
    const laptop = list.find((d) => !d.current)!;
    expect(laptop.name).toBe("bob's laptop");
    await bob.messenger.devices.rename(laptop.deviceKey, "old laptop");
    expect((await bob2.messenger.devices.list()).find((d) => d.current)?.name).toBe("old laptop");
    // Others see the devices (keys, certificates), not their names.
    const seen = await alice.messenger.devices.of(bob.name, bob.messenger.accountKey);
    expect(seen.map((d) => d.name)).toEqual(["", ""]);
  });

  it("a revoked device is removed from the groups and cannot read anything new", async () => {
    const laptop = (await bob.messenger.devices.list()).find((d) => !d.current)!;
    await bob.messenger.devices.revoke(laptop.deviceKey);
    await until([alice, bob], "the laptop's leaf is gone", async () => (await leaves(alice, dm)) === 2);
    const list = await bob.messenger.devices.list();
    expect(list.find((d) => bytesEqual(d.deviceKey, laptop.deviceKey))?.revoked).toBe(true);
    await alice.messenger.send(dm, "after the revocation");
    await until([bob], "bob's first device still reads", async () =>
      (await texts(bob, dm)).includes("after the revocation"),
    );
    await bob2.messenger.settled();
    expect(await texts(bob2, dm)).not.toContain("after the revocation");
    expect(await gw.store.queueDepth(laptop.deviceKey)).toBe(0);
    // Its session ended: it cannot attach again either.
    const client = await GatewayClient.connect(gw.connect());
    const again = Messenger.login(client, bob.name, bob.password, { store: bob2.store, ...FAST });
    await expect(again).rejects.toMatchObject({ code: ErrorCode.DeviceRevoked });
    client.close();
  });
});

describe("with sealed sending", () => {
  it("a message sealed by one device reaches the sender's other device and the peer, once each", async () => {
    const gw3 = await inProcessGateway();
    const previous = gw;
    gw = gw3;
    try {
      const sealedConnection = () => GatewayClient.connect(gw3.connect({ remoteAddress: "10.8.8.1" }));
      const frank = await registerActor(gw3, "frank", { sealedConnection });
      const gina = await registerActor(gw3, "gina");
      const group = await groupOf([frank, gina], "sealed devices");
      const tablet = await secondDevice(frank, "frank's tablet");
      await until(
        [frank, tablet],
        "the tablet joins",
        async () => (await tablet.messenger.conversations()).some((g) => g.id === group),
        ADD_TIMEOUT_MS,
      );
      expect((await frank.messenger.send(group, "sealed hello")).status).toBe("sent");
      await until(
        [gina, tablet],
        "gina and frank's tablet read it",
        async () =>
          (await stored(gina, group)).includes("sealed hello") &&
          (await stored(tablet, group)).includes("sealed hello"),
      );
      await frank.messenger.settled();
      const atFrank = (await frank.messenger.messages(group)).filter((m) => m.text === "sealed hello");
      expect(atFrank.map((m) => m.status)).toEqual(["sent"]);
      expect((await tablet.messenger.messages(group)).find((m) => m.text === "sealed hello")?.sender).toBe(
        frank.name,
      );
      for (const a of [frank, gina, tablet]) a.messenger.close();
    } finally {
      gw = previous;
      await gw3.close();
    }
  });
});

describe("what the gateway refuses", () => {
  it("a device certificate the account key did not sign", async () => {
    const client = await GatewayClient.connect(gw.connect());
    await client.login(alice.name, alice.password);
    const forged = {
      deviceKey: crypto.getRandomValues(new Uint8Array(32)),
      issuedAtMs: Date.now(),
      certificate: crypto.getRandomValues(new Uint8Array(64)),
      name: "mallory's",
    };
    await expect(client.attachDevice(forged)).rejects.toMatchObject({
      code: ErrorCode.DeviceCertificateInvalid,
    });
    client.close();
  });

  it("a second device for an account from before devices, until its first device logged in once", async () => {
    const carol = await seedActor(gw, "carol");
    expect(carol.password).toBe("");
    // Seeded accounts have no password, so no bundle: this is the account's only way in.
    expect(await gw.store.getAccountBundle(carol.name)).toBeUndefined();
    carol.messenger.close();
  });
});

describe("limits and absent devices", () => {
  it("other members add a new device while every other device of its owner is offline", async () => {
    const gw2 = await inProcessGateway();
    const previous = gw;
    gw = gw2;
    try {
      const [carol, dave] = (await Promise.all(["carol", "dave"].map((n) => registerActor(gw2, n)))) as [
        Actor,
        Actor,
      ];
      const group = await groupOf([carol, dave], "trip");
      await carol.messenger.send(group, "plans");
      await until([dave], "dave reads", async () => (await texts(dave, group)).includes("plans"));
      await dave.messenger.flush();
      dave.messenger.close();
      dave.client.close();
      const laptop = await secondDevice(dave, "dave's laptop");
      await until(
        [carol, laptop],
        "carol adds dave's laptop",
        async () => (await laptop.messenger.conversations()).some((g) => g.id === group),
        ADD_TIMEOUT_MS,
      );
      await laptop.messenger.historyRestored;
      expect(await stored(laptop, group)).toContain("plans");
      for (const a of [carol, laptop]) a.messenger.close();
    } finally {
      gw = previous;
      await gw2.close();
    }
  });

  it("refuses devices beyond the account's limit (E036) and backups beyond their size (E038)", async () => {
    const small = await inProcessGateway({
      limits: { maxDevicesPerAccount: 1, backupBytesPerAccount: 1000 },
    });
    const previous = gw;
    gw = small;
    try {
      const erin = await registerActor(small, "erin");
      const client = await GatewayClient.connect(small.connect());
      const login = client.login(erin.name, erin.password);
      await login;
      const another = Messenger.login(client, erin.name, erin.password, {
        store: new MemoryClientStore(),
        ...FAST,
      });
      await expect(another).rejects.toMatchObject({ code: ErrorCode.DeviceLimit });
      client.close();
      const entry = { key: new Uint8Array(32).fill(1), ciphertext: new Uint8Array(2000) };
      await expect(erin.client.putBackup([entry])).rejects.toMatchObject({ code: ErrorCode.BackupFull });
      erin.messenger.close();
    } finally {
      gw = previous;
      await small.close();
    }
  });
});
