/**
 * The unread bytes of a stream as a list of the chunks QUIC delivered, so that receiving a chunk and
 * consuming a frame each cost time in proportion to their own size, never to the backlog. (Appending
 * every chunk to one buffer copied the whole backlog per chunk: quadratic in a burst of tiny frames.)
 */
const EMPTY = new Uint8Array(0);

export class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** Index of the first chunk still holding unread bytes, and the offset into it. */
  private head = 0;
  private offset = 0;
  private size = 0;
  /** Bytes copied so far (headers spanning chunks, frame payloads): what the linear-cost test counts. */
  copied = 0;

  get length(): number {
    return this.size;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /**
   * The first `min(n, length)` bytes, contiguous: a view when the first chunk holds them, else a copy
   * (callers ask for at most a frame header, 16 bytes).
   */
  peek(n: number): Uint8Array {
    const want = Math.min(n, this.size);
    const first = this.chunks[this.head];
    if (!first) return EMPTY;
    if (first.length - this.offset >= want) return first.subarray(this.offset, this.offset + want);
    return this.copyOut(want, false);
  }

  /** Drops `n` bytes (at most what is held). */
  skip(n: number): void {
    let left = Math.min(n, this.size);
    this.size -= left;
    while (left > 0) {
      const chunk = this.chunks[this.head]!;
      const available = chunk.length - this.offset;
      if (available > left) {
        this.offset += left;
        return;
      }
      left -= available;
      this.dropHead();
    }
  }

  /** Up to `max` bytes from the first chunk, without copying (streamed DATA payloads). */
  takeView(max: number): Uint8Array {
    const chunk = this.chunks[this.head];
    if (!chunk || max <= 0) return EMPTY;
    const n = Math.min(max, chunk.length - this.offset);
    const view = chunk.subarray(this.offset, this.offset + n);
    this.skip(n);
    return view;
  }

  /** Exactly `n` bytes (n <= length) as a copy that owns its memory (buffered frame payloads). */
  take(n: number): Uint8Array {
    return this.copyOut(n, true);
  }

  /** Everything held, as one array. */
  takeAll(): Uint8Array {
    return this.size === 0 ? EMPTY : this.copyOut(this.size, true);
  }

  private copyOut(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    let index = this.head;
    let offset = this.offset;
    while (filled < n) {
      const chunk = this.chunks[index]!;
      const part = Math.min(n - filled, chunk.length - offset);
      out.set(chunk.subarray(offset, offset + part), filled);
      filled += part;
      offset += part;
      if (offset === chunk.length) {
        index++;
        offset = 0;
      }
    }
    this.copied += n;
    if (consume) this.skip(n);
    return out;
  }

  private dropHead(): void {
    this.chunks[this.head] = EMPTY;
    this.head++;
    this.offset = 0;
    // Compact now and then, so the array of consumed chunks does not grow with the stream's lifetime.
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
