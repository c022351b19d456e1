/**
 * The channel part of the Store contract (storeContract.ts calls it inside its describe block):
 * channels, each following one MLS group, whose membership changes only with an accepted commit, one
 * commit per epoch, and delivery-token hashes for the current and previous epoch.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { ChannelCommit, NewEnvelope, Store } from "./types.ts";

const T0 = 1_700_000_000_000;

function rand(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

function hexes(list: Uint8Array[]): string[] {
  return list.map((b) => Buffer.from(b).toString("hex")).sort();
}

function env(recipientKey: Uint8Array, channelId: Uint8Array, payload = rand(20)): NewEnvelope {
  return { recipientKey, channelId, payload, enqueuedAtMs: T0 };
}

export function runChannelContract(store: () => Store): void {
  describe("channels", () => {
    const alice = rand(32);
    const bob = rand(32);
    const carol = rand(32);

    async function group(members: Uint8Array[], epoch = 0, tokenHash = rand(32)) {
      const channelId = rand(16);
      const groupId = rand(16);
      expect(
        await store().createChannel({ channelId, groupId, members, epoch, tokenHash, createdAtMs: T0 }),
      ).toBe(true);
      return { channelId, groupId, tokenHash };
    }

    function commit(channelId: Uint8Array, epoch: number, over: Partial<ChannelCommit> = {}): ChannelCommit {
      return {
        channelId,
        epoch,
        commitHash: rand(32),
        add: [],
        remove: [],
        nextTokenHash: rand(32),
        envelopes: [],
        ...over,
      };
    }

    it("a channel of two (a conversation) knows its members, and each member lists it", async () => {
      const pair = await group([alice, bob]);
      const other = await group([alice, carol]);
      expect(pair.channelId).not.toEqual(other.channelId);
      expect(hexes(await store().getChannelMembers(pair.channelId))).toEqual(hexes([alice, bob]));
      expect(await store().isChannelMember(pair.channelId, alice)).toBe(true);
      expect(await store().isChannelMember(pair.channelId, bob)).toBe(true);
      expect(await store().isChannelMember(pair.channelId, carol)).toBe(false);
      expect(hexes(await store().listChannels(alice))).toEqual(hexes([pair.channelId, other.channelId]));
      expect(hexes(await store().listChannels(bob))).toEqual(hexes([pair.channelId]));
      expect(await store().listChannels(rand(32))).toEqual([]);
    });

    it("unknown channels have no record and no members", async () => {
      const unknown = rand(16);
      expect(await store().getChannel(unknown)).toBeUndefined();
      expect(await store().getChannelMembers(unknown)).toEqual([]);
      expect(await store().isChannelMember(unknown, alice)).toBe(false);
      expect(await store().acceptCommit(commit(unknown, 0))).toMatchObject({ status: "conflict" });
    });

    it("a group channel keeps its group, epoch, members and token hash", async () => {
      const g = await group([alice, bob], 3);
      const record = await store().getChannel(g.channelId);
      expect(record).toMatchObject({ groupId: g.groupId, epoch: 3, createdAtMs: T0 });
      expect(hexes(await store().getChannelMembers(g.channelId))).toEqual(hexes([alice, bob]));
      expect(await store().getTokenHash(g.channelId, 3)).toEqual(g.tokenHash);
      expect(await store().getTokenHash(g.channelId, 2)).toBeUndefined();
      const again = { members: [carol], epoch: 0, tokenHash: new Uint8Array(0), createdAtMs: T0 };
      // Neither the channel id nor the group may be taken twice.
      expect(await store().createChannel({ ...again, channelId: g.channelId, groupId: rand(16) })).toBe(
        false,
      );
      expect(await store().createChannel({ ...again, channelId: rand(16), groupId: g.groupId })).toBe(false);
      expect(hexes(await store().getChannelMembers(g.channelId))).toEqual(hexes([alice, bob]));
    });

    it("accepts the first commit of an epoch with its envelopes and membership change, atomically", async () => {
      const g = await group([alice, bob]);
      const first = commit(g.channelId, 0, {
        add: [carol],
        remove: [bob],
        envelopes: [env(bob, g.channelId)],
      });
      const outcome = await store().acceptCommit(first);
      expect(outcome.status).toBe("accepted");
      expect(outcome.status === "accepted" && outcome.seqs.length).toBe(1);
      expect(await store().fetch(bob, 0, 10, g.channelId)).toHaveLength(1);
      expect(hexes(await store().getChannelMembers(g.channelId))).toEqual(hexes([alice, carol]));
      const record = await store().getChannel(g.channelId);
      expect(record?.epoch).toBe(1);
      expect(record?.lastCommitHash).toEqual(first.commitHash);
      expect(await store().getTokenHash(g.channelId, 1)).toEqual(first.nextTokenHash);
      // The previous epoch's token still works for messages in flight.
      expect(await store().getTokenHash(g.channelId, 0)).toEqual(g.tokenHash);

      // The same commit again: a duplicate, nothing stored twice.
      expect(await store().acceptCommit({ ...first, envelopes: [env(bob, g.channelId)] })).toEqual({
        status: "duplicate",
      });
      expect(await store().fetch(bob, 0, 10)).toHaveLength(1);

      // A different commit for the taken epoch, or a future one: conflict, nothing stored or changed.
      for (const epoch of [0, 2, 7]) {
        const rival = commit(g.channelId, epoch, { add: [bob], envelopes: [env(carol, g.channelId)] });
        expect(await store().acceptCommit(rival)).toEqual({ status: "conflict", epoch: 1 });
      }
      expect(await store().fetch(carol, 0, 10)).toHaveLength(0);
      expect(hexes(await store().getChannelMembers(g.channelId))).toEqual(hexes([alice, carol]));
      expect((await store().getChannel(g.channelId))?.epoch).toBe(1);
    });

    it("concurrent commits for one epoch: exactly one wins", async () => {
      const g = await group([alice, bob, carol]);
      const outcomes = await Promise.all(
        [alice, bob, carol].map((_, i) =>
          store().acceptCommit(
            commit(g.channelId, 0, { envelopes: [env(rand(32), g.channelId, rand(i + 1))] }),
          ),
        ),
      );
      expect(outcomes.filter((o) => o.status === "accepted")).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === "conflict")).toHaveLength(2);
    });

    it("keeps token hashes of the current and the previous epoch only", async () => {
      const g = await group([alice]);
      const c1 = commit(g.channelId, 0);
      const c2 = commit(g.channelId, 1);
      await store().acceptCommit(c1);
      await store().acceptCommit(c2);
      expect(await store().getTokenHash(g.channelId, 0)).toBeUndefined();
      expect(await store().getTokenHash(g.channelId, 1)).toEqual(c1.nextTokenHash);
      expect(await store().getTokenHash(g.channelId, 2)).toEqual(c2.nextTokenHash);
    });

    it("a payload fanned out in one batch reaches every recipient until each acknowledges", async () => {
      const channelId = rand(16);
      const payload = rand(5000);
      const seqs = await store().enqueue([alice, bob, carol].map((r) => env(r, channelId, payload)));
      expect(seqs).toHaveLength(3);
      payload.fill(0); // the store kept its own copy
      const stored = (await store().fetch(carol, 0, 10))[0]!.payload;
      expect(stored.some((b) => b !== 0)).toBe(true);
      await store().ack(alice, seqs[0]!);
      await store().ack(bob, seqs[1]!);
      expect((await store().fetch(carol, 0, 10))[0]!.payload).toEqual(stored);
      // Editing what one fetch returned changes nothing stored.
      stored.fill(1);
      expect((await store().fetch(carol, 0, 10))[0]!.payload).not.toEqual(stored);
      expect(await store().ack(carol, seqs[2]!)).toBe(1);
      expect(await store().fetch(carol, 0, 10)).toEqual([]);
    });

    it("fetch with a channel id returns only that channel's envelopes", async () => {
      const one = rand(16);
      const two = rand(16);
      await store().enqueue([
        env(alice, one),
        env(alice, two),
        env(alice, one),
        env(alice, new Uint8Array(0)),
      ]);
      expect((await store().fetch(alice, 0, 10, one)).map((e) => e.seq)).toEqual([1, 3]);
      expect((await store().fetch(alice, 1, 10, one)).map((e) => e.seq)).toEqual([3]);
      expect((await store().fetch(alice, 0, 1, two)).map((e) => e.seq)).toEqual([2]);
      expect(await store().fetch(alice, 0, 10)).toHaveLength(4);
    });
  });
}
