/**
 * The multi-device part of the Store contract (devices, account bundles, history backups), kept
 * beside storeContract.ts: run by every Store's test.
 */
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NewDevice, SessionRecord, Store, UserRecord } from "./types.ts";

const T0 = 1_700_000_000_000;

function rand(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

function user(username: string): UserRecord {
  return { username, identityKey: rand(32), opaqueRecord: `record-of-${username}`, createdAtMs: T0 };
}

function device(username: string, deviceKey: Uint8Array = rand(32), name = "laptop"): NewDevice {
  return {
    deviceKey,
    username,
    certificate: rand(64),
    issuedAtMs: T0,
    name,
    createdAtMs: T0,
    lastSeenMs: T0,
  };
}

function session(u: UserRecord, deviceKey: Uint8Array): SessionRecord {
  return {
    tokenHash: rand(32),
    username: u.username,
    identityKey: u.identityKey,
    deviceKey,
    createdAtMs: T0,
    expiresAtMs: T0 + 3_600_000,
  };
}

function entry(size = 100): { key: Uint8Array; ciphertext: Uint8Array } {
  return { key: rand(32), ciphertext: rand(size) };
}

export function runDeviceContract(
  name: string,
  makeStore: () => Promise<Store>,
  reopen?: (store: Store) => Promise<Store>,
): void {
  describe(`Store contract, devices: ${name}`, () => {
    let store: Store;
    let alice: UserRecord;
    let bob: UserRecord;
    beforeEach(async () => {
      store = await makeStore();
      alice = user("alice");
      bob = user("bob");
      await store.createUser(alice);
      await store.createUser(bob);
    });
    afterEach(async () => {
      await store.close();
    });

    it("adds a device once, keeps it per account, and refuses keys of others", async () => {
      const laptop = device("alice");
      expect(await store.addDevice(laptop, 10)).toBe("added");
      expect(await store.addDevice({ ...laptop, name: "renamed?" }, 10)).toBe("exists");
      expect((await store.getDevice(laptop.deviceKey))?.name).toBe("laptop");
      // Another account may not claim alice's device key, nor a user's identity key.
      expect(await store.addDevice({ ...laptop, username: "bob" }, 10)).toBe("taken");
      expect(await store.addDevice(device("bob", alice.identityKey), 10)).toBe("taken");
      // An account's own identity key is its original device.
      expect(await store.addDevice(device("alice", alice.identityKey), 10)).toBe("added");
      await expect(store.addDevice(device("ghost"), 10)).rejects.toThrow();
      expect(await store.getDevice(rand(32))).toBeUndefined();
    });

    it("refuses a new user whose identity key is someone's device key", async () => {
      const laptop = device("alice");
      await store.addDevice(laptop, 10);
      expect(await store.createUser({ ...user("mallory"), identityKey: laptop.deviceKey })).toBe(false);
      expect(await store.getUserByName("mallory")).toBeUndefined();
    });

    it("caps unrevoked devices per account; a revoked one frees its place", async () => {
      const first = device("alice");
      expect(await store.addDevice(first, 2)).toBe("added");
      expect(await store.addDevice(device("alice"), 2)).toBe("added");
      expect(await store.addDevice(device("alice"), 2)).toBe("full");
      expect(await store.addDevice(device("bob"), 2)).toBe("added");
      await store.revokeDevice("alice", first.deviceKey, T0 + 1);
      expect(await store.addDevice(device("alice"), 2)).toBe("added");
    });

    it("lists devices in the order added, revoked ones included; device keys only the unrevoked", async () => {
      const a = device("alice", rand(32), "a");
      const b = device("alice", rand(32), "b");
      const c = device("alice", rand(32), "c");
      for (const d of [a, b, c]) await store.addDevice(d, 10);
      await store.addDevice(device("bob"), 10);
      await store.revokeDevice("alice", b.deviceKey, T0 + 5);
      const list = await store.listDevices("alice");
      expect(list.map((d) => d.name)).toEqual(["a", "b", "c"]);
      expect(list[1]?.revokedAtMs).toBe(T0 + 5);
      expect(list[0]?.revokedAtMs).toBeUndefined();
      expect(list[0]).toEqual({ ...a });
      const keys = await store.listDeviceKeys(alice.identityKey);
      expect(keys).toEqual({ devices: [a.deviceKey, c.deviceKey], everAttached: true });
      expect(await store.listDeviceKeys(rand(32))).toEqual({ devices: [], everAttached: false });
      const carol = user("carol");
      await store.createUser(carol);
      expect(await store.listDeviceKeys(carol.identityKey)).toEqual({ devices: [], everAttached: false });
    });

    it("renames only an unrevoked device of the same account; last seen only moves forward", async () => {
      const laptop = device("alice");
      await store.addDevice(laptop, 10);
      expect(await store.renameDevice("bob", laptop.deviceKey, "mine")).toBe(false);
      expect(await store.renameDevice("alice", laptop.deviceKey, "work laptop")).toBe(true);
      await store.touchDevice(laptop.deviceKey, T0 + 100);
      await store.touchDevice(laptop.deviceKey, T0 + 50);
      const stored = await store.getDevice(laptop.deviceKey);
      expect(stored?.name).toBe("work laptop");
      expect(stored?.lastSeenMs).toBe(T0 + 100);
      await store.revokeDevice("alice", laptop.deviceKey, T0 + 200);
      expect(await store.renameDevice("alice", laptop.deviceKey, "again")).toBe(false);
    });

    it("revoking deletes the device's sessions, queue and KeyPackages, and nothing of the others", async () => {
      const laptop = device("alice");
      const phone = device("alice");
      await store.addDevice(laptop, 10);
      await store.addDevice(phone, 10);
      const s1 = session(alice, laptop.deviceKey);
      const s2 = session(alice, phone.deviceKey);
      const unattached = session(alice, new Uint8Array(0));
      for (const s of [s1, s2, unattached]) await store.createSession(s);
      await store.enqueue(
        [laptop, phone].map((d) => ({
          recipientKey: d.deviceKey,
          channelId: rand(16),
          payload: rand(50),
          enqueuedAtMs: T0,
        })),
      );
      await store.addKeyPackages(laptop.deviceKey, [rand(40)], rand(40));
      await store.addKeyPackages(phone.deviceKey, [rand(40)]);

      expect(await store.revokeDevice("bob", laptop.deviceKey, T0 + 1)).toBeUndefined();
      const ended = await store.revokeDevice("alice", laptop.deviceKey, T0 + 1);
      expect(ended).toEqual([s1.tokenHash]);
      expect(await store.revokeDevice("alice", laptop.deviceKey, T0 + 2)).toBeUndefined();
      expect(await store.getSession(s1.tokenHash, T0)).toBeUndefined();
      expect(await store.getSession(s2.tokenHash, T0)).toBeDefined();
      expect(await store.getSession(unattached.tokenHash, T0)).toBeDefined();
      expect(await store.queueDepth(laptop.deviceKey)).toBe(0);
      expect(await store.queueDepth(phone.deviceKey)).toBe(1);
      expect(await store.claimKeyPackage(laptop.deviceKey)).toBeUndefined();
      expect(await store.countKeyPackages(phone.deviceKey)).toBe(1);
      expect(await store.addDevice(laptop, 10)).toBe("revoked");
    });

    it("binds a session to a device", async () => {
      const laptop = device("alice");
      await store.addDevice(laptop, 10);
      const s = session(alice, new Uint8Array(0));
      await store.createSession(s);
      expect((await store.getSession(s.tokenHash, T0))?.deviceKey).toEqual(new Uint8Array(0));
      expect(await store.setSessionDevice(s.tokenHash, laptop.deviceKey)).toBe(true);
      expect((await store.getSession(s.tokenHash, T0))?.deviceKey).toEqual(laptop.deviceKey);
      expect(await store.setSessionDevice(rand(32), laptop.deviceKey)).toBe(false);
    });

    it("stocks KeyPackages under a device key, not under a stranger's", async () => {
      const laptop = device("alice");
      await store.addDevice(laptop, 10);
      expect(await store.addKeyPackages(laptop.deviceKey, [rand(40), rand(40)])).toBe(2);
      await expect(store.addKeyPackages(rand(32), [rand(40)])).rejects.toThrow();
    });

    it("keeps one account bundle per user, replaced by the next", async () => {
      expect(await store.getAccountBundle("alice")).toBeUndefined();
      const first = rand(300);
      const second = rand(310);
      await store.setAccountBundle("alice", first);
      await store.setAccountBundle("alice", second);
      await store.setAccountBundle("bob", first);
      expect(await store.getAccountBundle("alice")).toEqual(second);
      expect(await store.getAccountBundle("bob")).toEqual(first);
      await expect(store.setAccountBundle("ghost", first)).rejects.toThrow();
    });

    it("appends backup entries once per key, in order, and counts their bytes", async () => {
      const [a, b, c] = [entry(100), entry(200), entry(300)];
      expect(await store.putBackupEntries("alice", [a!, b!, a!], 10_000)).toEqual({
        status: "stored",
        stored: 2,
        usedBytes: 32 * 2 + 300,
      });
      // b again (from another device) is skipped; c is new.
      expect(await store.putBackupEntries("alice", [b!, c!], 10_000)).toEqual({
        status: "stored",
        stored: 1,
        usedBytes: 32 * 3 + 600,
      });
      expect(await store.backupBytes("alice")).toBe(32 * 3 + 600);
      expect(await store.backupBytes("bob")).toBe(0);
      const page = await store.fetchBackupEntries("alice", 0, { limit: 10, maxBytes: 100_000 });
      expect(page.more).toBe(false);
      expect(page.entries).toEqual([
        { seq: 1, ...a },
        { seq: 2, ...b },
        { seq: 3, ...c },
      ]);
      expect((await store.fetchBackupEntries("bob", 0, { limit: 10, maxBytes: 100_000 })).entries).toEqual(
        [],
      );
      await expect(store.putBackupEntries("ghost", [a!], 10_000)).rejects.toThrow();
    });

    it("refuses a whole upload that would pass the limit", async () => {
      await store.putBackupEntries("alice", [entry(400)], 1000);
      const outcome = await store.putBackupEntries("alice", [entry(100), entry(500)], 1000);
      expect(outcome).toEqual({ status: "full", usedBytes: 432 });
      expect(
        (await store.fetchBackupEntries("alice", 0, { limit: 10, maxBytes: 10_000 })).entries,
      ).toHaveLength(1);
      // Entries already held cost nothing again, so a retry of a stored batch still succeeds.
      const held = (await store.fetchBackupEntries("alice", 0, { limit: 1, maxBytes: 10_000 })).entries[0]!;
      expect(
        await store.putBackupEntries("alice", [{ key: held.key, ciphertext: held.ciphertext }], 432),
      ).toEqual({
        status: "stored",
        stored: 0,
        usedBytes: 432,
      });
    });

    it("cuts backup pages by count and by bytes, never below one entry", async () => {
      const entries = [entry(1000), entry(1000), entry(1000), entry(5000)];
      await store.putBackupEntries("alice", entries, 100_000);
      const byCount = await store.fetchBackupEntries("alice", 0, { limit: 2, maxBytes: 100_000 });
      expect(byCount.entries.map((e) => e.seq)).toEqual([1, 2]);
      expect(byCount.more).toBe(true);
      const byBytes = await store.fetchBackupEntries("alice", 1, { limit: 10, maxBytes: 2100 });
      expect(byBytes.entries.map((e) => e.seq)).toEqual([2, 3]);
      expect(byBytes.more).toBe(true);
      const large = await store.fetchBackupEntries("alice", 3, { limit: 10, maxBytes: 10 });
      expect(large.entries.map((e) => e.seq)).toEqual([4]);
      expect(large.more).toBe(false);
      await expect(store.fetchBackupEntries("alice", 0, { limit: 0, maxBytes: 10 })).rejects.toThrow(
        RangeError,
      );
    });

    if (reopen) {
      it("keeps devices, bundles and backups across a reopen", async () => {
        const laptop = device("alice");
        await store.addDevice(laptop, 10);
        await store.setAccountBundle("alice", rand(100));
        const e = entry(64);
        await store.putBackupEntries("alice", [e], 10_000);
        store = await reopen(store);
        expect((await store.getDevice(laptop.deviceKey))?.username).toBe("alice");
        expect(await store.getAccountBundle("alice")).toHaveLength(100);
        expect((await store.fetchBackupEntries("alice", 0, { limit: 5, maxBytes: 10_000 })).entries).toEqual([
          { seq: 1, ...e },
        ]);
        expect(await store.putBackupEntries("alice", [e], 10_000)).toMatchObject({ stored: 0 });
      });
    }
  });
}
