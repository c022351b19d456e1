import { describe, expect, it } from "vitest";
import { CLASSICAL_SUITE, createIdentity, suiteImpl } from "../mls/index.ts";
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { Contacts, type ContactView } from "./contacts.ts";
import { MemoryClientStore } from "./memoryClientStore.ts";
import { ClientSession } from "./session.ts";

async function setup() {
  const impl = await suiteImpl(CLASSICAL_SUITE);
  const me = await createIdentity("alice", impl);
  const session = new ClientSession(me, CLASSICAL_SUITE, impl, new MemoryClientStore(), () => 42);
  const events: ContactView[] = [];
  session.on("contact", (c) => events.push(c));
  const directory = new Map<string, Uint8Array>([["bob", new Uint8Array(32).fill(1)]]);
  const lookup = async (name: string) => {
    const key = directory.get(name);
    if (name === "offline") throw new Error("connection lost");
    if (!key) throw new QpqError(ErrorCode.UserNotFound, "no such user");
    return key;
  };
  return { contacts: new Contacts(session, lookup), events };
}

describe("contacts", () => {
  const key1 = new Uint8Array(32).fill(1);
  const key2 = new Uint8Array(32).fill(2);

  it("trusts a first key, verifies it, and reports loudly when a verified key changes", async () => {
    const { contacts, events } = await setup();
    await contacts.observe("bob", key1);
    expect(await contacts.get("bob")).toMatchObject({ verified: false, keyChanged: false });

    const verified = await contacts.verify("bob");
    expect(verified).toMatchObject({ verified: true, keyChanged: false });
    expect(verified.safetyNumber).toMatch(/^(\d{5} ){11}\d{5}$/);

    await contacts.observe("bob", key1);
    expect(events).toHaveLength(1);
    await contacts.observe("bob", key2);
    const changed = await contacts.get("bob");
    expect(changed).toMatchObject({
      verified: false,
      keyChanged: true,
      previousKey: key1,
      identityKey: key2,
    });
    expect(changed!.safetyNumber).not.toBe(verified.safetyNumber);
    expect(events.at(-1)).toMatchObject({ username: "bob", keyChanged: true });

    expect(await contacts.verify("bob")).toMatchObject({ verified: true, keyChanged: false });
  });

  it("updates an unverified contact's key quietly", async () => {
    const { contacts, events } = await setup();
    await contacts.observe("carol", key1);
    await contacts.observe("carol", key2);
    expect(await contacts.get("carol")).toMatchObject({ keyChanged: false, identityKey: key2 });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ keyChanged: false });
  });

  it("ignores our own name", async () => {
    const { contacts } = await setup();
    await contacts.observe("alice", key1);
    expect(await contacts.get("alice")).toBeUndefined();
  });

  it("learns a name first seen in a group from the directory, and flags a member whose key differs", async () => {
    const { contacts, events } = await setup();
    await contacts.checkMember("bob", key1);
    expect(await contacts.get("bob")).toMatchObject({ identityKey: key1, impostor: false });
    // Someone added a leaf that claims to be bob, with another key.
    await contacts.checkMember("bob", key2);
    expect(await contacts.get("bob")).toMatchObject({ identityKey: key1, impostor: true });
    expect(events.at(-1)).toMatchObject({ username: "bob", impostor: true });
  });

  it("flags look-alike and unknown names as impostors instead of failing the check", async () => {
    const { contacts, events } = await setup();
    // Cyrillic "а", a zero-width space, capitals: none is a canonical name, so none is bob or alice.
    for (const name of ["\u0430lice", "bo\u200bb", "Bob"]) {
      await contacts.checkMember(name, key2);
      expect(events.at(-1)).toMatchObject({ username: name, impostor: true, identityKey: key2 });
      expect(await contacts.get(name)).toBeUndefined();
    }
    // Canonical, but no directory entry: nobody's name, so nobody's key.
    await contacts.checkMember("bob_", key2);
    expect(events.at(-1)).toMatchObject({ username: "bob_", impostor: true });
    expect(await contacts.get("bob_")).toBeUndefined();
    const reported = events.length;
    await contacts.checkMember("bob_", key2);
    expect(events).toHaveLength(reported);
  });

  it("does not take a failed lookup for an answer", async () => {
    const { contacts, events } = await setup();
    await expect(contacts.checkMember("offline", key1)).rejects.toThrow("connection lost");
    expect(events).toEqual([]);
  });
});
