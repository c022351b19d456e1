/**
 * Which MLS proposals our clients accept, by reference (kept for a later commit) or inside a commit.
 *
 * Only membership changes are allowed: Add (a KeyPackage of the group's suite with a username
 * credential), Remove (of a current member) and Update. PSK, ReInit, ExternalInit and
 * GroupContextExtensions would change the group's keys or rules in ways the app never asks for, so a
 * member that sends one is refused rather than obeyed.
 */
import type { ClientState, IncomingMessageCallback, Proposal } from "ts-mls";
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { accountKeyOf, usernameOf } from "./identity.ts";

/** Why the proposal is refused, or undefined when it is acceptable in this state. */
export function proposalProblem(
  state: ClientState,
  proposal: Proposal,
  senderLeafIndex: number | undefined,
): string | undefined {
  if (senderLeafIndex === undefined) return "proposals from non-members are not accepted";
  switch (proposal.proposalType) {
    case "add": {
      const kp = proposal.add.keyPackage;
      if (kp.cipherSuite !== state.groupContext.cipherSuite) {
        return `Add of a ${kp.cipherSuite} KeyPackage into a ${state.groupContext.cipherSuite} group`;
      }
      if (usernameOf(kp.leafNode.credential) === undefined) return "Add without a username credential";
      // A device whose certificate does not verify speaks for no account: never let it in.
      if (accountKeyOf(kp.leafNode.credential, kp.leafNode.signaturePublicKey) === undefined) {
        return "Add of a device the account key did not certify";
      }
      return undefined;
    }
    case "remove": {
      const node = state.ratchetTree[proposal.remove.removed * 2];
      return node?.nodeType === "leaf"
        ? undefined
        : `Remove of leaf ${proposal.remove.removed}: not a member`;
    }
    case "update":
      return undefined;
    default:
      return `${proposal.proposalType} proposals are not supported`;
  }
}

/**
 * A ts-mls message callback that refuses what proposalProblem refuses, and remembers why so the
 * caller can raise E029 instead of silently keeping the old state.
 */
export function proposalGate(state: ClientState): {
  callback: IncomingMessageCallback;
  throwIfRejected: () => void;
} {
  let problem: string | undefined;
  const callback: IncomingMessageCallback = (incoming) => {
    const list = incoming.kind === "commit" ? incoming.proposals : [incoming.proposal];
    for (const { proposal, senderLeafIndex } of list) {
      // Inside a commit, a by-value proposal is attributed to the committer.
      const sender = senderLeafIndex ?? (incoming.kind === "commit" ? incoming.senderLeafIndex : undefined);
      problem ??= proposalProblem(state, proposal, sender);
    }
    return problem === undefined ? "accept" : "reject";
  };
  return {
    callback,
    throwIfRejected: () => {
      if (problem !== undefined) throw new QpqError(ErrorCode.ProposalRejected, problem);
    },
  };
}
