/**
 * Every commit this client makes goes through here, because the gateway accepts only one commit per
 * group epoch (RFC 9750): build the commit on the current state, send it through the group channel,
 * and adopt the new state only once the gateway accepted it. When another member's commit won the
 * epoch (CommitConflict), process the queue (the winner's commit is already in it), rebuild the change
 * on the new epoch and try again, a bounded number of times.
 *
 * The commit and its resulting state are stored as the group's pending commit before they are sent:
 * if the answer is lost (crash, dropped connection), the same bytes are sent again later, the gateway
 * answers a repeat of an accepted commit as a duplicate, and the state is adopted then.
 *
 * The change itself is the caller's: adding members today, removals, updates and proposal commits
 * later. The builder may be called several times, each time with a newer state.
 */
import type { ClientState } from "ts-mls";
import { decodeState, deliveryToken, deliveryTokenHash, encodeState } from "../mls/index.ts";
import { ErrorCode, QpqError } from "../protocol/index.ts";
import { fromHex, toHex } from "../util/bytes.ts";
import type { HybridKeys } from "./hybridKeys.ts";
import type { ClientSession } from "./session.ts";
import type { GroupRecord, PendingCommit, WelcomeRecipient } from "./storage.ts";

export interface CommitChange {
  commit: Uint8Array;
  /** For the members the commit adds; sent to each of them after the commit was accepted. */
  welcome?: Uint8Array;
  newState: ClientState;
  /** Account keys the commit adds and removes: the gateway's channel membership follows them. */
  added: Uint8Array[];
  removed: Uint8Array[];
  /** The devices that get the Welcome; absent: each added account's original device. */
  welcomeTo?: WelcomeRecipient[];
}

export interface CommittedChange extends CommitChange {
  /** How many times the change was built: 1 unless other members' commits won epochs first. */
  attempts: number;
}

export type BuildCommit = (state: ClientState, record: GroupRecord) => Promise<CommitChange>;

type Outcome = "accepted" | "conflict" | "refused";

/** Joiners' verified hybrid public keys by hex identity key, fetched before their commit is sent. */
type JoinerKeys = Map<string, Uint8Array>;

const DEFAULT_ATTEMPTS = 5;

export class GroupCommits {
  constructor(
    private readonly session: ClientSession,
    /** Seals each Welcome to its joiner's hybrid key, as an invitation signed by this account. */
    private readonly hybridKeys: Pick<HybridKeys, "publicKeyOf" | "invitation">,
    /** Processes everything queued for us so far (the Messenger fetches and applies it). */
    private readonly catchUp: () => Promise<void>,
    private readonly maxAttempts = DEFAULT_ATTEMPTS,
  ) {}

  /** Commits the change and returns it as accepted; throws CommitConflict after maxAttempts losses. */
  async commitChange(groupId: string, build: BuildCommit): Promise<CommittedChange> {
    for (let attempt = 1; ; attempt++) {
      // Exclusive while building, sending and adopting: no incoming message may move the state meanwhile.
      const accepted = await this.session.exclusive(() => this.attempt(groupId, build));
      if (accepted) {
        await this.sendWelcome(accepted.record, accepted.pending, accepted.joinerKeys);
        return { ...accepted.change, attempts: attempt };
      }
      if (attempt >= this.maxAttempts) {
        throw new QpqError(
          ErrorCode.CommitConflict,
          `other members' commits won ${attempt} times in a row; try again later`,
        );
      }
      await this.catchUp();
    }
  }

  /**
   * Sends every group's pending commit again (after a restart or reconnect): adopted when the gateway
   * accepted it (now or before), dropped when another commit took the epoch. Call before processing
   * new envelopes.
   */
  async resumePending(): Promise<void> {
    for (const group of await this.session.store.listGroups()) {
      if (!group.pendingCommit) continue;
      await this.session.exclusive(async () => {
        const current = await this.session.groupState(group.id);
        const pending = current?.record.pendingCommit;
        if (!current || !pending) return;
        let record: GroupRecord | undefined;
        try {
          record = await this.settle(current.record, pending);
        } catch (error) {
          // Refused for good (e.g. we are no longer in the channel): reported, no reason to stay offline.
          if (!isRefusal(error)) throw error;
          this.session.emit("error", error);
          return;
        }
        if (record) await this.sendWelcome(record, pending);
        else
          this.session.emit(
            "error",
            new QpqError(ErrorCode.CommitConflict, `a change to conversation ${group.id} lost its epoch`),
          );
      });
    }
  }

  private async attempt(
    groupId: string,
    build: BuildCommit,
  ): Promise<
    { change: CommitChange; record: GroupRecord; pending: PendingCommit; joinerKeys: JoinerKeys } | undefined
  > {
    let current = await this.session.groupState(groupId);
    if (!current) throw new QpqError(ErrorCode.InvalidArgument, "no such conversation");
    if (current.record.pendingCommit) {
      // An earlier commit's fate is unknown: settle it first, or ours would conflict with our own.
      const settled = await this.settle(current.record, current.record.pendingCommit);
      if (settled && current.record.pendingCommit.welcome) {
        await this.sendWelcome(settled, current.record.pendingCommit);
      }
      current = await this.session.groupState(groupId);
      if (!current) throw new QpqError(ErrorCode.InvalidArgument, "no such conversation");
    }
    // The builder gets its own copy: building a commit zeroes secrets it consumed, and a refused commit
    // must leave the state we keep (and process the winner's commit with) intact.
    const change = await build(decodeState(current.record.state), current.record);
    // Before the commit exists anywhere: a joiner without a (validly signed) hybrid key could never
    // get its Welcome, so the change fails here (E027 NoHybridKey) and nothing half-happens.
    const joinerKeys = change.welcome
      ? await this.joinerKeys(welcomeRecipients(change).map((r) => r.accountKey))
      : new Map<string, Uint8Array>();
    const pending: PendingCommit = {
      commit: change.commit,
      state: encodeState(change.newState),
      added: change.added,
      removed: change.removed,
      nextTokenHash: deliveryTokenHash(await deliveryToken(change.newState, this.session.impl)),
    };
    if (change.welcome) pending.welcome = change.welcome;
    if (change.welcomeTo) pending.welcomeTo = change.welcomeTo;
    const withPending: GroupRecord = { ...current.record, pendingCommit: pending };
    await this.session.store.putGroup(withPending);
    const record = await this.settle(withPending, pending);
    return record ? { change, record, pending, joinerKeys } : undefined;
  }

  /**
   * Sends a pending commit and records the outcome: the new state when accepted (or already accepted
   * before), the old state without the pending commit on a conflict. Other errors leave it pending.
   */
  private async settle(record: GroupRecord, pending: PendingCommit): Promise<GroupRecord | undefined> {
    let outcome: Outcome;
    let refusal: unknown;
    try {
      outcome = await this.send(record, pending);
    } catch (error) {
      if (!isRefusal(error)) throw error;
      outcome = "refused";
      refusal = error;
    }
    if (outcome !== "accepted") {
      // A refused commit can never be accepted: kept pending, it would be sent again at every attach
      // and fail it, so a member removed while its commit was in flight could never reconnect.
      const { pendingCommit: _dropped, ...without } = record;
      await this.session.store.putGroup(without);
      if (outcome === "refused") throw refusal;
      return undefined;
    }
    const adopted = this.session.groupRecord(record, record.id, decodeState(pending.state));
    await this.session.store.putGroup(adopted);
    this.session.emit("conversation", adopted);
    return adopted;
  }

  private async send(record: GroupRecord, pending: PendingCommit): Promise<Outcome> {
    const { gw } = this.session;
    try {
      await gw.enqueueToChannel(fromHex(record.channelId), pending.commit, {
        commit: {
          addMembers: pending.added,
          removeMembers: pending.removed,
          nextTokenHash: pending.nextTokenHash,
        },
      });
      return "accepted";
    } catch (error) {
      if (error instanceof QpqError && error.code === ErrorCode.CommitConflict) return "conflict";
      throw error;
    }
  }

  /** Fetches and verifies every joiner's hybrid key; throws (E027 when one has none) before any commit. */
  private async joinerKeys(accounts: Uint8Array[]): Promise<JoinerKeys> {
    const keys: JoinerKeys = new Map();
    for (const accountKey of accounts) {
      if (keys.has(toHex(accountKey))) continue;
      keys.set(toHex(accountKey), await this.hybridKeys.publicKeyOf(accountKey));
    }
    return keys;
  }

  /**
   * Sends the Welcome to each joiner as an invitation sealed to its hybrid key. The keys fetched before
   * the commit are reused; after a restart (resumePending) they are fetched and verified again.
   */
  private async sendWelcome(
    record: GroupRecord,
    pending: PendingCommit,
    joinerKeys: JoinerKeys = new Map(),
  ): Promise<void> {
    const welcome = pending.welcome;
    const recipients = welcomeRecipients(pending);
    if (!welcome || recipients.length === 0) return;
    const { gw } = this.session;
    const channelId = fromHex(record.channelId);
    await Promise.all(
      recipients.map(async ({ deviceKey, accountKey }) => {
        const hybridKey =
          joinerKeys.get(toHex(accountKey)) ?? (await this.hybridKeys.publicKeyOf(accountKey));
        joinerKeys.set(toHex(accountKey), hybridKey);
        // Sealed to the account (all its devices share its hybrid key), queued for the one device.
        const invitation = await this.hybridKeys.invitation(accountKey, hybridKey, channelId, welcome);
        return gw.enqueueToChannel(channelId, invitation, { recipientKey: deviceKey });
      }),
    );
  }
}

function welcomeRecipients(change: {
  added: Uint8Array[];
  welcomeTo?: WelcomeRecipient[];
}): WelcomeRecipient[] {
  return change.welcomeTo ?? change.added.map((key) => ({ deviceKey: key, accountKey: key }));
}

/**
 * Answers that judge the commit itself (the sender is no longer in the channel, its membership claims
 * do not match the channel's, it is too large) and so will never change for this commit. Transport,
 * session and load errors leave the outcome unknown: the commit stays pending and is sent again.
 */
const REFUSALS: ReadonlySet<number> = new Set([
  ErrorCode.ChannelForbidden,
  ErrorCode.InvalidArgument,
  ErrorCode.UnknownRecipient,
  ErrorCode.PayloadTooLarge,
  ErrorCode.StaleEpoch,
]);

function isRefusal(error: unknown): boolean {
  return error instanceof QpqError && REFUSALS.has(error.code);
}
