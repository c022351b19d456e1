/**
 * In-memory WebTransportLike pair for unit tests of code written against WebTransportLike (RpcClient,
 * the gateway's connection handler). Streams are TransformStreams; chunks are copied on the way so a
 * sender reusing its buffer cannot corrupt the receiver, and can optionally be cut into small pieces to
 * exercise reassembly. Not a network: no flow control beyond the streams' own queues, no datagrams.
 */
import type { BidiStream, CloseInfo, WebTransportLike } from "../../transport/webtransport.ts";

export interface MemoryTransportOptions {
  /** Split every chunk into pieces of at most this many bytes (default: deliver chunks whole). */
  maxChunkBytes?: number;
  /** What the server side reports as the peer's address (a gateway keys rate limits on it). */
  remoteAddress?: string;
}

export interface MemoryTransport extends WebTransportLike {
  /** The close info of the side that closed first, once closed. */
  readonly closeInfo: CloseInfo | undefined;
  /** The other side's address, as a gateway's served session reports it. */
  readonly remoteAddress: string;
}

interface Shared {
  closed: boolean;
  closeInfo: CloseInfo | undefined;
  resolveClosed: () => void;
  closedPromise: Promise<void>;
  /** Error functions of every stream created, to fail them when the session closes. */
  streams: Set<(reason: unknown) => void>;
}

class Side implements MemoryTransport {
  readonly ready: Promise<void> = Promise.resolve();
  readonly incomingBidirectionalStreams: ReadableStream<BidiStream>;
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>;
  private bidiController!: ReadableStreamDefaultController<BidiStream>;
  private uniController!: ReadableStreamDefaultController<ReadableStream<Uint8Array>>;
  peer!: Side;
  readonly remoteAddress: string;

  constructor(
    private readonly shared: Shared,
    private readonly options: MemoryTransportOptions,
    remoteAddress: string,
  ) {
    this.remoteAddress = remoteAddress;
    this.incomingBidirectionalStreams = new ReadableStream<BidiStream>({
      start: (c) => void (this.bidiController = c),
    });
    this.incomingUnidirectionalStreams = new ReadableStream<ReadableStream<Uint8Array>>({
      start: (c) => void (this.uniController = c),
    });
  }

  get closed(): Promise<void> {
    return this.shared.closedPromise;
  }

  get closeInfo(): CloseInfo | undefined {
    return this.shared.closeInfo;
  }

  /** A one-way pipe: what is written to `writable` comes out of `readable`. */
  private pipe(): TransformStream<Uint8Array, Uint8Array> {
    const max = this.options.maxChunkBytes;
    let controller!: TransformStreamDefaultController<Uint8Array>;
    const ts = new TransformStream<Uint8Array, Uint8Array>({
      start: (c) => void (controller = c),
      transform(chunk, c) {
        const copy = chunk.slice();
        if (max === undefined) {
          c.enqueue(copy);
        } else {
          for (let i = 0; i < copy.byteLength; i += max) c.enqueue(copy.subarray(i, i + max));
        }
      },
    });
    const fail = (reason: unknown): void => {
      try {
        controller.error(reason);
      } catch {
        // already closed or errored
      }
    };
    this.shared.streams.add(fail);
    return ts;
  }

  async createBidirectionalStream(): Promise<BidiStream> {
    this.assertOpen();
    const out = this.pipe();
    const back = this.pipe();
    this.peer.bidiController.enqueue({ readable: out.readable, writable: back.writable });
    return { readable: back.readable, writable: out.writable };
  }

  async createUnidirectionalStream(): Promise<WritableStream<Uint8Array>> {
    this.assertOpen();
    const out = this.pipe();
    this.peer.uniController.enqueue(out.readable);
    return out.writable;
  }

  close(info?: Partial<CloseInfo>): void {
    const shared = this.shared;
    if (shared.closed) return;
    shared.closed = true;
    shared.closeInfo = { closeCode: info?.closeCode ?? 0, reason: info?.reason ?? "" };
    const reason = new Error(`session closed (${shared.closeInfo.closeCode}) ${shared.closeInfo.reason}`);
    for (const fail of shared.streams) fail(reason);
    for (const side of [this, this.peer]) {
      side.bidiController.error(reason);
      side.uniController.error(reason);
    }
    shared.resolveClosed();
  }

  private assertOpen(): void {
    if (this.shared.closed) throw new Error("session closed");
  }
}

/** Two connected WebTransportLike ends: streams opened on one arrive as incoming streams on the other. */
export function createMemoryTransportPair(options: MemoryTransportOptions = {}): {
  client: MemoryTransport;
  server: MemoryTransport;
} {
  let resolveClosed!: () => void;
  const closedPromise = new Promise<void>((resolve) => (resolveClosed = resolve));
  const shared: Shared = {
    closed: false,
    closeInfo: undefined,
    resolveClosed,
    closedPromise,
    streams: new Set(),
  };
  const client = new Side(shared, options, "gateway.memory");
  const server = new Side(shared, options, options.remoteAddress ?? "127.0.0.1");
  client.peer = server;
  server.peer = client;
  return { client, server };
}
