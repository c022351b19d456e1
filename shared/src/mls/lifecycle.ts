/**
 * Membership changes after a group exists: removing a member, rotating one's own leaf key, and
 * knowing whether this member was removed. Each returns the commit to send; the caller applies the
 * returned state only once the delivery service accepted the commit (one commit per epoch).
 */
import type { CiphersuiteImpl, ClientState, Proposal } from "ts-mls";
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { commit, members, type CommitOutput, type GroupMember } from "./group.ts";

export function ownLeafIndex(state: ClientState): number {
  return state.privatePath.leafIndex;
}

/** True once a commit removing this member was processed: nothing can be sent or read any more. */
export function wasRemoved(state: ClientState): boolean {
  return state.groupActiveState.kind === "removedFromGroup";
}

export function assertActive(state: ClientState): void {
  if (wasRemoved(state)) throw new QpqError(ErrorCode.RemovedFromGroup, "you were removed from this group");
}

/** The leaves a username occupies (one per device; our clients have one device per account). */
export function leavesOf(state: ClientState, username: string): GroupMember[] {
  return members(state).filter((m) => m.username === username);
}

/** Remove proposals for every leaf of a user; E029 when the user is not a member or is us. */
export function removeProposals(state: ClientState, username: string): Proposal[] {
  const leaves = leavesOf(state, username);
  if (leaves.length === 0) throw new QpqError(ErrorCode.ProposalRejected, `${username} is not a member`);
  if (leaves.some((m) => m.leafIndex === ownLeafIndex(state))) {
    // RFC 9420 section 12.2: a committer cannot remove itself; leaving is a proposal for others to commit.
    throw new QpqError(ErrorCode.ProposalRejected, "a member cannot commit its own removal");
  }
  return leaves.map((m) => ({ proposalType: "remove", remove: { removed: m.leafIndex } }));
}

/** Commits the removal of a user. After it the removed member holds no secret of the new epoch. */
export async function removeMember(
  state: ClientState,
  impl: CiphersuiteImpl,
  username: string,
): Promise<CommitOutput> {
  assertActive(state);
  return commit(state, impl, removeProposals(state, username));
}

/**
 * Rotates this member's leaf key (and the path above it). ts-mls has no Update-proposal helper; an
 * empty commit always carries an update path, which replaces the committer's leaf HPKE key, so it
 * gives the same post-compromise security in one message instead of two. Pending proposals are
 * committed along with it.
 */
export async function selfUpdate(state: ClientState, impl: CiphersuiteImpl): Promise<CommitOutput> {
  assertActive(state);
  return commit(state, impl, []);
}

/** The HPKE public key of a leaf: what a self-update replaces. */
export function leafEncryptionKey(state: ClientState, leafIndex: number): Uint8Array | undefined {
  const node = state.ratchetTree[leafIndex * 2];
  return node?.nodeType === "leaf" ? node.leaf.hpkePublicKey : undefined;
}
