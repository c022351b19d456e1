/**
 * Acknowledges processed envelopes so the gateway can delete them. Batched: at most one ack per
 * ACK_DELAY_MS, covering everything processed by then. An unacknowledged envelope is only delivered
 * again (and dropped by seq), so the delay costs nothing but a little gateway storage.
 */
import type { ClientSession } from "./session.ts";

const ACK_DELAY_MS = 50;

export class Acknowledgements {
  private ackedUpTo = 0;
  private pending = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly session: ClientSession) {}

  /** Everything up to `cursor` was processed: acknowledged within ACK_DELAY_MS. */
  processed(cursor: number): void {
    this.pending = Math.max(this.pending, cursor);
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const upTo = this.pending;
      if (upTo <= this.ackedUpTo || !this.session.connected) return;
      this.ackedUpTo = upTo;
      this.session.gw.ack(upTo).catch((error: unknown) => {
        this.ackedUpTo = 0;
        this.session.emit("error", error);
      });
    }, ACK_DELAY_MS);
  }

  /** Sends the batched acknowledgement now instead of when its timer fires. */
  async now(): Promise<void> {
    this.stop();
    const upTo = Math.max(this.pending, await this.session.store.getCursor());
    if (upTo <= this.ackedUpTo || !this.session.connected) return;
    try {
      await this.session.gw.ack(upTo);
      this.ackedUpTo = upTo;
    } catch (error) {
      this.session.emit("error", error);
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
