/**
 * The delivery service: per-recipient queues in the store, group-committed enqueues, and pushes to
 * every subscribed connection of the recipient once an enqueue is durable. Delivery is at least once:
 * an envelope stays queued until the recipient acknowledges it, and clients drop duplicates by seq.
 */
import { ErrorCode, QpqError, type Envelope } from "@qpq/shared/protocol";
import { toHex } from "@qpq/shared/bytes";
import type { Limits } from "../config.ts";
import type { ChannelCommit, CommitOutcome, EnvelopePage, NewEnvelope, Store } from "../store/types.ts";
import { envelopeBudget } from "./frameBudget.ts";
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
   * group-commit batch. A recipient whose queue is full gets no copy while the others do: one member
   * who does not drain (or whose queue anyone filled, R9) must not stop the whole group. Returns the
   * seqs of the recipients served, in order.
   */
  async fanOut(recipients: Uint8Array[], channelId: Uint8Array, payload: Uint8Array): Promise<number[]> {
    const served = await this.reserveAvailable(recipients, this.limits.maxQueuedPerRecipient);
    const enqueuedAtMs = this.now();
    const results = await Promise.allSettled(
      served.map((recipientKey) =>
        this.committer.enqueue({ recipientKey, channelId, payload, enqueuedAtMs }),
      ),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      // A batch fails or succeeds as a whole: every reserved slot is free again.
      this.release(served.map(toHex));
      throw failed.reason;
    }
    return results.map((r) => (r as PromiseFulfilledResult<number>).value);
  }

  /**
   * Offers a commit to the store, which accepts only the first commit of an epoch and applies its
   * membership change in the same transaction as the recipients' rows. Commits may overshoot the
   * queue limit by as much again, so that a full queue cannot keep a group from changing (or from
   * removing that member); beyond that the recipient gets no copy.
   */
  async commit(commit: ChannelCommit): Promise<CommitOutcome> {
    const served = new Set(
      (
        await this.reserveAvailable(
          commit.envelopes.map((e) => e.recipientKey),
          2 * this.limits.maxQueuedPerRecipient,
        )
      ).map(toHex),
    );
    const envelopes = commit.envelopes.filter((e) => served.has(toHex(e.recipientKey)));
    const keys = envelopes.map((e) => toHex(e.recipientKey));
    let outcome: CommitOutcome;
    try {
      outcome = await this.store.acceptCommit({ ...commit, envelopes });
    } catch (error) {
      this.release(keys);
      throw error;
    }
    if (outcome.status !== "accepted") {
      this.release(keys);
      return outcome;
    }
    this.notify(envelopes, outcome.seqs);
    return outcome;
  }

  /**
   * One fetch response's worth of the queue: at most `limit` envelopes, cut so that the encoded
   * response stays within the frame limit (a client refuses a larger frame and loses its stream).
   */
  fetchPage(
    recipientKey: Uint8Array,
    afterSeq: number,
    limit: number,
    channelId?: Uint8Array,
  ): Promise<EnvelopePage> {
    const maxBytes = envelopeBudget(this.limits.maxFrameBytes);
    return this.store.fetchPage(recipientKey, afterSeq, { limit, maxBytes, channelId });
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
    const subscription = new Subscription(this.store, recipientKey, afterSeq, sink, onError, {
      channelId,
      maxPageBytes: envelopeBudget(this.limits.maxFrameBytes),
    });
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

  /** Reserves one slot for each recipient whose queue has room under `limit`; returns those recipients. */
  private async reserveAvailable(recipients: Uint8Array[], limit: number): Promise<Uint8Array[]> {
    const reserved: Uint8Array[] = [];
    try {
      for (const recipientKey of recipients) {
        if (await this.tryReserveSlot(toHex(recipientKey), recipientKey, limit)) reserved.push(recipientKey);
      }
    } catch (error) {
      this.release(reserved.map(toHex));
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
    if (!(await this.tryReserveSlot(key, recipientKey, this.limits.maxQueuedPerRecipient))) {
      throw new QpqError(ErrorCode.QueueFull, "the recipient's queue is full; try again later", 60_000);
    }
  }

  /** Counts the envelope against the recipient's queue if it holds fewer than `limit`; false if full. */
  private async tryReserveSlot(key: string, recipientKey: Uint8Array, limit: number): Promise<boolean> {
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
    if (depth >= limit) return false;
    this.depths.set(key, depth + 1);
    return true;
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
