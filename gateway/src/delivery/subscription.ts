/**
 * Pushes one recipient's envelopes to one connection, in sequence order, exactly as the store has
 * them. Fresh envelopes take a fast path straight from the committer; whenever that is not possible
 * (backlog after subscribe, a gap, a slow connection) a pump re-reads the queue from the store, so a
 * congested client costs the gateway no memory and never misses an envelope.
 */
import type { Envelope } from "@qpq/shared/protocol";
import { bytesEqual } from "@qpq/shared/bytes";
import type { Store } from "../store/types.ts";

export interface PushSink {
  /**
   * Resolves once the push is written or buffered within the connection's budget; rejects when pushes
   * stop (so a pump never stays parked on a connection that no longer wants it).
   */
  send(envelope: Envelope): Promise<void>;
  /** True while the connection's push stream is full or its budget used up. */
  congested(): boolean;
  /** Resolves when the sink is no longer congested; rejects when pushes stop. */
  drained(): Promise<void>;
}

const PAGE = 128;

export interface SubscriptionOptions {
  /** Only this channel's envelopes; the others stay queued for a subscription without a filter. */
  channelId?: Uint8Array;
  /**
   * Bytes of envelopes read from the store at once (in addition to the count limit): a backlog of
   * large envelopes is pushed a frame's worth at a time instead of being loaded whole.
   */
  maxPageBytes: number;
}

export class Subscription {
  private pumping = false;
  private dirty = false;
  private closed = false;

  constructor(
    private readonly store: Store,
    readonly recipientKey: Uint8Array,
    /** Highest seq already pushed (or known to the client). */
    private lastSeq: number,
    private readonly sink: PushSink,
    private readonly onError: (error: unknown) => void,
    private readonly options: SubscriptionOptions,
  ) {}

  /** Starts by pushing the backlog after the client's position. */
  start(): void {
    this.wake();
  }

  offer(envelope: Envelope): void {
    if (this.closed || envelope.seq <= this.lastSeq) return;
    if (this.options.channelId !== undefined && !bytesEqual(envelope.channelId, this.options.channelId))
      return;
    if (!this.pumping && envelope.seq === this.lastSeq + 1 && !this.sink.congested()) {
      this.lastSeq = envelope.seq;
      this.sink.send(envelope).catch((error: unknown) => this.fail(error));
      return;
    }
    this.wake();
  }

  close(): void {
    this.closed = true;
  }

  private wake(): void {
    this.dirty = true;
    if (!this.pumping) {
      this.pumping = true;
      this.pump()
        .catch((error: unknown) => this.fail(error))
        .finally(() => {
          this.pumping = false;
        });
    }
  }

  private async pump(): Promise<void> {
    while (this.dirty && !this.closed) {
      // Cleared before reading, so an envelope committed during the read sets it again.
      this.dirty = false;
      if (!(await this.pushPages())) {
        // Congested: the page is dropped rather than held while the client does not read; once it
        // drains, the store is read again from the last envelope actually pushed.
        await this.sink.drained();
        this.dirty = true;
      }
    }
  }

  /** Pushes pages until the queue is exhausted (true) or the sink is congested (false). */
  private async pushPages(): Promise<boolean> {
    for (;;) {
      const page = await this.store.fetchPage(this.recipientKey, this.lastSeq, {
        limit: PAGE,
        maxBytes: this.options.maxPageBytes,
        channelId: this.options.channelId,
      });
      for (const envelope of page.envelopes) {
        if (this.closed) return true;
        if (this.sink.congested()) return false;
        await this.sink.send(envelope);
        this.lastSeq = envelope.seq;
      }
      if (!page.more) return true;
    }
  }

  private fail(error: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.onError(error);
  }
}
