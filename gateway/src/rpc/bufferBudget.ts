/**
 * Bytes the gateway holds on behalf of a peer that has not read them yet (responses and pushes handed
 * to a stream but not accepted by it, plus what is reserved for responses being computed). One budget
 * per connection, each inside one global budget: a peer that stops reading runs into its own limit
 * and is no longer served until it reads, and all of them together cannot exhaust the process.
 */
export class BufferBudget {
  private usedBytes = 0;
  private peakBytes = 0;
  private released: { promise: Promise<void>; resolve: () => void } = deferred();

  constructor(
    readonly limitBytes: number,
    private readonly parent?: BufferBudget,
  ) {}

  get used(): number {
    return this.usedBytes;
  }

  /** The most this budget ever had in use: what tests and operators compare against the limit. */
  get peak(): number {
    return this.peakBytes;
  }

  /** At or below the limit here and in every enclosing budget. */
  get within(): boolean {
    return this.usedBytes <= this.limitBytes && (this.parent?.within ?? true);
  }

  /**
   * True if `bytes` more fit here and above. Something larger than a whole budget fits only into an
   * empty one, so one big response is slow rather than impossible.
   */
  fits(bytes: number): boolean {
    const here = this.usedBytes === 0 || this.usedBytes + bytes <= this.limitBytes;
    return here && (this.parent?.fits(bytes) ?? true);
  }

  /** Accounts a change (positive: now held, negative: given back), here and above. */
  add(deltaBytes: number): void {
    if (deltaBytes === 0) return;
    this.usedBytes += deltaBytes;
    if (this.usedBytes > this.peakBytes) this.peakBytes = this.usedBytes;
    this.parent?.add(deltaBytes);
    if (deltaBytes < 0) {
      const { resolve } = this.released;
      this.released = deferred();
      resolve();
    }
  }

  /** Waits until `bytes` fit, then holds them. Rejects when `signal` aborts first. */
  async reserve(bytes: number, signal?: AbortSignal): Promise<void> {
    while (!this.fits(bytes)) await this.nextRelease(signal);
    this.add(bytes);
  }

  /** Resolves once this budget and every enclosing one are at or below their limits. */
  whenWithin(signal?: AbortSignal): Promise<void> {
    return this.whenAtMost(this.limitBytes, signal);
  }

  /** Resolves once at most `bytes` are used here and every enclosing budget is within its limit. */
  async whenAtMost(bytes: number, signal?: AbortSignal): Promise<void> {
    while (this.usedBytes > bytes || !(this.parent?.within ?? true)) await this.nextRelease(signal);
  }

  /** Settles at the next release here or in an enclosing budget. */
  private releasedPromise(): Promise<void> {
    return this.parent
      ? Promise.race([this.released.promise, this.parent.releasedPromise()])
      : this.released.promise;
  }

  private nextRelease(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const waits = [this.released.promise, ...(this.parent ? [this.parent.releasedPromise()] : [])];
    if (!signal) return Promise.race(waits);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      void Promise.race(waits).then(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
