/**
 * Proposals: a member asks for a change (Add, Remove) that another member commits. The proposal is
 * sent to the group as its own handshake message; every member keeps it (after proposalRules.ts
 * accepted it) until a commit includes it by reference.
 *
 * While a member holds uncommitted proposals ts-mls refuses to encrypt application messages, so
 * pending proposals must be committed promptly; committerRule.ts decides who does it.
 */
import {
  createProposal,
  encodeMlsMessage,
  zeroOutUint8Array,
  type CiphersuiteImpl,
  type ClientState,
  type KeyPackage,
  type Proposal,
} from "ts-mls";
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { commit, type CommitOutput } from "./group.ts";
import { assertActive, ownLeafIndex, removeProposals } from "./lifecycle.ts";
import { proposalProblem } from "./proposalRules.ts";

export interface PendingProposal {
  /** Base64 ProposalRef, as ts-mls keys them. */
  ref: string;
  proposal: Proposal;
  senderLeafIndex: number | undefined;
}

export function pendingProposals(state: ClientState): PendingProposal[] {
  return Object.entries(state.unappliedProposals).map(([ref, p]) => ({
    ref,
    proposal: p.proposal,
    senderLeafIndex: p.senderLeafIndex,
  }));
}

export function hasPendingProposals(state: ClientState): boolean {
  return Object.keys(state.unappliedProposals).length > 0;
}

/**
 * Encrypts one proposal to the group (a PrivateMessage, so the gateway does not learn who is being
 * added or removed). The returned state already holds the proposal, as every receiver's will.
 */
export async function propose(
  state: ClientState,
  impl: CiphersuiteImpl,
  proposal: Proposal,
): Promise<{ state: ClientState; message: Uint8Array }> {
  assertActive(state);
  const problem = proposalProblem(state, proposal, ownLeafIndex(state));
  if (problem !== undefined) throw new QpqError(ErrorCode.ProposalRejected, problem);
  const result = await createProposal(state, false, proposal, impl);
  result.consumed.forEach(zeroOutUint8Array);
  return { state: result.newState, message: encodeMlsMessage(result.message) };
}

export async function proposeRemove(
  state: ClientState,
  impl: CiphersuiteImpl,
  username: string,
): Promise<{ state: ClientState; message: Uint8Array }> {
  const [first, ...rest] = removeProposals(state, username);
  if (!first || rest.length > 0) {
    throw new QpqError(ErrorCode.ProposalRejected, `${username} has several leaves; remove by commit`);
  }
  return propose(state, impl, first);
}

/**
 * Asks the group to remove this member's own leaf: leaving. RFC 9420 lets a member propose its own
 * removal but not commit it, so another member commits it; committerRule.ts never picks the member
 * being removed, so the leaver is not asked to commit its own proposal.
 */
export function proposeLeave(
  state: ClientState,
  impl: CiphersuiteImpl,
): Promise<{ state: ClientState; message: Uint8Array }> {
  return propose(state, impl, { proposalType: "remove", remove: { removed: ownLeafIndex(state) } });
}

export function proposeAdd(
  state: ClientState,
  impl: CiphersuiteImpl,
  keyPackage: KeyPackage,
): Promise<{ state: ClientState; message: Uint8Array }> {
  return propose(state, impl, { proposalType: "add", add: { keyPackage } });
}

/** Commits every pending proposal (ts-mls includes them by reference), with an update path. */
export async function commitPendingProposals(
  state: ClientState,
  impl: CiphersuiteImpl,
): Promise<CommitOutput> {
  assertActive(state);
  if (!hasPendingProposals(state)) throw new QpqError(ErrorCode.ProposalRejected, "no pending proposals");
  return commit(state, impl, []);
}
