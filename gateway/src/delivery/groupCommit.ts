/**
 * Group commit for enqueues: every enqueue issued during one event-loop turn is written in a single
 * store transaction, then all of them are acknowledged. With synchronous=FULL this turns one fsync
 * per message into one per batch, which is what makes durable-before-acknowledged affordable.
 */
import type { NewEnvelope, Store } from "../store/types.ts";

interface Pending {
  envelope: NewEnvelope;
  resolve: (seq: number) => void;
  reject: (error: unknown) => void;
}

export class GroupCommitter {
  private batch: Pending[] = [];
  private scheduled = false;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly maxBatch: number,
    /** Called after a batch is durable, with the envelopes and their sequence numbers. */
    private readonly onCommitted: (envelopes: NewEnvelope[], seqs: number[]) => void,
  ) {}

  enqueue(envelope: NewEnvelope): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.batch.push({ envelope, resolve, reject });
      if (this.batch.length >= this.maxBatch) this.flushSoon(true);
      else this.flushSoon(false);
    });
  }

  /** Resolves once everything enqueued so far is written (used on shutdown). */
  async drain(): Promise<void> {
    while (this.batch.length > 0 || this.scheduled) {
      this.flushSoon(true);
      await this.writing;
    }
    await this.writing;
  }

  private flushSoon(now: boolean): void {
    if (this.scheduled && !now) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      const batch = this.batch;
      this.batch = [];
      if (batch.length === 0) return;
      // Batches are written one after another so sequence numbers reach subscribers in order.
      this.writing = this.writing.then(() => this.write(batch));
    };
    if (now) run();
    else setImmediate(run);
  }

  private async write(batch: Pending[]): Promise<void> {
    const envelopes = batch.map((p) => p.envelope);
    let seqs: number[];
    try {
      seqs = await this.store.enqueue(envelopes);
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(seqs[i]!);
    this.onCommitted(envelopes, seqs);
  }
}
