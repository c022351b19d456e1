/**
 * The behaviour every ClientStore implementation must show. Call runClientStoreContract from a
 * *.test.ts file. Orders the interface leaves open (KeyPackages, groups) are compared sorted.
 */
import { describe, expect, it } from "vitest";
import { bytesEqual } from "../util/bytes.ts";
import type {
  AccountRecord,
  ClientStore,
  GroupRecord,
  KeyPackageRecord,
  MessageRecord,
  PendingRecord,
} from "./storage.ts";

export interface ClientStoreContractOptions {
  /** Closes the store and opens a new one on the same data; enables the durability checks. */
  reopen?: (store: ClientStore) => Promise<ClientStore>;
}

const T0 = 1_700_000_000_000;
const GROUP_A = "aa".repeat(16);
const GROUP_B = "bb".repeat(16);

/** Deterministic bytes (no node:crypto here: this file must stay browser-safe). */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function account(seed = 1): AccountRecord {
  return {
    username: "alice",
    signaturePublicKey: pattern(32, seed),
    signaturePrivateKey: pattern(64, seed + 1),
    suite: "MLS_256_XWING_AES256GCM_SHA512_Ed25519",
    createdAtMs: T0,
  };
}

function keyPackage(ref: string, lastResort = false): KeyPackageRecord {
  const seed = ref.charCodeAt(ref.length - 1);
  return {
    ref,
    encoded: pattern(400, seed),
    initPrivateKey: pattern(32, seed + 1),
    hpkePrivateKey: pattern(32, seed + 2),
    lastResort,
    createdAtMs: T0,
  };
}

function group(id: string, epoch = 0, state: Uint8Array = pattern(100, epoch + 7)): GroupRecord {
  return {
    id,
    suite: "s",
    state,
    epoch,
    name: `group ${id.slice(0, 4)}`,
    createdAtMs: T0,
    updatedAtMs: T0 + epoch,
    channelId: `c0ffee${id.slice(0, 26)}`,
    // Every other group has a pending commit, every third a key rotation time, so all shapes
    // round-trip.
    ...(epoch % 2 === 0
      ? {
          pendingCommit: {
            commit: pattern(40, epoch + 1),
            state: pattern(60, epoch + 2),
            welcome: pattern(30, epoch + 3),
            added: [pattern(32, epoch + 4), pattern(32, epoch + 5)],
            removed: [],
            nextTokenHash: pattern(32, epoch + 6),
          },
        }
      : {}),
    ...(epoch % 3 === 0 ? { keysRotatedAtMs: 1_700_000_000_000 + epoch } : {}),
  };
}

function message(groupId: string, id: string, receivedAtMs: number, text = `text ${id}`): MessageRecord {
  return { id, groupId, sender: "bob", text, sentAtMs: receivedAtMs - 5, receivedAtMs, status: "received" };
}

function pending(seq: number, groupId = GROUP_A): PendingRecord {
  return {
    seq,
    payload: pattern(50, seq),
    groupId,
    epoch: 3,
    receivedAtMs: T0 + seq,
    // Every other record says which channel it came through, so both shapes round-trip.
    ...(seq % 2 === 0 ? { channelId: pattern(16, seq + 100) } : {}),
  };
}

const byRef = (a: KeyPackageRecord, b: KeyPackageRecord) => a.ref.localeCompare(b.ref);
const byId = (a: GroupRecord, b: GroupRecord) => a.id.localeCompare(b.id);
const ids = (messages: MessageRecord[]) => messages.map((m) => m.id);

export function runClientStoreContract(
  name: string,
  make: () => Promise<ClientStore>,
  opts: ClientStoreContractOptions = {},
): void {
  describe(`ClientStore contract: ${name}`, () => {
    it("starts empty", async () => {
      const store = await make();
      expect(await store.getAccount()).toBeUndefined();
      expect(await store.getKeyPackage("nope")).toBeUndefined();
      expect(await store.listKeyPackages()).toEqual([]);
      expect(await store.getGroup(GROUP_A)).toBeUndefined();
      expect(await store.listGroups()).toEqual([]);
      expect(await store.listMessages(GROUP_A)).toEqual([]);
      expect(await store.listPending()).toEqual([]);
      expect(await store.getCursor()).toBe(0);
    });

    it("round-trips the account with its Uint8Arrays intact, and overwrites it", async () => {
      const store = await make();
      await store.putAccount(account());
      const got = await store.getAccount();
      expect(got).toEqual(account());
      expect(got?.signaturePublicKey).toBeInstanceOf(Uint8Array);
      expect(got?.signaturePrivateKey).toBeInstanceOf(Uint8Array);
      await store.putAccount(account(50));
      expect(await store.getAccount()).toEqual(account(50));
    });

    it("keeps contacts by username, key bytes intact, and overwrites them", async () => {
      const store = await make();
      expect(await store.getContact("bob")).toBeUndefined();
      const bob = {
        username: "bob",
        identityKey: new Uint8Array(32).fill(7),
        verified: false,
        firstSeenAtMs: 5,
      };
      await store.putContact(bob);
      expect(await store.getContact("bob")).toEqual(bob);
      const changed = {
        ...bob,
        identityKey: new Uint8Array(32).fill(8),
        previousKey: bob.identityKey,
        keyChangedAtMs: 9,
      };
      await store.putContact(changed);
      const got = await store.getContact("bob");
      expect(got).toEqual(changed);
      expect(got?.previousKey).toBeInstanceOf(Uint8Array);
      expect(await store.getContact("carol")).toBeUndefined();
      if (opts.reopen) expect(await (await opts.reopen(store)).getContact("bob")).toEqual(changed);
    });

    it("puts, gets, lists and deletes KeyPackages", async () => {
      const store = await make();
      await store.putKeyPackages([keyPackage("kp1"), keyPackage("kp2"), keyPackage("kp3", true)]);
      const got = await store.getKeyPackage("kp2");
      expect(got).toEqual(keyPackage("kp2"));
      expect(got?.initPrivateKey).toBeInstanceOf(Uint8Array);
      expect((await store.listKeyPackages()).sort(byRef)).toEqual([
        keyPackage("kp1"),
        keyPackage("kp2"),
        keyPackage("kp3", true),
      ]);
      await store.putKeyPackages([keyPackage("kp1", true)]);
      expect(await store.getKeyPackage("kp1")).toEqual(keyPackage("kp1", true));
      await store.deleteKeyPackages(["kp1", "kp3", "unknown"]);
      expect(await store.listKeyPackages()).toEqual([keyPackage("kp2")]);
      expect(await store.getKeyPackage("kp1")).toBeUndefined();
      await store.putKeyPackages([]);
      await store.deleteKeyPackages([]);
      expect(await store.listKeyPackages()).toHaveLength(1);
    });

    it("puts, gets and lists groups, keeping a 300 KB state exact", async () => {
      const store = await make();
      const big = pattern(300 * 1024, 99);
      await store.putGroup(group(GROUP_A, 1, big));
      await store.putGroup(group(GROUP_B, 4));
      const got = await store.getGroup(GROUP_A);
      expect(got?.state).toBeInstanceOf(Uint8Array);
      // bytesEqual, not toEqual: deep equality on 300 KB takes seconds.
      expect(got && bytesEqual(got.state, big)).toBe(true);
      expect({ ...got, state: undefined }).toEqual({ ...group(GROUP_A, 1, big), state: undefined });
      await store.putGroup(group(GROUP_A, 2));
      expect((await store.listGroups()).sort(byId)).toEqual([group(GROUP_A, 2), group(GROUP_B, 4)]);
      expect(await store.getGroup("cc")).toBeUndefined();
    });

    it("overwrites a message with the same groupId and id (status change)", async () => {
      const store = await make();
      const sending: MessageRecord = { ...message(GROUP_A, "m1", T0), sender: "alice", status: "sending" };
      await store.putMessage(sending);
      await store.putMessage({ ...sending, status: "sent" });
      expect(await store.listMessages(GROUP_A)).toEqual([{ ...sending, status: "sent" }]);
      // The same id in another conversation is another message.
      await store.putMessage(message(GROUP_B, "m1", T0));
      expect(await store.listMessages(GROUP_A)).toHaveLength(1);
      expect(await store.listMessages(GROUP_B)).toEqual([message(GROUP_B, "m1", T0)]);
    });

    it("keeps the first message when another sender reuses its id, by putMessage or applyEnvelope", async () => {
      const store = await make();
      const alices: MessageRecord = { ...message(GROUP_A, "m1", T0, "from alice"), sender: "alice" };
      await store.putMessage(alices);
      const carols: MessageRecord = { ...message(GROUP_A, "m1", T0 + 1, "from carol"), sender: "carol" };
      await store.putMessage(carols);
      await store.applyEnvelope({ seq: 1, messages: [carols, message(GROUP_A, "m2", T0 + 2)] });
      expect(await store.listMessages(GROUP_A)).toEqual([alices, message(GROUP_A, "m2", T0 + 2)]);
      expect(await store.getMessage(GROUP_A, "m1")).toEqual(alices);
      expect(await store.getMessage(GROUP_A, "nope")).toBeUndefined();
      expect(await store.getMessage(GROUP_B, "m1")).toBeUndefined();
      // The cursor moved all the same: the envelope was processed, only the record was refused.
      expect(await store.getCursor()).toBe(1);
    });

    it("lists a group's messages by receivedAtMs, then insertion order, kept on overwrite", async () => {
      const store = await make();
      const puts: [string, string, number][] = [
        [GROUP_A, "late", T0 + 30],
        [GROUP_B, "other", T0 + 10],
        [GROUP_A, "tie-1", T0 + 10],
        [GROUP_A, "early", T0 + 1],
        [GROUP_A, "tie-2", T0 + 10],
        [GROUP_A, "tie-3", T0 + 10],
        [GROUP_A, "middle", T0 + 20],
      ];
      for (const [g, id, at] of puts) await store.putMessage(message(g, id, at));
      const expected = ["early", "tie-1", "tie-2", "tie-3", "middle", "late"];
      expect(ids(await store.listMessages(GROUP_A))).toEqual(expected);
      await store.putMessage({ ...message(GROUP_A, "tie-3", T0 + 10), status: "failed" });
      await store.putMessage({ ...message(GROUP_A, "tie-2", T0 + 10), status: "failed" });
      const after = await store.listMessages(GROUP_A);
      expect(ids(after)).toEqual(expected);
      expect(after.map((m) => m.status)).toEqual([
        "received",
        "received",
        "failed",
        "failed",
        "received",
        "received",
      ]);
      expect(ids(await store.listMessages(GROUP_B))).toEqual(["other"]);
      expect(await store.listMessages("cc".repeat(16))).toEqual([]);
    });

    it("applyEnvelope applies every part of the outcome together with the cursor", async () => {
      const store = await make();
      await store.putKeyPackages([keyPackage("kp1"), keyPackage("kp2")]);
      await store.applyEnvelope({ seq: 3, addPending: [pending(2), pending(3)] });
      await store.putMessage({ ...message(GROUP_A, "mine", T0), status: "sending" });

      await store.applyEnvelope({
        seq: 5,
        groups: [group(GROUP_A, 1)],
        messages: [message(GROUP_A, "in", T0 + 1), { ...message(GROUP_A, "mine", T0), status: "sent" }],
        addPending: [pending(5, "")],
        removePending: [2],
        removeKeyPackages: ["kp1"],
      });

      expect(await store.getCursor()).toBe(5);
      expect(await store.getGroup(GROUP_A)).toEqual(group(GROUP_A, 1));
      expect(await store.listMessages(GROUP_A)).toEqual([
        { ...message(GROUP_A, "mine", T0), status: "sent" },
        message(GROUP_A, "in", T0 + 1),
      ]);
      expect(await store.listPending()).toEqual([pending(3), pending(5, "")]);
      expect(await store.listKeyPackages()).toEqual([keyPackage("kp2")]);
    });

    it("never moves the cursor backwards, and seq 0 leaves it", async () => {
      const store = await make();
      await store.applyEnvelope({ seq: 0 });
      expect(await store.getCursor()).toBe(0);
      await store.applyEnvelope({ seq: 7 });
      expect(await store.getCursor()).toBe(7);
      await store.applyEnvelope({ seq: 3, groups: [group(GROUP_B)] });
      expect(await store.getCursor()).toBe(7);
      expect(await store.getGroup(GROUP_B)).toEqual(group(GROUP_B));
      await store.applyEnvelope({ seq: 0, messages: [message(GROUP_B, "local", T0)] });
      expect(await store.getCursor()).toBe(7);
      expect(ids(await store.listMessages(GROUP_B))).toEqual(["local"]);
      await store.applyEnvelope({ seq: 8, removePending: [123], removeKeyPackages: ["none"] });
      expect(await store.getCursor()).toBe(8);
    });

    it("lands every one of many concurrent applyEnvelope calls", async () => {
      const store = await make();
      const seqs = [4, 9, 1, 7, 2, 8, 3, 6, 5];
      await Promise.all(
        seqs.map((seq) =>
          store.applyEnvelope({
            seq,
            messages: [message(GROUP_A, `m${seq}`, T0 + seq)],
            addPending: [pending(seq)],
          }),
        ),
      );
      expect(await store.getCursor()).toBe(9);
      expect(ids(await store.listMessages(GROUP_A))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => `m${s}`));
      expect((await store.listPending()).map((p) => p.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it("lists pending envelopes by seq with their payloads", async () => {
      const store = await make();
      await store.applyEnvelope({ seq: 9, addPending: [pending(9), pending(2, ""), pending(5)] });
      await store.applyEnvelope({ seq: 10, addPending: [pending(1)] });
      const got = await store.listPending();
      expect(got).toEqual([pending(1), pending(2, ""), pending(5), pending(9)]);
      expect(got[0]?.payload).toBeInstanceOf(Uint8Array);
    });

    it("returns copies and keeps no reference to what it was given", async () => {
      const store = await make();
      const acc = account();
      const kp = keyPackage("kp1");
      const grp = group(GROUP_A);
      const msg = message(GROUP_A, "m1", T0);
      const pend = pending(1);
      await store.putAccount(acc);
      await store.putKeyPackages([kp]);
      await store.putGroup(grp);
      await store.putMessage(msg);
      await store.applyEnvelope({ seq: 1, addPending: [pend] });

      // Mutate the inputs after the fact...
      acc.signaturePrivateKey.fill(0);
      kp.hpkePrivateKey.fill(0);
      grp.state.fill(0);
      grp.name = "changed";
      msg.text = "changed";
      pend.payload.fill(0);
      // ...and everything that was returned.
      const gotAcc = await store.getAccount();
      gotAcc!.signaturePrivateKey.fill(0);
      gotAcc!.username = "mallory";
      (await store.getKeyPackage("kp1"))!.initPrivateKey.fill(0);
      (await store.listKeyPackages())[0]!.encoded.fill(0);
      (await store.getGroup(GROUP_A))!.state.fill(0);
      (await store.listGroups())[0]!.epoch = 99;
      (await store.listMessages(GROUP_A))[0]!.text = "changed";
      (await store.listPending())[0]!.payload.fill(0);

      expect(await store.getAccount()).toEqual(account());
      expect(await store.getKeyPackage("kp1")).toEqual(keyPackage("kp1"));
      expect(await store.getGroup(GROUP_A)).toEqual(group(GROUP_A));
      expect(await store.listMessages(GROUP_A)).toEqual([message(GROUP_A, "m1", T0)]);
      expect(await store.listPending()).toEqual([pending(1)]);
    });

    const { reopen } = opts;
    if (reopen) {
      it("keeps everything across close and reopen", async () => {
        let store = await make();
        const big = pattern(300 * 1024, 5);
        await store.putAccount(account());
        await store.putKeyPackages([keyPackage("kp1"), keyPackage("kp2", true)]);
        await store.putGroup(group(GROUP_B, 2));
        await store.putMessage(message(GROUP_A, "tie-1", T0 + 10));
        await store.applyEnvelope({
          seq: 12,
          groups: [group(GROUP_A, 3, big)],
          messages: [message(GROUP_A, "first", T0), message(GROUP_A, "tie-2", T0 + 10)],
          addPending: [pending(11), pending(4, "")],
          removeKeyPackages: ["kp1"],
        });

        store = await reopen(store);
        expect(await store.getAccount()).toEqual(account());
        expect(await store.listKeyPackages()).toEqual([keyPackage("kp2", true)]);
        const a = await store.getGroup(GROUP_A);
        expect(a && bytesEqual(a.state, big)).toBe(true);
        expect(await store.getGroup(GROUP_B)).toEqual(group(GROUP_B, 2));
        expect((await store.listGroups()).map((g) => g.id).sort()).toEqual([GROUP_A, GROUP_B]);
        expect(ids(await store.listMessages(GROUP_A))).toEqual(["first", "tie-1", "tie-2"]);
        expect(await store.listPending()).toEqual([pending(4, ""), pending(11)]);
        expect(await store.getCursor()).toBe(12);

        // Insertion order, the cursor and the first sender's claim on an id keep working on top of
        // reopened data.
        await store.putMessage(message(GROUP_A, "tie-3", T0 + 10));
        await store.putMessage({ ...message(GROUP_A, "first", T0, "overwritten"), sender: "carol" });
        await store.applyEnvelope({ seq: 11, removePending: [4] });
        store = await reopen(store);
        expect(ids(await store.listMessages(GROUP_A))).toEqual(["first", "tie-1", "tie-2", "tie-3"]);
        expect(await store.getMessage(GROUP_A, "first")).toEqual(message(GROUP_A, "first", T0));
        expect(await store.getCursor()).toBe(12);
        expect(await store.listPending()).toEqual([pending(11)]);
      });
    }
  });
}
