/**
 * Turns delivered envelopes into conversation changes, one envelope at a time in sequence order.
 * Each envelope's effects and the new cursor are stored atomically, so duplicates (at-least-once
 * delivery) are dropped by seq and a crash never half-applies an envelope. Messages that arrive
 * before what they depend on (a future epoch, a group whose Welcome is still on its way) wait in the
 * pending list and are retried once the group moves on; a message that cannot be decrypted is shown
 * as such instead of breaking the conversation.
 *
 * A Welcome is taken only inside an invitation (invitations.ts): sealed to our hybrid key and signed
 * by a member of the group it leads to. A bare Welcome is dropped, so the gateway cannot pull us into
 * a group of its making by encrypting a Welcome to one of our public KeyPackages, nor downgrade an
 * invitation to a bare Welcome to hide who sent it.
 *
 * Everything else of a group is taken only from the group's channel. The gateway orders a channel's
 * commits (one per epoch) and fans each out to every member; a member who also shares another channel
 * with some of us could send those a second commit for the same epoch through it and fork the group
 * into two halves that can no longer read each other. An envelope names the channel it came through,
 * so a group's message from any other channel is reported and dropped.
 */
import type { MLSMessage } from "ts-mls";
import {
  decodeMessage,
  groupIdOfMessage,
  isOwnApplicationMessage,
  joinFromWelcome,
  members,
  pendingProposals,
  policyForSuite,
  processIncoming,
  StaleSenderError,
  wasRemoved,
  welcomeRecipients,
  type OwnKeyPackage,
} from "../mls/index.ts";
import { ErrorCode, QpqError, type Envelope } from "../protocol/index.ts";
import { bytesEqual, toHex } from "../util/bytes.ts";
import { decodeAppMessage } from "./appMessage.ts";
import type { HybridKeys } from "./hybridKeys.ts";
import { InvitationError, isInvitationPayload, type Invitation } from "./invitations.ts";
import { parseDeviceNotice } from "./deviceNotice.ts";
import type { ClientSession } from "./session.ts";
import type { EnvelopeOutcome, MessageRecord, PendingRecord } from "./storage.ts";

/**
 * Bound on waiting envelopes (and on retries after one state change): envelopes for a group whose
 * Welcome never comes must not pile up forever. Beyond it the oldest are dropped.
 */
const MAX_PENDING = 1000;

/** A group's commit or message that came through another channel than the group's own. */
export class WrongChannelError extends QpqError {
  override readonly name = "WrongChannelError";

  constructor(detail: string) {
    super(ErrorCode.MlsMessageInvalid, detail);
  }
}

/**
 * A message whose sender-chosen id is already taken in its conversation by another sender's message:
 * the first one stays, so no member can replace what someone else said.
 */
export class MessageIdTakenError extends QpqError {
  override readonly name = "MessageIdTakenError";

  constructor(detail: string) {
    super(ErrorCode.MlsMessageInvalid, detail);
  }
}

/**
 * An invitation into a group this device already holds at the Welcome's epoch or a later one: a
 * replay (or a stale copy), which would roll the group back and strand every later message.
 */
export class StaleWelcomeError extends QpqError {
  override readonly name = "StaleWelcomeError";

  constructor(detail: string) {
    super(ErrorCode.InvitationInvalid, detail);
  }
}

type Delivered = { seq: number; payload: Uint8Array; enqueuedAtMs: number; channelId?: Uint8Array };

export class InboundProcessor {
  private chain: Promise<void> = Promise.resolve();
  /** Epoch and name last reported per group, to report only real conversation changes. */
  private readonly announced = new Map<string, string>();

  constructor(
    private readonly session: ClientSession,
    /** Called after envelopes were applied, with the new cursor (the messenger acknowledges it). */
    private readonly onApplied: (cursor: number) => void,
    /** Called after joining a group through a Welcome, which used up one of our KeyPackages. */
    private readonly onJoined: () => void,
    /** Opens invitations sealed to this account's hybrid key. */
    private readonly invitations: Pick<HybridKeys, "openInvitation">,
    /** Called for the gateway's hint that an account's devices changed (deviceNotice.ts). */
    private readonly onDeviceNotice: (accountKey: Uint8Array) => void = () => {},
  ) {}

  /** Queues envelopes for processing; resolves when they (and everything queued before) are done. */
  deliver(envelopes: Envelope[]): Promise<void> {
    const run = this.chain.then(async () => {
      for (const envelope of envelopes) await this.session.exclusive(() => this.processOne(envelope));
      this.onApplied(await this.session.store.getCursor());
    });
    this.chain = run.catch((error: unknown) => this.session.emit("error", error));
    return run;
  }

  private async processOne(envelope: Envelope): Promise<void> {
    const { store } = this.session;
    if (envelope.seq <= (await store.getCursor())) return;
    const outcome: EnvelopeOutcome = { seq: envelope.seq, groups: [], messages: [], addPending: [] };
    let message: MLSMessage;
    let invitation: Invitation | undefined;
    const noticed = parseDeviceNotice(envelope.payload);
    if (noticed) {
      // Only a hint: the device list it points to is fetched and checked before anything changes.
      await store.applyEnvelope(outcome);
      this.onDeviceNotice(noticed);
      return;
    }
    try {
      if (isInvitationPayload(envelope.payload)) {
        invitation = this.invitations.openInvitation(envelope.payload);
        message = decodeMessage(invitation.welcome);
        if (message.wireformat !== "mls_welcome") {
          throw new InvitationError(`an invitation holding a ${message.wireformat} instead of a Welcome`);
        }
      } else {
        message = decodeMessage(envelope.payload);
      }
    } catch (error) {
      // Garbage, a tampered invitation or one not meant for us: reported, skipped, never fatal.
      this.session.emit("error", error);
      await store.applyEnvelope(outcome);
      return;
    }
    const touched = await this.apply(envelope, message, outcome, invitation);
    if (outcome.addPending!.length > 0) {
      const waiting = await store.listPending();
      if (waiting.length >= MAX_PENDING) {
        outcome.removePending = waiting.slice(0, waiting.length - MAX_PENDING + 1).map((p) => p.seq);
        this.session.emit(
          "error",
          new QpqError(ErrorCode.QueueFull, "too many undeliverable envelopes; dropped the oldest"),
        );
      }
    }
    await store.applyEnvelope(outcome);
    this.announce(outcome);
    if (touched) await this.retryPending(touched);
  }

  /** Applies one message to the outcome; returns the group id whose state moved, if any. */
  private async apply(
    envelope: Delivered,
    message: MLSMessage,
    outcome: EnvelopeOutcome,
    invitation?: Invitation,
  ): Promise<string | undefined> {
    if (message.wireformat === "mls_welcome") {
      if (invitation) return this.applyWelcome(envelope, message, invitation, outcome);
      this.session.emit(
        "error",
        new InvitationError("a Welcome that came without a signed invitation was dropped"),
      );
      return undefined;
    }
    const target = groupIdOfMessage(message);
    if (!target) {
      this.session.emit(
        "error",
        new QpqError(ErrorCode.MlsMessageInvalid, `unexpected ${message.wireformat} in the queue`),
      );
      return undefined;
    }
    const groupId = toHex(target.groupId);
    const current = await this.session.groupState(groupId);
    // Removed: nothing of this group can be read any more, and nothing needs to wait for it.
    if (current && wasRemoved(current.state)) return undefined;
    // A group not joined yet cannot be checked: its envelopes wait with their channel, checked on retry.
    if (current && !this.fromGroupChannel(envelope, current.record.channelId)) {
      this.session.emit(
        "error",
        new WrongChannelError(
          `a ${message.wireformat} of group ${groupId.slice(0, 8)} that came through another channel was dropped`,
        ),
      );
      return undefined;
    }
    if (!current || target.epoch > current.state.groupContext.epoch) {
      outcome.addPending!.push(this.pending(envelope, groupId, target.epoch));
      return undefined;
    }
    // A sealed message comes back to its sender too (the gateway cannot tell who sent it): drop it.
    if (await isOwnApplicationMessage(current.state, this.session.impl, message)) return undefined;
    try {
      const result = await processIncoming(current.state, this.session.impl, message);
      if (result.kind === "handshake") {
        outcome.groups!.push(this.session.groupRecord(current.record, groupId, result.state));
        return result.commit ? groupId : undefined;
      }
      const app = decodeAppMessage(result.plaintext);
      let name: string | undefined;
      if (app?.kind === "groupInfo") name = app.name;
      outcome.groups!.push(this.session.groupRecord(current.record, groupId, result.state, name));
      if (app?.kind === "text") {
        const sender = result.sender.username ?? "?";
        const taken = await this.session.store.getMessage(groupId, app.id);
        if (taken && taken.sender !== sender) {
          // The state still moves on (the message's key is used up); only the record is refused.
          this.session.emit(
            "error",
            new MessageIdTakenError(`${sender} sent a message under an id already taken by ${taken.sender}`),
          );
          return undefined;
        }
        outcome.messages!.push({
          id: app.id,
          groupId,
          sender,
          text: app.text,
          sentAtMs: app.sentAtMs,
          receivedAtMs: this.session.now(),
          status: "received",
        });
      }
      return undefined;
    } catch (error) {
      // A removed member's late message is dropped on purpose, not shown as undecryptable.
      if (error instanceof StaleSenderError) return undefined;
      this.session.emit("error", error);
      if (
        message.wireformat === "mls_private_message" &&
        message.privateMessage.contentType === "application"
      ) {
        outcome.messages!.push(undecryptable(groupId, envelope, this.session.now()));
      }
      return undefined;
    }
  }

  private async applyWelcome(
    envelope: Delivered,
    message: MLSMessage,
    invitation: Invitation,
    outcome: EnvelopeOutcome,
  ): Promise<string | undefined> {
    const { store } = this.session;
    // The gateway names the channel the envelope came through; the inviter signed the one it meant.
    const channelId = toHex(envelope.channelId ?? new Uint8Array(0));
    if (channelId === "" || channelId !== toHex(invitation.channelId)) {
      this.session.emit(
        "error",
        new InvitationError("an invitation delivered through another channel than it names was dropped"),
      );
      return undefined;
    }
    const candidates = new Map<string, OwnKeyPackage>();
    for (const ref of welcomeRecipients(message)) {
      const record = await store.getKeyPackage(ref);
      if (record) candidates.set(ref, this.session.ownKeyPackage(record));
    }
    if (candidates.size === 0) {
      this.session.emit(
        "error",
        new QpqError(
          ErrorCode.MlsMessageInvalid,
          "a Welcome for none of this device's KeyPackages was dropped",
        ),
      );
      return undefined;
    }
    try {
      const { state, usedKeyPackage } = await joinFromWelcome(
        message,
        (ref) => candidates.get(ref),
        this.session.impl,
        policyForSuite(this.session.suite),
      );
      // The signature proves who sealed the invitation; only a member of the group (with that name in
      // its credential) may have invited us into it.
      // The inviter signed with its account key: any of its devices in the group speaks for it.
      const inviter = members(state).find(
        (m) => m.accountKey && bytesEqual(m.accountKey, invitation.inviterKey),
      );
      if (!inviter || inviter.username !== invitation.inviterUsername) {
        throw new InvitationError(
          `an invitation from ${invitation.inviterUsername}, who is not a member of its group, was dropped`,
        );
      }
      const groupId = toHex(state.groupContext.groupId);
      const stored = await store.getGroup(groupId);
      // Joining again is right only into a later epoch (we were removed and invited back); the same or
      // an earlier one is a replayed invitation that would undo every commit since.
      if (stored && BigInt(stored.epoch) >= state.groupContext.epoch) {
        throw new StaleWelcomeError(
          `an invitation into group ${groupId.slice(0, 8)} at epoch ${state.groupContext.epoch}, which this device holds at epoch ${stored.epoch}, was dropped`,
        );
      }
      // Joining again after leaving: the departure (and any commit of ours from then) is over.
      const previous = stored && { ...stored, leftAtMs: undefined, pendingCommit: undefined };
      // The group channel is the one the Welcome came through (and the inviter signed): the gateway let
      // it in only from a member, after the commit that made us one.
      const record = this.session.groupRecord(previous, groupId, state, undefined, channelId);
      record.invitedBy = invitation.inviterUsername;
      outcome.groups!.push(record);
      // A single-use KeyPackage's private keys must not outlive their one use (RFC 9420 section 16.8).
      if (!usedKeyPackage.lastResort) outcome.removeKeyPackages = [usedKeyPackage.ref];
      this.onJoined();
      return groupId;
    } catch (error) {
      this.session.emit("error", error);
      return undefined;
    }
  }

  /**
   * Re-processes waiting envelopes of a group whose state advanced, oldest first. Each one is now
   * either processed or unusable (its epoch is reachable), so it leaves the pending list either way.
   */
  private async retryPending(groupId: string): Promise<void> {
    for (let round = 0; round < MAX_PENDING; round++) {
      const current = await this.session.groupState(groupId);
      if (!current) return;
      if (wasRemoved(current.state)) return this.dropPending(groupId);
      const epoch = current.state.groupContext.epoch;
      const ready = (await this.session.store.listPending()).find(
        (p) => p.groupId === groupId && BigInt(p.epoch) <= epoch,
      );
      if (!ready) return;
      const outcome: EnvelopeOutcome = {
        seq: 0,
        groups: [],
        messages: [],
        addPending: [],
        removePending: [ready.seq],
      };
      try {
        const envelope: Delivered = {
          seq: ready.seq,
          payload: ready.payload,
          enqueuedAtMs: ready.receivedAtMs,
          ...(ready.channelId !== undefined && { channelId: ready.channelId }),
        };
        await this.apply(envelope, decodeMessage(ready.payload), outcome);
      } catch (error) {
        this.session.emit("error", error);
      }
      outcome.addPending = [];
      await this.session.store.applyEnvelope(outcome);
      this.announce(outcome);
    }
  }

  /** A group we were removed from: what waited for its later epochs can never be read. */
  private async dropPending(groupId: string): Promise<void> {
    const seqs = (await this.session.store.listPending())
      .filter((p) => p.groupId === groupId)
      .map((p) => p.seq);
    if (seqs.length > 0) await this.session.store.applyEnvelope({ seq: 0, removePending: seqs });
  }

  private fromGroupChannel(envelope: Delivered, groupChannel: string): boolean {
    return (
      groupChannel !== "" && envelope.channelId !== undefined && toHex(envelope.channelId) === groupChannel
    );
  }

  private pending(envelope: Delivered, groupId: string, epoch: bigint): PendingRecord {
    return {
      seq: envelope.seq,
      payload: envelope.payload,
      groupId,
      epoch: Number(epoch),
      receivedAtMs: this.session.now(),
      ...(envelope.channelId !== undefined && { channelId: envelope.channelId }),
    };
  }

  /**
   * Reports what changed. Every application message also updates its group's state (the secret tree
   * moves), but that is not news for a UI: "conversation" fires only for a new group, a new epoch
   * (membership or keys changed) or a new name.
   */
  private announce(outcome: EnvelopeOutcome): void {
    for (const group of outcome.groups ?? []) {
      // Proposals and our own removal change no epoch, but the lifecycle and the UI must hear of them.
      const state = this.session.cachedState(group.id);
      const lifecycle = state ? `${wasRemoved(state)}/${pendingProposals(state).length}` : "";
      const version = `${group.epoch}/${group.name}/${lifecycle}`;
      if (this.announced.get(group.id) === version) continue;
      this.announced.set(group.id, version);
      this.session.emit("conversation", group);
    }
    for (const message of outcome.messages ?? []) this.session.emit("message", message);
  }
}

function undecryptable(
  groupId: string,
  envelope: { seq: number; enqueuedAtMs: number },
  now: number,
): MessageRecord {
  return {
    id: `undecryptable-${envelope.seq}`,
    groupId,
    sender: "?",
    text: "",
    sentAtMs: envelope.enqueuedAtMs,
    receivedAtMs: now,
    status: "undecryptable",
  };
}
