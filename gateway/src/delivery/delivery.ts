/**
 * The delivery service: per-recipient queues in the store, group-committed enqueues, and pushes to
 * every subscribed connection of the recipient once an enqueue is durable. Delivery is at least once:
 * an envelope stays queued until the recipient acknowledges it, and clients drop duplicates by seq.
 */
import { ErrorCode, QpqError, type Envelope } from "@qpq/shared/protocol";
import { toHex } from "@qpq/shared/bytes";
import type { Limits } from "../config.ts";
import type { ChannelCommit, CommitOutcome, NewEnvelope, Store, StoredEnvelope } from "../store/types.ts";
import { GroupCommitter } from "./groupCommit.ts";
import { Subscription, type PushSink } from "./subscription.ts";

const MAX_BATCH = 1024;

export class Delivery {
  private readonly committer: GroupCommitter;
  private readonly subscribers = new Map<string, Set<Subscription>>();
  /**
   * Queue depths, loaded from the store on first use and kept in step by enqueue and ack, so the
   * per-recipient limit costs no query per message. A promise while the first load is in flight.
   */
  private readonly depths = new Map<string, number | Promise<number>>();

  constructor(
    private readonly store: Store,
    private readonly limits: Limits,
    private readonly now: () => number,
  ) {
    this.committer = new GroupCommitter(store, MAX_BATCH, (envelopes, seqs) => this.notify(envelopes, seqs));
  }

  async enqueue(recipientKey: Uint8Array, channelId: Uint8Array, payload: Uint8Array): Promise<number> {
    const key = toHex(recipientKey);
    await this.reserveSlot(key, recipientKey);
    try {
      return await this.committer.enqueue({ recipientKey, channelId, payload, enqueuedAtMs: this.now() });
    } catch (error) {
      const current = this.depths.get(key);
      if (typeof current === "number") this.depths.set(key, Math.max(0, current - 1));
      throw error;
    }
  }

  /**
   * One upload, one queue row per recipient (a group channel's fan-out). All rows go into the same
   * group-commit batch; if any queue is full nothing is enqueued.
   */
  async fanOut(recipients: Uint8Array[], channelId: Uint8Array, payload: Uint8Array): Promise<number[]> {
    const keys = await this.reserveSlots(recipients);
    const enqueuedAtMs = this.now();
    const results = await Promise.allSettled(
      recipients.map((recipientKey) =>
        this.committer.enqueue({ recipientKey, channelId, payload, enqueuedAtMs }),
      ),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      // A batch fails or succeeds as a whole: every reserved slot is free again.
      this.release(keys);
      throw failed.reason;
    }
    return results.map((r) => (r as PromiseFulfilledResult<number>).value);
  }

  /**
   * Offers a commit to the store, which accepts only the first commit of an epoch and applies its
   * membership change in the same transaction as the recipients' rows.
   */
  async commit(commit: ChannelCommit): Promise<CommitOutcome> {
    const keys = await this.reserveSlots(commit.envelopes.map((e) => e.recipientKey));
    let outcome: CommitOutcome;
    try {
      outcome = await this.store.acceptCommit(commit);
    } catch (error) {
      this.release(keys);
      throw error;
    }
    if (outcome.status !== "accepted") {
      this.release(keys);
      return outcome;
    }
    this.notify(commit.envelopes, outcome.seqs);
    return outcome;
  }

  fetch(
    recipientKey: Uint8Array,
    afterSeq: number,
    limit: number,
    channelId?: Uint8Array,
  ): Promise<StoredEnvelope[]> {
    return this.store.fetch(recipientKey, afterSeq, limit, channelId);
  }

  async ack(recipientKey: Uint8Array, upToSeq: number): Promise<number> {
    const removed = await this.store.ack(recipientKey, upToSeq);
    const key = toHex(recipientKey);
    const current = this.depths.get(key);
    if (typeof current === "number") this.depths.set(key, Math.max(0, current - removed));
    return removed;
  }

  headSeq(recipientKey: Uint8Array): Promise<number> {
    return this.store.headSeq(recipientKey);
  }

  subscribe(
    recipientKey: Uint8Array,
    afterSeq: number,
    sink: PushSink,
    onError: (error: unknown) => void,
    channelId?: Uint8Array,
  ): () => void {
    const key = toHex(recipientKey);
    const subscription = new Subscription(this.store, recipientKey, afterSeq, sink, onError, channelId);
    let set = this.subscribers.get(key);
    if (!set) this.subscribers.set(key, (set = new Set()));
    set.add(subscription);
    subscription.start();
    return () => {
      subscription.close();
      const current = this.subscribers.get(key);
      current?.delete(subscription);
      if (current?.size === 0) this.subscribers.delete(key);
    };
  }

  get subscriberCount(): number {
    let n = 0;
    for (const set of this.subscribers.values()) n += set.size;
    return n;
  }

  /** Waits for enqueues already accepted to be written (graceful shutdown). */
  drain(): Promise<void> {
    return this.committer.drain();
  }

  /** Reserves one slot per recipient, all or none; returns the hex keys to release on failure. */
  private async reserveSlots(recipients: Uint8Array[]): Promise<string[]> {
    const reserved: string[] = [];
    try {
      for (const recipientKey of recipients) {
        const key = toHex(recipientKey);
        await this.reserveSlot(key, recipientKey);
        reserved.push(key);
      }
    } catch (error) {
      this.release(reserved);
      throw error;
    }
    return reserved;
  }

  private release(keys: string[]): void {
    for (const key of keys) {
      const current = this.depths.get(key);
      if (typeof current === "number") this.depths.set(key, Math.max(0, current - 1));
    }
  }

  /** Counts the envelope against the recipient's queue limit, or throws QueueFull. */
  private async reserveSlot(key: string, recipientKey: Uint8Array): Promise<void> {
    let cached = this.depths.get(key);
    if (cached === undefined) {
      cached = this.store.queueDepth(recipientKey);
      this.depths.set(key, cached);
    }
    if (typeof cached !== "number") {
      try {
        const loaded = await cached;
        if (this.depths.get(key) === cached) this.depths.set(key, loaded);
      } catch (error) {
        if (this.depths.get(key) === cached) this.depths.delete(key);
        throw error;
      }
    }
    // Read and reserve in one synchronous step: concurrent enqueues cannot overshoot the limit.
    const depth = this.depths.get(key) as number;
    if (depth >= this.limits.maxQueuedPerRecipient) {
      throw new QpqError(ErrorCode.QueueFull, "the recipient's queue is full; try again later", 60_000);
    }
    this.depths.set(key, depth + 1);
  }

  private notify(envelopes: NewEnvelope[], seqs: number[]): void {
    for (let i = 0; i < envelopes.length; i++) {
      const stored = envelopes[i]!;
      const set = this.subscribers.get(toHex(stored.recipientKey));
      if (!set) continue;
      const envelope: Envelope = {
        seq: seqs[i]!,
        channelId: stored.channelId,
        payload: stored.payload,
        enqueuedAtMs: stored.enqueuedAtMs,
      };
      for (const subscription of set) subscription.offer(envelope);
    }
  }
}
