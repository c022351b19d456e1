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
    await until([alice, bob, bob2], "bob's second device is in the DM", async () =>
      (await bob2.messenger.conversations()).some((g) => g.id === dm),
    );
    await until([alice, bob2], "everyone sees three leaves", async () => (await leaves(alice, dm)) === 3);
    // The name travels after the add, as an application message from the device that added it.
    await until(
      [bob2],
      "the new device knows the conversation's name",
      async () => (await bob2.messenger.conversation(dm))?.name === "dm",
    );
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
