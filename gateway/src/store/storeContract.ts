/**
 * The behaviour every Store implementation must show. Call runStoreContract from a *.test.ts file.
 */
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runChannelContract } from "./channelContract.ts";
import type { NewEnvelope, SessionRecord, Store, UserRecord } from "./types.ts";
import { envelopeBytes } from "../delivery/frameBudget.ts";

export interface StoreContractOptions {
  /** Closes the store and opens a new one on the same data; enables the durability checks. */
  reopen?: (store: Store) => Promise<Store>;
}

const T0 = 1_700_000_000_000;

function rand(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

function makeUser(username: string, identityKey: Uint8Array = rand(32)): UserRecord {
  return { username, identityKey, opaqueRecord: `record-of-${username}`, createdAtMs: T0 };
}

function makeSession(user: UserRecord, expiresAtMs: number, tokenHash: Uint8Array = rand(32)): SessionRecord {
  return {
    tokenHash,
    username: user.username,
    identityKey: user.identityKey,
    deviceKey: new Uint8Array(0),
    createdAtMs: T0,
    expiresAtMs,
  };
}

function env(
  recipientKey: Uint8Array,
  payload: Uint8Array | string,
  channelId: Uint8Array = new Uint8Array(0),
): NewEnvelope {
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  return { recipientKey, channelId, payload: bytes, enqueuedAtMs: T0 };
}

function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

export function runStoreContract(
  name: string,
  makeStore: () => Promise<Store>,
  opts: StoreContractOptions = {},
): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await makeStore();
    });

    afterEach(async () => {
      await store.close();
    });

    describe("settings", () => {
      it("is undefined until set", async () => {
        expect(await store.getSetting("missing")).toBeUndefined();
      });

      it("initSetting: first writer wins", async () => {
        expect(await store.initSetting("opaque", "first")).toBe("first");
        expect(await store.initSetting("opaque", "second")).toBe("first");
        expect(await store.getSetting("opaque")).toBe("first");
        expect(await store.initSetting("other", "x")).toBe("x");
      });

      it("initSetting: concurrent writers all see the winner", async () => {
        const results = await Promise.all(["a", "b", "c", "d"].map((v) => store.initSetting("k", v)));
        expect(new Set(results).size).toBe(1);
        expect(await store.getSetting("k")).toBe(results[0]);
      });
    });

    describe("users", () => {
      it("creates and looks up by name and by identity key", async () => {
        const alice = makeUser("alice");
        expect(await store.createUser(alice)).toBe(true);
        expect(await store.getUserByName("alice")).toEqual(alice);
        expect(await store.getUserByIdentity(new Uint8Array(alice.identityKey))).toEqual(alice);
        expect(await store.getUserByName("bob")).toBeUndefined();
        expect(await store.getUserByIdentity(rand(32))).toBeUndefined();
      });

      it("rejects a taken username and a taken identity key, changing nothing", async () => {
        const alice = makeUser("alice");
        expect(await store.createUser(alice)).toBe(true);
        expect(await store.createUser(makeUser("alice"))).toBe(false);
        expect(await store.createUser(makeUser("mallory", new Uint8Array(alice.identityKey)))).toBe(false);
        expect(await store.getUserByName("alice")).toEqual(alice);
        expect(await store.getUserByName("mallory")).toBeUndefined();
        expect(await store.createUser(makeUser("bob"))).toBe(true);
      });

      it("concurrent creates of one name: exactly one wins", async () => {
        const results = await Promise.all([1, 2, 3, 4].map(() => store.createUser(makeUser("carol"))));
        expect(results.filter((r) => r)).toHaveLength(1);
      });

      it("matches identity keys by value, also through a subarray view", async () => {
        const alice = makeUser("alice");
        await store.createUser(alice);
        const big = new Uint8Array(40);
        big.set(alice.identityKey, 5);
        expect((await store.getUserByIdentity(big.subarray(5, 37)))?.username).toBe("alice");
      });

      it("copies byte arrays in and out", async () => {
        const alice = makeUser("alice");
        const original = new Uint8Array(alice.identityKey);
        await store.createUser(alice);
        alice.identityKey.fill(0);
        const got = await store.getUserByName("alice");
        expect(got?.identityKey).toEqual(original);
        got?.identityKey.fill(1);
        expect((await store.getUserByName("alice"))?.identityKey).toEqual(original);
        expect(await store.getUserByIdentity(original)).toBeDefined();
      });
    });

    describe("sessions", () => {
      let alice: UserRecord;
      let bob: UserRecord;
      beforeEach(async () => {
        alice = makeUser("alice");
        bob = makeUser("bob");
        await store.createUser(alice);
        await store.createUser(bob);
      });

      it("is returned until it expires", async () => {
        const s = makeSession(alice, T0 + 1000);
        await store.createSession(s);
        expect(await store.getSession(s.tokenHash, T0)).toEqual(s);
        expect(await store.getSession(s.tokenHash, T0 + 999)).toEqual(s);
        expect(await store.getSession(s.tokenHash, T0 + 1000)).toBeUndefined();
        expect(await store.getSession(rand(32), T0)).toBeUndefined();
      });

      it("deletes, harmlessly when unknown", async () => {
        const s = makeSession(alice, T0 + 1000);
        await store.createSession(s);
        await store.deleteSession(s.tokenHash);
        expect(await store.getSession(s.tokenHash, T0)).toBeUndefined();
        await store.deleteSession(s.tokenHash);
        await store.deleteSession(rand(32));
      });

      it("counts only the user's unexpired sessions", async () => {
        await store.createSession(makeSession(alice, T0 + 100));
        await store.createSession(makeSession(alice, T0 + 200));
        await store.createSession(makeSession(alice, T0 + 300));
        await store.createSession(makeSession(bob, T0 + 300));
        expect(await store.countSessions("alice", T0)).toBe(3);
        expect(await store.countSessions("alice", T0 + 150)).toBe(2);
        expect(await store.countSessions("alice", T0 + 300)).toBe(0);
        expect(await store.countSessions("bob", T0)).toBe(1);
        expect(await store.countSessions("nobody", T0)).toBe(0);
      });

      it("trimSessions keeps the newest sessions and returns the deleted ones", async () => {
        const at = (createdAtMs: number, user = alice, expiresAtMs = T0 + 1000): SessionRecord => ({
          ...makeSession(user, expiresAtMs),
          createdAtMs,
        });
        const oldest = at(T0 - 30);
        const middle = at(T0 - 20);
        const newest = at(T0 - 10);
        const expired = at(T0 - 40, alice, T0);
        const bobs = at(T0 - 50, bob);
        for (const s of [newest, oldest, expired, middle, bobs]) await store.createSession(s);

        expect(await store.trimSessions("alice", 3, T0)).toEqual([]);
        expect(await store.trimSessions("alice", 1, T0)).toEqual(
          expect.arrayContaining([middle.tokenHash, oldest.tokenHash]),
        );
        expect(await store.countSessions("alice", T0)).toBe(1);
        expect(await store.getSession(newest.tokenHash, T0)).toEqual(newest);
        expect(await store.getSession(bobs.tokenHash, T0)).toEqual(bobs);
        expect(await store.trimSessions("alice", 0, T0)).toEqual([newest.tokenHash]);
        expect(await store.trimSessions("nobody", 0, T0)).toEqual([]);
      });

      it("deleteExpiredSessions removes exactly the expired ones", async () => {
        const early = makeSession(alice, T0 + 100);
        const edge = makeSession(bob, T0 + 200);
        const late = makeSession(alice, T0 + 300);
        for (const s of [early, edge, late]) await store.createSession(s);
        expect(await store.deleteExpiredSessions(T0 + 200)).toBe(2);
        expect(await store.deleteExpiredSessions(T0 + 200)).toBe(0);
        expect(await store.getSession(late.tokenHash, T0)).toEqual(late);
        expect(await store.getSession(early.tokenHash, T0)).toBeUndefined();
        expect(await store.getSession(edge.tokenHash, T0)).toBeUndefined();
      });

      it("rejects an unknown user and a duplicate token hash", async () => {
        await expect(store.createSession(makeSession(makeUser("ghost"), T0 + 100))).rejects.toThrow();
        const s = makeSession(alice, T0 + 100);
        await store.createSession(s);
        await expect(store.createSession(makeSession(bob, T0 + 500, s.tokenHash))).rejects.toThrow();
        expect(await store.getSession(s.tokenHash, T0)).toEqual(s);
      });

      it("copies byte arrays in and out", async () => {
        const s = makeSession(alice, T0 + 100);
        const token = new Uint8Array(s.tokenHash);
        const identity = new Uint8Array(s.identityKey);
        await store.createSession(s);
        s.tokenHash.fill(0);
        s.identityKey.fill(0);
        const got = await store.getSession(token, T0);
        expect(got?.tokenHash).toEqual(token);
        expect(got?.identityKey).toEqual(identity);
        got?.tokenHash.fill(7);
        expect((await store.getSession(token, T0))?.tokenHash).toEqual(token);
      });
    });

    describe("KeyPackages", () => {
      let id: Uint8Array;
      beforeEach(async () => {
        const alice = makeUser("alice");
        id = alice.identityKey;
        await store.createUser(alice);
      });

      it("serves single-use ones oldest first, once each, then the last resort repeatedly", async () => {
        const kps = [rand(300), rand(300), rand(300)];
        const lastResort = rand(300);
        expect(await store.addKeyPackages(id, kps.slice(0, 2))).toBe(2);
        expect(await store.addKeyPackages(id, kps.slice(2), lastResort)).toBe(3);
        expect(await store.countKeyPackages(id)).toBe(3);
        for (const [i, kp] of kps.entries()) {
          expect(await store.claimKeyPackage(id)).toEqual({ keyPackage: kp, lastResort: false });
          expect(await store.countKeyPackages(id)).toBe(2 - i);
        }
        for (let i = 0; i < 3; i++) {
          expect(await store.claimKeyPackage(id)).toEqual({ keyPackage: lastResort, lastResort: true });
        }
        expect(await store.countKeyPackages(id)).toBe(0);
      });

      it("returns undefined when there is neither", async () => {
        expect(await store.claimKeyPackage(id)).toBeUndefined();
        await store.addKeyPackages(id, [rand(10)]);
        expect((await store.claimKeyPackage(id))?.lastResort).toBe(false);
        expect(await store.claimKeyPackage(id)).toBeUndefined();
        expect(await store.claimKeyPackage(rand(32))).toBeUndefined();
        expect(await store.countKeyPackages(rand(32))).toBe(0);
      });

      it("replaces the last resort; single-use ones still come first", async () => {
        await store.addKeyPackages(id, [], rand(50));
        expect(await store.countKeyPackages(id)).toBe(0);
        const newer = rand(60);
        const single = rand(70);
        expect(await store.addKeyPackages(id, [single], newer)).toBe(1);
        expect(await store.claimKeyPackage(id)).toEqual({ keyPackage: single, lastResort: false });
        expect(await store.claimKeyPackage(id)).toEqual({ keyPackage: newer, lastResort: true });
        // Adding without a last resort keeps the existing one.
        await store.addKeyPackages(id, []);
        expect(await store.claimKeyPackage(id)).toEqual({ keyPackage: newer, lastResort: true });
      });

      it("concurrent claims get each single-use one exactly once", async () => {
        const kps = Array.from({ length: 20 }, () => rand(64));
        const lastResort = rand(64);
        await store.addKeyPackages(id, kps, lastResort);
        const claims = await Promise.all(Array.from({ length: 30 }, () => store.claimKeyPackage(id)));
        const single = claims.filter((c) => c?.lastResort === false).map((c) => hex(c!.keyPackage));
        const last = claims.filter((c) => c?.lastResort === true);
        expect(single).toHaveLength(20);
        expect(new Set(single)).toEqual(new Set(kps.map(hex)));
        expect(last).toHaveLength(10);
        for (const c of last) expect(c?.keyPackage).toEqual(lastResort);
        expect(await store.countKeyPackages(id)).toBe(0);
      });

      it("keeps identities apart", async () => {
        const bob = makeUser("bob");
        await store.createUser(bob);
        const a = rand(16);
        const b = rand(16);
        await store.addKeyPackages(id, [a]);
        await store.addKeyPackages(bob.identityKey, [b]);
        expect((await store.claimKeyPackage(bob.identityKey))?.keyPackage).toEqual(b);
        expect((await store.claimKeyPackage(id))?.keyPackage).toEqual(a);
      });

      it("rejects an identity that is no user's, storing nothing", async () => {
        const stranger = rand(32);
        await expect(store.addKeyPackages(stranger, [rand(16)], rand(16))).rejects.toThrow();
        expect(await store.countKeyPackages(stranger)).toBe(0);
        expect(await store.claimKeyPackage(stranger)).toBeUndefined();
      });

      it("copies byte arrays in and out", async () => {
        const kp = rand(32);
        const lr = rand(32);
        const kpCopy = new Uint8Array(kp);
        const lrCopy = new Uint8Array(lr);
        const list = [kp];
        await store.addKeyPackages(id, list, lr);
        kp.fill(0);
        lr.fill(0);
        list.push(rand(32));
        expect(await store.countKeyPackages(id)).toBe(1);
        expect((await store.claimKeyPackage(id))?.keyPackage).toEqual(kpCopy);
        const first = await store.claimKeyPackage(id);
        first?.keyPackage.fill(9);
        expect((await store.claimKeyPackage(id))?.keyPackage).toEqual(lrCopy);
      });
    });

    describe("queue", () => {
      const A = rand(32);
      const B = rand(32);
      const C = rand(32);

      it("assigns per-recipient seqs starting at 1, independently", async () => {
        expect(await store.headSeq(A)).toBe(0);
        const seqs = await store.enqueue([
          env(A, "a1"),
          env(B, "b1"),
          env(A, "a2"),
          env(C, "c1"),
          env(A, "a3"),
        ]);
        expect(seqs).toEqual([1, 1, 2, 1, 3]);
        expect(await store.enqueue([env(B, "b2"), env(A, "a4")])).toEqual([2, 4]);
        expect(await store.headSeq(A)).toBe(4);
        expect(await store.headSeq(B)).toBe(2);
        expect(await store.headSeq(C)).toBe(1);
        expect(await store.enqueue([])).toEqual([]);
      });

      it("preserves order within a batch and across batches", async () => {
        await store.enqueue([env(A, "1"), env(B, "x"), env(A, "2"), env(A, "3")]);
        await store.enqueue([env(A, "4")]);
        const got = await store.fetch(A, 0, 100);
        expect(got.map((e) => text(e.payload))).toEqual(["1", "2", "3", "4"]);
        expect(got.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      });

      it("concurrent enqueues get distinct, gapless seqs", async () => {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.enqueue([env(A, `${i}a`), env(A, `${i}b`)])),
        );
        const all = results.flat().sort((x, y) => x - y);
        expect(all).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        for (const r of results) expect(r[1]).toBe(r[0]! + 1);
      });

      it("fetches after a seq, at most limit, oldest first", async () => {
        await store.enqueue(Array.from({ length: 10 }, (_, i) => env(A, `m${i + 1}`)));
        const seqsOf = async (after: number, limit: number) =>
          (await store.fetch(A, after, limit)).map((e) => e.seq);
        expect(await seqsOf(0, 3)).toEqual([1, 2, 3]);
        expect(await seqsOf(3, 3)).toEqual([4, 5, 6]);
        expect(await seqsOf(9, 5)).toEqual([10]);
        expect(await seqsOf(10, 5)).toEqual([]);
        expect(await seqsOf(0, 0)).toEqual([]);
        expect(await seqsOf(-5, 2)).toEqual([1, 2]);
        expect(await store.fetch(B, 0, 10)).toEqual([]);
        await expect(store.fetch(A, 0, -1)).rejects.toThrow(RangeError);
        await expect(store.fetch(A, 0, 1.5)).rejects.toThrow(RangeError);
      });

      it("cuts a page by bytes, never below one envelope, and says whether more wait", async () => {
        const channel = rand(16);
        const big = (n: number) => env(A, new Uint8Array(n).fill(n % 251), channel);
        // The same array for A and B: a fan-out, stored once (its size must still count).
        const shared = new Uint8Array(600).fill(7);
        await store.enqueue([big(600), big(600), env(A, shared, channel), env(B, shared, channel), big(10)]);
        const each = (n: number) => envelopeBytes(16, n);
        const page = async (after: number, limit: number, maxBytes: number, channelId?: Uint8Array) => {
          const got = await store.fetchPage(A, after, { limit, maxBytes, channelId });
          return { seqs: got.envelopes.map((e) => e.seq), more: got.more };
        };
        expect(await page(0, 10, 2 * each(600))).toEqual({ seqs: [1, 2], more: true });
        expect(await page(0, 10, 2 * each(600) - 1)).toEqual({ seqs: [1], more: true });
        // An envelope larger than the whole budget still comes alone: a page is never empty.
        expect(await page(0, 10, 1)).toEqual({ seqs: [1], more: true });
        expect(await page(2, 10, each(600) + each(10))).toEqual({ seqs: [3, 4], more: false });
        expect(await page(2, 10, each(600) + each(10) - 1)).toEqual({ seqs: [3], more: true });
        expect(await page(0, 2, 1_000_000)).toEqual({ seqs: [1, 2], more: true });
        expect(await page(0, 4, 1_000_000)).toEqual({ seqs: [1, 2, 3, 4], more: false });
        expect(await page(4, 4, 1_000_000)).toEqual({ seqs: [], more: false });
        expect(await page(0, 10, each(600), channel)).toEqual({ seqs: [1], more: true });
        expect(await page(0, 10, 1_000_000, rand(16))).toEqual({ seqs: [], more: false });
        const full = await store.fetchPage(A, 2, { limit: 1, maxBytes: 1 });
        expect(full.envelopes[0]!.payload).toEqual(shared);
        await expect(store.fetchPage(A, 0, { limit: 0, maxBytes: 10 })).rejects.toThrow(RangeError);
        await expect(store.fetchPage(A, 0, { limit: 1.5, maxBytes: 10 })).rejects.toThrow(RangeError);
        await expect(store.fetchPage(A, 0, { limit: 1, maxBytes: NaN })).rejects.toThrow(RangeError);
      });

      it("ack deletes up to seq and returns the count; beyond head is harmless", async () => {
        await store.enqueue([env(A, "1"), env(A, "2"), env(A, "3"), env(A, "4"), env(B, "b")]);
        expect(await store.queueDepth(A)).toBe(4);
        expect(await store.ack(A, 2)).toBe(2);
        expect(await store.ack(A, 2)).toBe(0);
        expect(await store.queueDepth(A)).toBe(2);
        expect((await store.fetch(A, 0, 10)).map((e) => e.seq)).toEqual([3, 4]);
        expect(await store.ack(A, 1000)).toBe(2);
        expect(await store.queueDepth(A)).toBe(0);
        expect(await store.headSeq(A)).toBe(4);
        expect(await store.queueDepth(B)).toBe(1);
        expect(await store.ack(C, 10)).toBe(0);
        expect(await store.headSeq(C)).toBe(0);
      });

      it("never reuses seqs after acks empty the queue", async () => {
        await store.enqueue([env(A, "1"), env(A, "2"), env(A, "3")]);
        await store.ack(A, 3);
        expect(await store.headSeq(A)).toBe(3);
        expect(await store.enqueue([env(A, "4")])).toEqual([4]);
        expect((await store.fetch(A, 0, 10)).map((e) => [e.seq, text(e.payload)])).toEqual([[4, "4"]]);
      });

      it("round-trips payloads, channel ids and times exactly", async () => {
        const big = rand(1024 * 1024);
        const channel = rand(16);
        const frame = rand(100);
        const view = frame.subarray(10, 60);
        const envelopes: NewEnvelope[] = [
          { recipientKey: A, channelId: new Uint8Array(0), payload: new Uint8Array(0), enqueuedAtMs: T0 + 1 },
          { recipientKey: A, channelId: channel, payload: new Uint8Array([0]), enqueuedAtMs: T0 + 2 },
          { recipientKey: A, channelId: channel, payload: big, enqueuedAtMs: T0 + 3 },
          { recipientKey: A, channelId: new Uint8Array(0), payload: view, enqueuedAtMs: T0 + 4 },
        ];
        await store.enqueue(envelopes);
        const got = await store.fetch(A, 0, 10);
        expect(got).toHaveLength(4);
        got.forEach((e, i) => {
          const want = envelopes[i]!;
          expect(e.seq).toBe(i + 1);
          expect(e.enqueuedAtMs).toBe(want.enqueuedAtMs);
          expect(e.channelId).toEqual(new Uint8Array(want.channelId));
          expect(e.payload.byteLength).toBe(want.payload.byteLength);
          expect(hex(e.payload) === hex(want.payload)).toBe(true);
          expect(e.payload).toBeInstanceOf(Uint8Array);
        });
      });

      it("copies inputs and outputs", async () => {
        const payload = new TextEncoder().encode("hello");
        const channel = rand(16);
        const channelCopy = new Uint8Array(channel);
        const recipient = new Uint8Array(A);
        const batch: NewEnvelope[] = [
          { recipientKey: recipient, channelId: channel, payload, enqueuedAtMs: T0 },
        ];
        await store.enqueue(batch);
        payload.fill(0);
        channel.fill(0);
        recipient.fill(0);
        batch.push(env(A, "pushed later"));
        const got = await store.fetch(A, 0, 10);
        expect(got).toHaveLength(1);
        expect(text(got[0]!.payload)).toBe("hello");
        expect(got[0]!.channelId).toEqual(channelCopy);
        got[0]!.payload.fill(1);
        expect(text((await store.fetch(A, 0, 10))[0]!.payload)).toBe("hello");
        expect(await store.queueDepth(recipient)).toBe(0);
      });
    });

    runChannelContract(() => store);

    const reopen = opts.reopen;
    if (reopen !== undefined) {
      describe("durability across close and reopen", () => {
        it("keeps every kind of state", async () => {
          const alice = makeUser("alice");
          const R = rand(32);
          const session = makeSession(alice, T0 + 10_000);
          const kps = [rand(40), rand(40), rand(40)];
          const lastResort = rand(40);
          const payloads = [rand(0), rand(1000), rand(70_000)];

          await store.initSetting("opaque", "setup");
          await store.createUser(alice);
          await store.createSession(session);
          await store.addKeyPackages(alice.identityKey, kps, lastResort);
          await store.claimKeyPackage(alice.identityKey);
          await store.enqueue([env(R, "acked"), ...payloads.map((p) => env(R, p, rand(16)))]);
          await store.ack(R, 1);
          await store.enqueue([env(R, "x"), env(R, "y")]);
          await store.ack(R, 1000);
          await store.enqueue(payloads.map((p) => env(R, p)));

          store = await reopen(store);

          expect(await store.getSetting("opaque")).toBe("setup");
          expect(await store.initSetting("opaque", "other")).toBe("setup");
          expect(await store.getUserByName("alice")).toEqual(alice);
          expect(await store.getUserByIdentity(alice.identityKey)).toEqual(alice);
          expect(await store.createUser(makeUser("alice"))).toBe(false);
          expect(await store.getSession(session.tokenHash, T0)).toEqual(session);
          expect(await store.countKeyPackages(alice.identityKey)).toBe(2);
          expect((await store.claimKeyPackage(alice.identityKey))?.keyPackage).toEqual(kps[1]);
          expect((await store.claimKeyPackage(alice.identityKey))?.keyPackage).toEqual(kps[2]);
          expect(await store.claimKeyPackage(alice.identityKey)).toEqual({
            keyPackage: lastResort,
            lastResort: true,
          });
          expect(await store.headSeq(R)).toBe(9);
          const got = await store.fetch(R, 0, 100);
          expect(got.map((e) => e.seq)).toEqual([7, 8, 9]);
          got.forEach((e, i) => expect(hex(e.payload)).toBe(hex(payloads[i]!)));
          expect(await store.enqueue([env(R, "next")])).toEqual([10]);

          store = await reopen(store);
          expect(await store.headSeq(R)).toBe(10);
          expect(await store.queueDepth(R)).toBe(4);
          expect(await store.claimKeyPackage(alice.identityKey)).toEqual({
            keyPackage: lastResort,
            lastResort: true,
          });
        });
      });
    }
  });
}
