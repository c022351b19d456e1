/**
 * Who commits pending proposals, so that members neither all commit at once nor wait on each other.
 *
 * Rule: order the eligible members by leaf index; the first commits at once, the k-th after
 * k * fallbackStepMs if the proposals are still pending then (the first may be offline). Eligible are
 * the current members that neither proposed one of the pending proposals nor are removed by one:
 * the proposer asked someone else to decide, and a member being removed cannot commit its own removal.
 * The proposers come last, after every other member had its turn, so a group whose other members
 * are all offline still moves on.
 *
 * Every member computes the same order from the same state, so at most one commit is normally
 * attempted per step; when two still collide (slow links), the delivery service accepts the first
 * commit for the epoch (E024 for the other), and the loser simply finds no pending proposals left.
 */
import type { ClientState } from "ts-mls";
import { members } from "./group.ts";
import { pendingProposals } from "./proposals.ts";

export const DEFAULT_FALLBACK_STEP_MS = 5_000;

/** Leaf indices in the order in which they should commit the pending proposals. */
export function commitOrder(state: ClientState): number[] {
  const pending = pendingProposals(state);
  const proposers = new Set(pending.map((p) => p.senderLeafIndex));
  const removed = new Set(
    pending.flatMap((p) => (p.proposal.proposalType === "remove" ? [p.proposal.remove.removed] : [])),
  );
  const leaves = members(state)
    .map((m) => m.leafIndex)
    .filter((leaf) => !removed.has(leaf));
  const others = leaves.filter((leaf) => !proposers.has(leaf));
  const proposing = leaves.filter((leaf) => proposers.has(leaf));
  return [...others, ...proposing];
}

/**
 * How long this member waits before committing the pending proposals itself, or undefined when it
 * must not commit them (nothing pending, or it is being removed).
 */
export function commitDelayMs(
  state: ClientState,
  fallbackStepMs = DEFAULT_FALLBACK_STEP_MS,
): number | undefined {
  if (pendingProposals(state).length === 0) return undefined;
  const rank = commitOrder(state).indexOf(state.privatePath.leafIndex);
  return rank < 0 ? undefined : rank * fallbackStepMs;
}
