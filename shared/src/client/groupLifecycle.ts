/**
 * Group lifecycle in the client core: removing members, rotating this device's leaf key (on demand and
 * periodically), committing pending proposals when this member's turn comes (committerRule.ts), and
 * noticing that we were removed. Every commit goes through GroupCommits: one commit per epoch, the
 * new state adopted only once the gateway accepted it, rebuilt on the new epoch after a conflict.
 */
import type { ClientState } from "ts-mls";
import {
  commitDelayMs,
  commitPendingProposals,
  hasPendingProposals,
  pendingProposals,
  members,
  proposeAdd,
  proposeLeave,
  proposeRemove,
  removeMember,
  selfUpdate,
  wasRemoved,
  DEFAULT_FALLBACK_STEP_MS,
} from "../mls/index.ts";
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { fromHex, toHex } from "../util/bytes.ts";
import type { GroupCommits } from "./groupCommits.ts";
import type { HybridKeys } from "./hybridKeys.ts";
import type { ClientSession } from "./session.ts";
import type { GroupRecord, WelcomeRecipient } from "./storage.ts";
import { claimAccountKeyPackages } from "./devices.ts";
import { canonicalUsername } from "./username.ts";

export const WEEK_MS = 7 * 24 * 3600 * 1000;

export interface LifecycleOptions {
  /** Rotate this device's leaf key in every group at least this often (default a week; 0 disables). */
  keyRotationMs?: number;
  /** How often to look for groups due for rotation (default an hour). */
  rotationCheckMs?: number;
  /** Wait per rank in the commit order before committing others' proposals (committerRule.ts). */
  proposalFallbackStepMs?: number;
}

export class GroupLifecycle {
  private readonly keyRotationMs: number;
  private readonly fallbackStepMs: number;
  private readonly proposalTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private rotationTimer: ReturnType<typeof setInterval> | undefined;
  private started = false;
  private stopped = false;

  constructor(
    private readonly session: ClientSession,
    private readonly commits: Pick<GroupCommits, "commitChange">,
    /** Checks a proposed joiner can receive its invitation before the proposal goes out. */
    private readonly hybridKeys: Pick<HybridKeys, "publicKeyOf">,
    private readonly options: LifecycleOptions = {},
  ) {
    this.keyRotationMs = options.keyRotationMs ?? WEEK_MS;
    this.fallbackStepMs = options.proposalFallbackStepMs ?? DEFAULT_FALLBACK_STEP_MS;
    session.on("conversation", (group) => this.onGroupChanged(group.id));
  }

  /**
   * Starts the background work of a long-running client: periodic key rotation (once right away for
   * overdue groups) and committing others' proposals when this member's turn comes. Until then
   * nothing runs on a timer; a short-lived client calls commitDue and rotateOverdue itself.
   */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.scheduleAll().catch((error: unknown) => this.session.emit("error", error));
    if (this.keyRotationMs <= 0) return;
    const every = this.options.rotationCheckMs ?? 3600 * 1000;
    const run = () => this.rotateOverdue().catch((error: unknown) => this.session.emit("error", error));
    this.rotationTimer = setInterval(() => void run(), every);
    void run();
  }

  /** Proposals that arrived before start() get their commit timers now. */
  private async scheduleAll(): Promise<void> {
    for (const group of await this.session.store.listGroups()) this.onGroupChanged(group.id);
  }

  stop(): void {
    this.stopped = true;
    if (this.rotationTimer !== undefined) clearInterval(this.rotationTimer);
    this.rotationTimer = undefined;
    for (const timer of this.proposalTimers.values()) clearTimeout(timer);
    this.proposalTimers.clear();
  }

  /** True once this device was removed from the group or asked to leave it (see leave()). */
  async isRemoved(groupId: string): Promise<boolean> {
    const current = await this.session.groupState(groupId);
    return current !== undefined && (wasRemoved(current.state) || current.record.leftAtMs !== undefined);
  }

  /** True when this device left the group itself, so the UI can say "You left" rather than "removed". */
  async hasLeft(groupId: string): Promise<boolean> {
    return (await this.session.store.getGroup(groupId))?.leftAtMs !== undefined;
  }

  /** E028 once this device was removed from the group or left it. */
  async assertMember(groupId: string): Promise<void> {
    if (await this.isRemoved(groupId)) {
      const left = await this.hasLeft(groupId);
      throw new QpqError(
        ErrorCode.RemovedFromGroup,
        left ? "you left this conversation" : "you were removed from this conversation",
      );
    }
  }

  /**
   * Leaves the group: sends a Remove proposal of this device's own leaf (a member cannot commit its own
   * removal) and marks the conversation as left at once. Another member commits the proposal
   * (committerRule.ts excludes the leaver); until then the leaver still holds the epoch's keys, but it
   * sends nothing more and after the commit it holds no secret of the new epoch.
   */
  async leave(groupId: string): Promise<void> {
    await this.assertMember(groupId);
    const current = await this.session.groupState(groupId);
    if (current && members(current.state).length < 2) {
      // Nobody else could commit the proposal: it would stay pending forever.
      throw new QpqError(ErrorCode.ProposalRejected, "no other member left to commit the departure");
    }
    await this.sendProposal(groupId, (state) => proposeLeave(state, this.session.impl), {
      leftAtMs: this.session.now(),
    });
  }

  /** Removes every device of a user from the group; after it they cannot read the group's new messages. */
  async remove(groupId: string, name: string): Promise<void> {
    const username = canonicalUsername(name);
    await this.assertMember(groupId);
    await this.commits.commitChange(groupId, async (state) => {
      const out = await removeMember(state, this.session.impl, username);
      return {
        commit: out.commit,
        newState: out.state,
        added: [],
        removed: this.removedBy(state, out.state),
      };
    });
  }

  /**
   * Asks the group to remove a user without committing it ourselves: the member first in the commit
   * order commits it (committerRule.ts). Until then this device cannot send application messages there.
   */
  async proposeRemoval(groupId: string, name: string): Promise<void> {
    const username = canonicalUsername(name);
    await this.assertMember(groupId);
    await this.sendProposal(groupId, (state) => proposeRemove(state, this.session.impl, username));
  }

  /** Sends a proposal to the group (through its channel) and keeps it, like every receiver does. */
  private async sendProposal(
    groupId: string,
    make: (state: ClientState) => Promise<{ state: ClientState; message: Uint8Array }>,
    /** Stored with the proposal's state in one write (leave() marks the conversation as left). */
    extra: Partial<Pick<GroupRecord, "leftAtMs">> = {},
  ): Promise<void> {
    await this.session.exclusive(async () => {
      const current = await this.session.groupState(groupId);
      if (!current) throw new QpqError(ErrorCode.InvalidArgument, "no such conversation");
      const out = await make(current.state);
      const record = { ...this.session.groupRecord(current.record, groupId, out.state), ...extra };
      await this.session.store.putGroup(record);
      const { gw } = this.session;
      await gw.enqueueToChannel(fromHex(current.record.channelId), out.message);
      this.session.emit("conversation", record);
    });
  }

  /**
   * Asks the group to add a user; the member first in the commit order commits it and sends the
   * Welcome. The KeyPackage must carry the identity key and name the directory gave for the user.
   */
  async proposeAddition(groupId: string, name: string): Promise<void> {
    const username = canonicalUsername(name);
    const { gw } = this.session;
    const identityKey = await gw.resolveUser(username);
    // One proposal per device of the user, each KeyPackage checked against the account key.
    const { keyPackages } = await claimAccountKeyPackages(this.session, username, identityKey);
    if (keyPackages.length === 0) throw new QpqError(ErrorCode.NoKeyPackage, `${username} has no KeyPackage`);
    // The committer will seal the Welcome to this key: without one (E027) the proposal could only
    // stall the group's pending proposals, so it is refused here already.
    await this.hybridKeys.publicKeyOf(identityKey);
    for (const keyPackage of keyPackages) {
      await this.sendProposal(groupId, (state) => proposeAdd(state, this.session.impl, keyPackage));
    }
  }

  /** Replaces this device's leaf key (and its path) in the group: post-compromise recovery. */
  async rotateKeys(groupId: string): Promise<void> {
    await this.assertMember(groupId);
    await this.commits.commitChange(groupId, async (state) => {
      const out = await selfUpdate(state, this.session.impl);
      return {
        commit: out.commit,
        newState: out.state,
        added: [],
        removed: this.removedBy(state, out.state),
      };
    });
    await this.markRotated(groupId);
  }

  /** Rotates in every group whose last rotation by this device is older than keyRotationMs. */
  async rotateOverdue(): Promise<void> {
    if (!this.session.connected) return;
    const now = this.session.now();
    for (const group of await this.session.store.listGroups()) {
      if (this.stopped) return;
      const last = group.keysRotatedAtMs ?? group.createdAtMs;
      if (now - last < this.keyRotationMs) continue;
      const current = await this.session.groupState(group.id);
      // A group we left waits only for someone else's commit removing us: no commit of ours belongs there.
      if (!current || wasRemoved(current.state) || current.record.leftAtMs !== undefined) continue;
      try {
        await this.rotateKeys(group.id);
      } catch (error) {
        this.session.emit("error", error);
      }
    }
  }

  /** Commits pending proposals if there are any (used by the timer and by tests). */
  async commitPending(groupId: string): Promise<boolean> {
    const current = await this.session.groupState(groupId);
    if (
      !current ||
      wasRemoved(current.state) ||
      current.record.leftAtMs !== undefined ||
      !hasPendingProposals(current.state)
    ) {
      return false;
    }
    await this.commits.commitChange(groupId, async (state) => {
      if (!hasPendingProposals(state)) {
        // Someone else committed them while we waited: an empty commit would only cost everyone.
        throw new QpqError(ErrorCode.ProposalRejected, "no pending proposals any more");
      }
      const out = await commitPendingProposals(state, this.session.impl);
      return {
        commit: out.commit,
        welcome: out.welcome,
        newState: out.state,
        added: this.addedBy(state, out.state),
        removed: this.removedBy(state, out.state),
        welcomeTo: newLeaves(state, out.state),
      };
    });
    return true;
  }

  /**
   * Commits, right away, the pending proposals of every group where this member is first in the commit
   * order. For short-lived clients (a one-shot CLI command) that would close before the proposal
   * timer fires, leaving e.g. a member's departure uncommitted until a long-running client comes by.
   */
  async commitDue(): Promise<void> {
    if (!this.session.connected) return;
    for (const group of await this.session.store.listGroups()) {
      if (this.stopped) return;
      const current = await this.session.groupState(group.id);
      if (!current || wasRemoved(current.state) || commitDelayMs(current.state, this.fallbackStepMs) !== 0) {
        continue;
      }
      try {
        await this.commitPending(group.id);
      } catch (error) {
        if (!(error instanceof QpqError && error.code === ErrorCode.ProposalRejected)) {
          this.session.emit("error", error);
        }
      }
    }
  }

  private onGroupChanged(groupId: string): void {
    if (!this.started || this.stopped) return;
    this.session
      .groupState(groupId)
      .then(async (current) => {
        if (!current) return;
        if (current.record.leftAtMs !== undefined && this.leaveLost(current.state)) {
          await this.sendProposal(groupId, (state) => proposeLeave(state, this.session.impl));
          return;
        }
        this.scheduleProposalCommit(groupId, current.state);
      })
      .catch((error: unknown) => this.session.emit("error", error));
  }

  /**
   * Sends again every departure of ours that no commit took (Messenger.attach runs it): one dropped
   * while we were offline, or whose resend failed with the connection, would otherwise wait for an
   * epoch change that may never come.
   */
  async resendLostLeaves(): Promise<void> {
    for (const group of await this.session.store.listGroups()) {
      if (this.stopped || group.leftAtMs === undefined) continue;
      const current = await this.session.groupState(group.id);
      if (current && this.leaveLost(current.state)) {
        await this.sendProposal(group.id, (state) => proposeLeave(state, this.session.impl));
      }
    }
  }

  /**
   * A proposal lives only in its epoch: a commit that did not include our departure (a rival commit
   * of the same epoch) dropped it, and nobody else will ever propose it. Still in the group, with no
   * departure of ours pending, we must send it again, or we would stay a member who thinks it left.
   */
  private leaveLost(state: ClientState): boolean {
    if (!this.session.connected || wasRemoved(state)) return false;
    const own = state.privatePath.leafIndex;
    return !pendingProposals(state).some(
      (p) =>
        p.senderLeafIndex === own &&
        p.proposal.proposalType === "remove" &&
        p.proposal.remove.removed === own,
    );
  }

  private scheduleProposalCommit(groupId: string, state: ClientState): void {
    const existing = this.proposalTimers.get(groupId);
    if (existing !== undefined) clearTimeout(existing);
    this.proposalTimers.delete(groupId);
    const delay = wasRemoved(state) ? undefined : commitDelayMs(state, this.fallbackStepMs);
    if (delay === undefined) return;
    const timer = setTimeout(() => {
      this.proposalTimers.delete(groupId);
      this.commitPending(groupId).catch((error: unknown) => {
        if (error instanceof QpqError && error.code === ErrorCode.ProposalRejected) return;
        this.session.emit("error", error);
      });
    }, delay);
    this.proposalTimers.set(groupId, timer);
  }

  private async markRotated(groupId: string): Promise<void> {
    await this.session.exclusive(async () => {
      const record = await this.session.store.getGroup(groupId);
      if (record) await this.session.store.putGroup({ ...record, keysRotatedAtMs: this.session.now() });
    });
  }

  private addedBy(before: ClientState, after: ClientState): Uint8Array[] {
    return diffKeys(after, before);
  }

  private removedBy(before: ClientState, after: ClientState): Uint8Array[] {
    return diffKeys(before, after);
  }
}

/**
 * Accounts with a leaf in `a` and none in `b`: what the gateway's channel membership follows. A
 * device added to or removed from an account that stays in the group changes no membership.
 */
function diffKeys(a: ClientState, b: ClientState): Uint8Array[] {
  const inB = new Set(accountKeys(b).map(toHex));
  return accountKeys(a).filter((k) => !inB.has(toHex(k)));
}

function accountKeys(state: ClientState): Uint8Array[] {
  const out = new Map<string, Uint8Array>();
  for (const m of members(state)) {
    const key = m.accountKey ?? m.signatureKey;
    out.set(toHex(key), key);
  }
  return [...out.values()];
}

/** The leaves `after` has that `before` lacks: each gets the Welcome, sealed to its account. */
function newLeaves(before: ClientState, after: ClientState): WelcomeRecipient[] {
  const had = new Set(members(before).map((m) => toHex(m.signatureKey)));
  return members(after)
    .filter((m) => !had.has(toHex(m.signatureKey)))
    .map((m) => ({ deviceKey: m.signatureKey, accountKey: m.accountKey ?? m.signatureKey }));
}
