/**
 * The hybrid-key part of the Store contract, kept beside storeContract.ts: run by every Store's test.
 */
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store, UserRecord } from "./types.ts";

function rand(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

function user(username: string): UserRecord {
  return { username, identityKey: rand(32), opaqueRecord: `record-of-${username}`, createdAtMs: 1 };
}

export function runHybridKeyContract(
  name: string,
  makeStore: () => Promise<Store>,
  reopen?: (store: Store) => Promise<Store>,
): void {
  describe(`Store contract, hybrid keys: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    it("is undefined until published, then returns the latest one per identity", async () => {
      const alice = user("alice");
      const bob = user("bob");
      await store.createUser(alice);
      await store.createUser(bob);
      expect(await store.getHybridKey(alice.identityKey)).toBeUndefined();
      const first = { publicKey: rand(1216), signature: rand(64) };
      const second = { publicKey: rand(1216), signature: rand(64) };
      await store.setHybridKey(alice.identityKey, first);
      expect(await store.getHybridKey(alice.identityKey)).toEqual(first);
      await store.setHybridKey(alice.identityKey, second);
      expect(await store.getHybridKey(alice.identityKey)).toEqual(second);
      expect(await store.getHybridKey(bob.identityKey)).toBeUndefined();
    });

    it("rejects an identity that is no user's, storing nothing", async () => {
      const stranger = rand(32);
      await expect(
        store.setHybridKey(stranger, { publicKey: rand(8), signature: rand(8) }),
      ).rejects.toThrow();
      expect(await store.getHybridKey(stranger)).toBeUndefined();
    });

    it("copies byte arrays in and out", async () => {
      const alice = user("alice");
      await store.createUser(alice);
      const key = { publicKey: rand(1216), signature: rand(64) };
      const kept = { publicKey: new Uint8Array(key.publicKey), signature: new Uint8Array(key.signature) };
      await store.setHybridKey(alice.identityKey, key);
      key.publicKey.fill(0);
      (await store.getHybridKey(alice.identityKey))?.signature.fill(0);
      expect(await store.getHybridKey(alice.identityKey)).toEqual(kept);
    });

    if (reopen) {
      it("survives close and reopen", async () => {
        const alice = user("alice");
        await store.createUser(alice);
        const key = { publicKey: rand(1216), signature: rand(64) };
        await store.setHybridKey(alice.identityKey, key);
        store = await reopen(store);
        expect(await store.getHybridKey(alice.identityKey)).toEqual(key);
      });
    }
  });
}
