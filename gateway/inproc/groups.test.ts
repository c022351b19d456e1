/**
 * GroupCommits and GroupLifecycle against the real gateway logic: one commit per epoch, rebuilds
 * after a conflict, adds, removals, self-updates, proposals committed by another member.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commit, decodeState, suiteImpl, wasRemoved } from "@qpq/shared/mls";
import { ErrorCode } from "@qpq/shared/protocol";
import { inProcessGateway, type InProcessGateway } from "../src/testing/index.ts";
import {
  epochOf,
  groupOf,
  memberNames,
  seedActor,
  resumeActor,
  texts,
  until,
  type Actor,
} from "./harness.ts";

let gw: InProcessGateway;
let alice: Actor;
let bob: Actor;
let carol: Actor;
let dave: Actor;

beforeAll(async () => {
  // Every join here tops up a stock of three KeyPackages on one long session: more uploads than the
  // default burst allows within the few seconds this file runs.
  gw = await inProcessGateway({ limits: { keyPackagePublishPerSession: { burst: 1000, perMinute: 1000 } } });
  [alice, bob, carol, dave] = (await Promise.all(
    ["alice", "bob", "carol", "dave"].map((n) => seedActor(gw, n)),
  )) as Actor[] as [Actor, Actor, Actor, Actor];
});

afterAll(async () => {
  for (const a of [alice, bob, carol, dave]) a?.messenger.close();
  await gw?.close();
});

const sorted = (...actors: Actor[]) => actors.map((a) => a.name).sort();

async function sameEpoch(actors: Actor[], groupId: string, epoch: number): Promise<void> {
  await until(actors, `epoch ${epoch} everywhere`, async () => {
    for (const actor of actors) if ((await epochOf(actor, groupId)) !== epoch) return false;
    return true;
  });
}

describe("GroupCommits", () => {
  it("two members committing in the same epoch: one wins, the other rebuilds on the new epoch", async () => {
    const groupId = await groupOf([alice, bob], "race");
    await bob.messenger.settled();
    const start = await epochOf(bob, groupId);
    let aliceDone!: () => void;
    const aliceAccepted = new Promise<void>((resolve) => (aliceDone = resolve));
    const emptyCommit = async (state: Parameters<typeof commit>[0]) => {
      const out = await commit(state, await suiteImpl());
      return { commit: out.commit, newState: out.state, added: [], removed: [] };
    };
    // Bob's first attempt is built on the old epoch and sent only after alice's commit took it.
    const bobCommits = bob.messenger.commits.commitChange(groupId, async (state) => {
      if (state.groupContext.epoch === BigInt(start)) await aliceAccepted;
      return emptyCommit(state);
    });
    const aliceCommit = await alice.messenger.commits.commitChange(groupId, emptyCommit);
    aliceDone();
    const bobCommit = await bobCommits;
    expect([aliceCommit.attempts, bobCommit.attempts]).toEqual([1, 2]);
    await sameEpoch([alice, bob], groupId, start + 2);
    await alice.messenger.send(groupId, "after the race");
    await until([bob], "bob reads it", () => texts(bob, groupId).includes("after the race"));
  });

  it("a rival commit for a taken epoch gets CommitConflict from the gateway", async () => {
    const groupId = await groupOf([alice, bob], "conflict");
    await bob.messenger.settled();
    const epoch = await epochOf(alice, groupId);
    const attempts: number[] = [];
    // maxAttempts losses in a row: the builder always builds on the stale epoch it saw first.
    const stale = decodeState((await alice.messenger.conversations()).find((g) => g.id === groupId)!.state);
    const staleCommit = await commit(stale, await suiteImpl());
    await bob.messenger.lifecycle.rotateKeys(groupId);
    await alice.messenger.settled();
    const build = async () => {
      attempts.push(attempts.length + 1);
      return { commit: staleCommit.commit, newState: staleCommit.state, added: [], removed: [] };
    };
    await expect(alice.messenger.commits.commitChange(groupId, build)).rejects.toMatchObject({
      code: ErrorCode.CommitConflict,
    });
    expect(attempts).toEqual([1, 2, 3, 4, 5]);
    await sameEpoch([alice, bob], groupId, epoch + 1);
  });
});

describe("GroupCommits after a removal (fuzz seeds 14, 18, 21, 23)", () => {
  it("a member removed while its own commit was pending still reconnects, and learns it was removed", async () => {
    const groupId = await groupOf([alice, bob, carol], "removed-pending");
    await bob.messenger.settled();
    // Offline, bob's commit is stored as pending: its fate is unknown until he is back.
    bob.messenger.detach();
    await expect(bob.messenger.lifecycle.rotateKeys(groupId)).rejects.toMatchObject({
      code: ErrorCode.Unavailable,
    });
    expect((await bob.messenger.conversations()).find((g) => g.id === groupId)?.pendingCommit).toBeDefined();
    await alice.messenger.lifecycle.remove(groupId, bob.name);
    // The gateway refuses the pending commit (bob is out of the channel): it is dropped, not retried
    // at every attach, which used to make attach fail forever.
    await resumeActor(gw, bob);
    await until([bob], "bob learns his removal", () => bob.messenger.lifecycle.isRemoved(groupId));
    expect(
      (await bob.messenger.conversations()).find((g) => g.id === groupId)?.pendingCommit,
    ).toBeUndefined();
  });
});

describe("GroupLifecycle", () => {
  it("invite adds a member who reads what follows, not what came before", async () => {
    const groupId = await groupOf([alice, bob], "grow");
    await alice.messenger.send(groupId, "before carol");
    await alice.messenger.invite(groupId, [carol.name]);
    await until([carol], "carol joins", async () =>
      (await carol.messenger.conversations()).some((g) => g.id === groupId),
    );
    await alice.messenger.send(groupId, "hello carol");
    await until(
      [carol, bob],
      "both read",
      () => texts(carol, groupId).length === 1 && texts(bob, groupId).length === 2,
    );
    expect(texts(carol, groupId)).toEqual(["hello carol"]);
    expect(await memberNames(bob, groupId)).toEqual(sorted(alice, bob, carol));
  });

  it("remove: the removed member learns it, reads nothing new and cannot send", async () => {
    const groupId = await groupOf([alice, bob, carol], "remove");
    await alice.messenger.send(groupId, "before");
    await until([carol], "carol reads", () => texts(carol, groupId).length === 1);
    await alice.messenger.lifecycle.remove(groupId, carol.name);
    await until([carol], "carol removed", () => carol.messenger.lifecycle.isRemoved(groupId));
    await until([bob], "bob sees two", async () => (await memberNames(bob, groupId)).length === 2);
    await alice.messenger.send(groupId, "carol is gone");
    await until([bob], "bob reads", () => texts(bob, groupId).length === 2);
    await carol.messenger.settled();
    expect(texts(carol, groupId)).toEqual(["before"]);
    await expect(carol.messenger.send(groupId, "still here?")).rejects.toMatchObject({
      code: ErrorCode.RemovedFromGroup,
    });
  });

  it("self-update moves everyone to the next epoch; the signature key stays", async () => {
    const groupId = await groupOf([alice, bob, carol], "rotate");
    const before = (await alice.messenger.members(groupId)).find((m) => m.username === bob.name)!;
    const epoch = await epochOf(alice, groupId);
    await bob.messenger.lifecycle.rotateKeys(groupId);
    await sameEpoch([alice, bob, carol], groupId, epoch + 1);
    const after = (await alice.messenger.members(groupId)).find((m) => m.username === bob.name)!;
    expect(after.signatureKey).toEqual(before.signatureKey);
    await carol.messenger.send(groupId, "still reading");
    await until([bob], "bob reads", () => texts(bob, groupId).includes("still reading"));
  });

  it("a proposal is committed by the first member in the commit order, not the proposer", async () => {
    const groupId = await groupOf([alice, bob, carol], "propose");
    await bob.messenger.lifecycle.proposeRemoval(groupId, carol.name);
    await until([carol], "carol removed by alice's commit", () =>
      carol.messenger.lifecycle.isRemoved(groupId),
    );
    await until([alice, bob], "two left", async () => {
      return (
        (await memberNames(alice, groupId)).length === 2 && (await memberNames(bob, groupId)).length === 2
      );
    });
    await bob.messenger.send(groupId, "proposal done");
    await until([alice], "alice reads", () => texts(alice, groupId).includes("proposal done"));
  });

  it("when the first in the commit order is offline, the next one commits after its delay", async () => {
    const groupId = await groupOf([alice, bob, carol, dave], "fallback");
    alice.messenger.close();
    await bob.messenger.lifecycle.proposeRemoval(groupId, carol.name);
    await until([carol], "removal by dave's commit", () => carol.messenger.lifecycle.isRemoved(groupId));
    await until([bob, dave], "three left", async () => {
      return (
        (await memberNames(bob, groupId)).length === 3 && (await memberNames(dave, groupId)).length === 3
      );
    });
    expect(await memberNames(dave, groupId)).toEqual(sorted(alice, bob, dave));
    await resumeActor(gw, alice);
    await until([alice], "alice catches up", async () => (await memberNames(alice, groupId)).length === 3);
  });

  it("leave: a self-Remove proposal committed by another member", async () => {
    const groupId = await groupOf([alice, bob, carol], "leave");
    const epoch = await epochOf(alice, groupId);
    await carol.messenger.lifecycle.leave(groupId);
    expect(await carol.messenger.lifecycle.hasLeft(groupId)).toBe(true);
    await expect(carol.messenger.send(groupId, "bye?")).rejects.toMatchObject({
      code: ErrorCode.RemovedFromGroup,
    });
    await sameEpoch([alice, bob], groupId, epoch + 1);
    expect(await memberNames(bob, groupId)).toEqual(sorted(alice, bob));
    await until([carol], "the commit reaches carol", async () => {
      const record = (await carol.messenger.conversations()).find((g) => g.id === groupId)!;
      return wasRemoved(decodeState(record.state));
    });
  });

  it("a departure dropped by a rival commit of the same epoch is proposed again (fuzz seeds 26, 28)", async () => {
    const groupId = await groupOf([alice, bob, carol], "lost-leave");
    await Promise.all([alice, bob, carol].map((a) => a.messenger.settled()));
    // Bob waits long before committing others' proposals: alice's rival commit must win the epoch.
    await resumeActor(gw, bob, { proposalFallbackStepMs: 60_000 });
    const epoch = await epochOf(alice, groupId);
    let proposed!: () => void;
    const carolProposed = new Promise<void>((resolve) => (proposed = resolve));
    // Alice builds on the epoch before carol's proposal and sends after it: her commit leaves it out.
    const rival = alice.messenger.commits.commitChange(groupId, async (state) => {
      await carolProposed;
      const out = await commit(state, await suiteImpl());
      return { commit: out.commit, newState: out.state, added: [], removed: [] };
    });
    await carol.messenger.lifecycle.leave(groupId);
    proposed();
    await rival;
    await until([alice, bob, carol], "carol's departure committed after all", async () => {
      const left = (await carol.messenger.conversations()).find((g) => g.id === groupId)!;
      return wasRemoved(decodeState(left.state)) && (await memberNames(bob, groupId)).length === 2;
    });
    expect(await epochOf(alice, groupId)).toBeGreaterThan(epoch + 1);
    await resumeActor(gw, bob);
  });

  it("a member who left can be added again and is a member again (fuzz, re-adds)", async () => {
    const groupId = await groupOf([alice, bob, carol], "rejoin");
    await carol.messenger.lifecycle.leave(groupId);
    await until([alice], "carol's departure", async () => (await memberNames(alice, groupId)).length === 2);
    await until([carol], "carol sees it", async () => {
      const record = (await carol.messenger.conversations()).find((g) => g.id === groupId)!;
      return wasRemoved(decodeState(record.state));
    });
    await alice.messenger.invite(groupId, [carol.name]);
    await until([carol], "carol is back", async () => (await memberNames(carol, groupId)).length === 3);
    // The earlier departure must not stick to the new membership.
    expect(await carol.messenger.lifecycle.isRemoved(groupId)).toBe(false);
    await carol.messenger.send(groupId, "back again");
    await until([bob], "bob reads carol", () => texts(bob, groupId).includes("back again"));
  });

  it("two members adding the same user at once: one adds, the other's rebuild refuses (fuzz, re-adds)", async () => {
    const groupId = await groupOf([alice, bob], "double-add");
    await bob.messenger.settled();
    const results = await Promise.allSettled([
      alice.messenger.invite(groupId, [dave.name]),
      bob.messenger.invite(groupId, [dave.name]),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    await until([alice, bob, dave], "dave joins once", async () => {
      const names = await memberNames(dave, groupId).catch(() => []);
      return names.length === 3 && (await memberNames(alice, groupId)).length === 3;
    });
    expect(await memberNames(bob, groupId)).toEqual(sorted(alice, bob, dave));
  });

  it("a proposed addition is committed by another member and the joiner gets the Welcome", async () => {
    const groupId = await groupOf([alice, bob], "proposeAdd");
    await bob.messenger.lifecycle.proposeAddition(groupId, dave.name);
    await until([dave], "dave joins", async () =>
      (await dave.messenger.conversations()).some((g) => g.id === groupId),
    );
    await until([bob], "three", async () => (await memberNames(bob, groupId)).length === 3);
    await bob.messenger.send(groupId, "welcome dave");
    await until([dave], "dave reads", () => texts(dave, groupId).includes("welcome dave"));
  });

  it("periodic rotation follows the messenger's clock: a week later every group gets a self-update", async () => {
    const groupId = await groupOf([bob, dave], "weekly");
    const epoch = await epochOf(dave, groupId);
    const weekLater = Date.now() + 8 * 24 * 3600 * 1000;
    await resumeActor(gw, bob, { now: () => weekLater, rotationCheckMs: 3_600_000 });
    await bob.messenger.lifecycle.rotateOverdue();
    await until([dave], "bob's rotation", async () => (await epochOf(dave, groupId)) > epoch);
    expect((await bob.messenger.conversations()).find((g) => g.id === groupId)?.keysRotatedAtMs).toBe(
      weekLater,
    );
    await resumeActor(gw, bob);
  });
});
