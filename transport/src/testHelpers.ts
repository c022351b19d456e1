/** Shared by the transport tests: certificates, stream helpers and a raw QUIC peer for bad input. */
import { encodeVarint } from "./varint.ts";
import { buildQuicheConfig, resolveLimits } from "./config.ts";
import { QuicEndpoint, type QuicConn } from "./quicEndpoint.ts";
import { recvChunk } from "./streamIo.ts";
import { encodeSettings } from "./h3frames.ts";

export async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of readable as unknown as AsyncIterable<Uint8Array>) parts.push(chunk);
  return Buffer.concat(parts);
}

export async function writeAll(
  writable: WritableStream<Uint8Array>,
  data: Uint8Array,
  chunk = 16384,
): Promise<void> {
  const w = writable.getWriter();
  for (let off = 0; off < data.length; off += chunk) await w.write(data.subarray(off, off + chunk));
  await w.close();
}

/** Polls a condition (bounded): for states that have no event of their own, like a connection count. */
export async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface RawPeer {
  established: Promise<void>;
  /** Resolves with the error the server closed the connection with. */
  closed: Promise<{ isApp: boolean; errorCode: number } | null>;
  send(stream: number, bytes: Uint8Array, fin?: boolean): void;
  /** Resolves with the reset code if the server resets `stream`. */
  resetOf(stream: number): Promise<number>;
  close(): Promise<void>;
}

/** A bare QUIC+TLS client that speaks whatever bytes a test gives it, to feed the server bad HTTP/3. */
export async function rawPeer(port: number, opts: { settings?: boolean } = {}): Promise<RawPeer> {
  const limits = resolveLimits();
  const endpoint = await QuicEndpoint.bind({
    host: "127.0.0.1",
    port: 0,
    maxUdpPayload: limits.maxUdpPayload,
  });
  const qc: QuicConn = endpoint.connect(buildQuicheConfig({ caPem: null }, limits), null, {
    host: "127.0.0.1",
    port,
  });
  let onEstablished!: () => void;
  let onClosed!: (e: { isApp: boolean; errorCode: number } | null) => void;
  const established = new Promise<void>((r) => (onEstablished = r));
  const closed = new Promise<{ isApp: boolean; errorCode: number } | null>((r) => (onClosed = r));
  const resets = new Map<number, (code: number) => void>();
  const resetCodes = new Map<number, number>();
  const scratch = new Uint8Array(65536);
  let started = false;
  qc.handler = {
    process() {
      if (!started && qc.conn.isEstablished()) {
        started = true;
        if (opts.settings !== false) {
          qc.conn.streamSend(
            2,
            Buffer.concat([encodeVarint(0), encodeSettings(new Map([[0x33, 1]]))]),
            false,
          );
        }
        onEstablished();
      }
      for (const id of qc.conn.readable()) {
        for (let i = 0; i < 100; i++) {
          const r = recvChunk(qc.conn, id, scratch);
          if (r.kind === "reset") {
            resetCodes.set(id, r.code);
            resets.get(id)?.(r.code);
          }
          if (r.kind !== "data" || r.fin) break;
        }
      }
    },
    onClosed() {
      onClosed(qc.conn.peerError());
      void endpoint.close();
    },
  };
  qc.markDirty();
  return {
    established,
    closed,
    send(stream, bytes, fin = false) {
      qc.conn.streamSend(stream, bytes, fin);
      qc.markDirty();
    },
    resetOf(stream) {
      const known = resetCodes.get(stream);
      if (known !== undefined) return Promise.resolve(known);
      return new Promise((r) => resets.set(stream, r));
    },
    async close() {
      await endpoint.close();
    },
  };
}
