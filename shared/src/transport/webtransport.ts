/**
 * The part of the W3C WebTransport API that quicproquo uses. The browser's WebTransport satisfies it
 * structurally, and so do the Node client and server sessions of @qpq/transport, so
 * framing, RPC and the client core are written once against this shape.
 */
export interface BidiStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

export interface CloseInfo {
  closeCode: number;
  reason: string;
}

export interface WebTransportLike {
  /** Resolves once the session is established (extended CONNECT answered with 2xx). */
  readonly ready: Promise<unknown>;
  /** Resolves when the session ends, cleanly or not; never rejects in our implementations. */
  readonly closed: Promise<unknown>;
  createBidirectionalStream(): Promise<BidiStream>;
  createUnidirectionalStream(): Promise<WritableStream<Uint8Array>>;
  readonly incomingBidirectionalStreams: ReadableStream<BidiStream>;
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>;
  close(info?: Partial<CloseInfo>): void;
}

/** Hash pinning as in the browser API: `value` is the SHA-256 of the certificate's DER encoding. */
export interface CertificateHash {
  algorithm: "sha-256";
  value: Uint8Array;
}
