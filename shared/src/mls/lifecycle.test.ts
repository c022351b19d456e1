import { createProposal, type ClientState } from "ts-mls";
import { describe, expect, it } from "vitest";
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { fromUtf8 } from "../util/bytes.ts";
import {
  CLASSICAL_SUITE,
  DEFAULT_SUITE,
  StaleSenderError,
  commitDelayMs,
  commitOrder,
  commitPendingProposals,
  createIdentity,
  decodeKeyPackage,
  generateKeyPackage,
  hasPendingProposals,
  leafEncryptionKey,
  members,
  ownLeafIndex,
  pendingProposals,
  proposeAdd,
  proposeLeave,
  proposeRemove,
  removeMember,
  selfUpdate,
  suiteImpl,
  wasRemoved,
} from "./index.ts";
import { GroupHarness, type Delivered } from "./testing/groupHarness.ts";

function names(state: ClientState): (string | undefined)[] {
  return members(state).map((m) => m.username);
}

function text(result: Delivered | undefined): string | undefined {
  return result?.ok && result.plaintext ? fromUtf8(result.plaintext) : undefined;
}

function expectCode(error: unknown, code: number): void {
  expect(error).toBeInstanceOf(QpqError);
  expect((error as QpqError).code).toBe(code);
}

describe.each([DEFAULT_SUITE, CLASSICAL_SUITE])("group lifecycle (%s)", (suite) => {
  it("add: a member added later reads new messages, and everyone agrees on the membership", async () => {
    const g = await GroupHarness.create(await suiteImpl(suite), ["alice", "bob"]);
    await g.add("bob", ["carol"]);
    for (const name of ["alice", "bob", "carol"]) {
      expect(names(g.state(name))).toEqual(["alice", "bob", "carol"]);
      expect(g.state(name).groupContext.epoch).toBe(2n);
    }
    const read = await g.deliver(await g.encrypt("carol", "hi all"), ["alice", "bob"]);
    expect(text(read.get("alice"))).toBe("hi all");
    expect(text(read.get("bob"))).toBe("hi all");
  });

  it("remove: the removed member learns it was removed and cannot decrypt the next message", async () => {
    const g = await GroupHarness.create(await suiteImpl(suite), ["alice", "bob", "carol"]);
    const removal = await removeMember(g.state("alice"), g.impl, "carol");
    const processed = await g.applyCommit("alice", removal, ["bob", "carol"]);
    expect(processed.get("bob")?.ok).toBe(true);
    expect(processed.get("carol")?.ok).toBe(true);
    expect(wasRemoved(g.state("carol"))).toBe(true);
    expect(names(g.state("bob"))).toEqual(["alice", "bob"]);

    const next = await g.encrypt("alice", "carol is gone");
    const read = await g.deliver(next, ["bob", "carol"]);
    expect(text(read.get("bob"))).toBe("carol is gone");
    expect(read.get("carol")?.ok).toBe(false);

    // Nothing more can be sent or committed from a removed state.
    await expect(selfUpdate(g.state("carol"), g.impl)).rejects.toSatisfy(
      (e) => e instanceof QpqError && e.code === ErrorCode.RemovedFromGroup,
    );
    await expect(g.encrypt("carol", "still here?")).rejects.toThrow();
  });

  it("remove refuses a non-member and the committer itself (E029)", async () => {
    const g = await GroupHarness.create(await suiteImpl(suite), ["alice", "bob"]);
    for (const target of ["mallory", "alice"]) {
      await expect(removeMember(g.state("alice"), g.impl, target)).rejects.toSatisfy(
        (e) => e instanceof QpqError && e.code === ErrorCode.ProposalRejected,
      );
    }
  });

  it("update: the leaf key changes for everyone and all members still read each other", async () => {
    const g = await GroupHarness.create(await suiteImpl(suite), ["alice", "bob", "carol"]);
    const bobLeaf = ownLeafIndex(g.state("bob"));
    const before = leafEncryptionKey(g.state("alice"), bobLeaf);
    await g.applyCommit("bob", await selfUpdate(g.state("bob"), g.impl), ["alice", "carol"]);
    const after = leafEncryptionKey(g.state("alice"), bobLeaf);
    expect(after).toBeDefined();
    expect(after).not.toEqual(before);
    expect(leafEncryptionKey(g.state("carol"), bobLeaf)).toEqual(after);
    expect(leafEncryptionKey(g.state("bob"), bobLeaf)).toEqual(after);

    for (const sender of ["alice", "bob", "carol"]) {
      const others = ["alice", "bob", "carol"].filter((n) => n !== sender);
      const read = await g.deliver(await g.encrypt(sender, `from ${sender}`), others);
      for (const other of others) expect(text(read.get(other))).toBe(`from ${sender}`);
    }
  });

  it("proposal: bob proposes carol's removal, alice (first in the commit order) commits it", async () => {
    const g = await GroupHarness.create(await suiteImpl(suite), ["alice", "bob", "carol"]);
    const proposal = await proposeRemove(g.state("bob"), g.impl, "carol");
    g.states.set("bob", proposal.state);
    const received = await g.deliver(proposal.message, ["alice", "carol"]);
    expect(received.get("alice")?.ok).toBe(true);
    expect(pendingProposals(g.state("alice"))).toHaveLength(1);
    // Pending proposals block application messages (ts-mls), which is why they must be committed soon.
    await expect(g.encrypt("alice", "blocked")).rejects.toThrow();

    // alice is the only eligible committer: bob proposed, carol is being removed.
    expect(commitOrder(g.state("alice"))).toEqual([0, 1]);
    expect(commitDelayMs(g.state("alice"), 1000)).toBe(0);
    expect(commitDelayMs(g.state("bob"), 1000)).toBe(1000);
    expect(commitDelayMs(g.state("carol"), 1000)).toBeUndefined();

    const committed = await commitPendingProposals(g.state("alice"), g.impl);
    await g.applyCommit("alice", committed, ["bob", "carol"]);
    expect(wasRemoved(g.state("carol"))).toBe(true);
    expect(hasPendingProposals(g.state("bob"))).toBe(false);
    expect(names(g.state("bob"))).toEqual(["alice", "bob"]);
    const read = await g.deliver(await g.encrypt("bob", "after the commit"), ["alice"]);
    expect(text(read.get("alice"))).toBe("after the commit");
  });

  it("leave: carol proposes her own removal; she is not in the commit order, alice commits it", async () => {
    const g = await GroupHarness.create(await suiteImpl(suite), ["alice", "bob", "carol"]);
    const proposal = await proposeLeave(g.state("carol"), g.impl);
    g.states.set("carol", proposal.state);
    const received = await g.deliver(proposal.message, ["alice", "bob"]);
    expect(received.get("alice")?.ok).toBe(true);
    expect(received.get("bob")?.ok).toBe(true);

    // The proposer is the member being removed: excluded outright, not merely put last.
    expect(commitOrder(g.state("alice"))).toEqual([0, 1]);
    expect(commitDelayMs(g.state("alice"), 1000)).toBe(0);
    expect(commitDelayMs(g.state("bob"), 1000)).toBe(1000);
    expect(commitDelayMs(g.state("carol"), 1000)).toBeUndefined();

    const committed = await commitPendingProposals(g.state("alice"), g.impl);
    await g.applyCommit("alice", committed, ["bob", "carol"]);
    expect(wasRemoved(g.state("carol"))).toBe(true);
    expect(names(g.state("bob"))).toEqual(["alice", "bob"]);
    const read = await g.deliver(await g.encrypt("alice", "after carol left"), ["bob", "carol"]);
    expect(text(read.get("bob"))).toBe("after carol left");
    expect(text(read.get("carol"))).toBeUndefined();
  });

  it("proposal: an Add proposed by one member and committed by another brings the joiner in", async () => {
    const g = await GroupHarness.create(await suiteImpl(suite), ["alice", "bob"]);
    const dave = await createIdentity("dave", g.impl);
    const daveKp = await generateKeyPackage(dave, g.impl);
    const proposal = await proposeAdd(g.state("alice"), g.impl, decodeKeyPackage(daveKp.encoded));
    g.states.set("alice", proposal.state);
    await g.deliver(proposal.message, ["bob"]);
    expect(commitDelayMs(g.state("bob"))).toBe(0);
    const committed = await commitPendingProposals(g.state("bob"), g.impl);
    expect(committed.welcome).toBeDefined();
    await g.applyCommit("bob", committed, ["alice"]);
    expect(names(g.state("alice"))).toEqual(["alice", "bob", "dave"]);
  });

  it("a removed member's message in an old epoch is dropped; a member's late message is not", async () => {
    const g = await GroupHarness.create(await suiteImpl(suite), ["alice", "bob", "carol"]);
    // Both encrypt in epoch 1 before they see the removal commit.
    const fromCarol = await g.encrypt("carol", "sneaking in");
    const fromBob = await g.encrypt("bob", "late but legit");
    await g.applyCommit("alice", await removeMember(g.state("alice"), g.impl, "carol"), ["bob"]);
    expect(g.state("alice").groupContext.epoch).toBe(2n);

    const dropped = await g.deliver(fromCarol, ["alice", "bob"]);
    for (const name of ["alice", "bob"]) {
      const result = dropped.get(name);
      expect(result?.ok).toBe(false);
      expect(!result?.ok && result?.error).toBeInstanceOf(StaleSenderError);
    }
    const kept = await g.deliver(fromBob, ["alice"]);
    expect(text(kept.get("alice"))).toBe("late but legit");
  });

  it("an incoming proposal of an unsupported type is refused with E029 and not kept", async () => {
    const g = await GroupHarness.create(await suiteImpl(suite), ["alice", "bob"]);
    const sneaky = await createProposal(
      g.state("bob"),
      false,
      { proposalType: "group_context_extensions", groupContextExtensions: { extensions: [] } },
      g.impl,
    );
    const { encodeMlsMessage } = await import("ts-mls");
    const result = await g.deliver(encodeMlsMessage(sneaky.message), ["alice"]);
    const outcome = result.get("alice");
    expect(outcome?.ok).toBe(false);
    if (outcome?.ok === false) expectCode(outcome.error, ErrorCode.ProposalRejected);
    expect(hasPendingProposals(g.state("alice"))).toBe(false);
  });
});
