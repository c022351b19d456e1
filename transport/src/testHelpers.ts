/** Shared by the transport tests: certificates, stream helpers and a raw QUIC peer for bad input. */
import dgram from "node:dgram";
import { randomBytes } from "node:crypto";
import { quiche } from "@matrixai/quic/native/index.js";
import type { Config, Connection, Host } from "@matrixai/quic/native/types.js";
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

/** A quiche client's first Initial, real and decryptable, from a connection nobody will continue. */
export function craftInitial(from: Host, to: Host): { packet: Buffer; conn: Connection; scid: Buffer } {
  const scid = randomBytes(20);
  const conn = quiche.Connection.connect(null, scid, from, to, floodConfig());
  const packet = Buffer.alloc(1500);
  const sent = conn.send(packet);
  if (!sent) throw new Error("quiche had no Initial to send");
  return { packet: packet.subarray(0, sent[0]), conn, scid };
}

let sharedConfig: Config | undefined;
const floodConfig = (): Config => (sharedConfig ??= buildQuicheConfig({ caPem: null }, resolveLimits()));

const RETRY_TYPE = 0xf0; // long header, fixed bit, type 3

export interface InitialFlood {
  socket: dgram.Socket;
  local: Host;
  /** Crafted connections (by our SCID, hex) the server answered, and those it answered with a Retry. */
  answered: Set<string>;
  retried: Map<string, Buffer>;
  /**
   * Sends `count` crafted Initials from this one socket, in batches, each batch once the server has
   * handled the previous one: answered, or counted by `dropped` (the kernel would otherwise drop what
   * overflows the server's receive buffer, and the test would measure that instead).
   */
  send(count: number, dropped?: () => number): Promise<void>;
  close(): Promise<void>;
}

export async function initialFlood(serverPort: number, fromHost: string): Promise<InitialFlood> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((r) => socket.bind(0, fromHost, r));
  const local = { host: fromHost, port: socket.address().port };
  const server = { host: "127.0.0.1", port: serverPort };
  const answered = new Set<string>();
  const retried = new Map<string, Buffer>();
  socket.on("message", (msg) => {
    const len = msg[5];
    if ((msg[0] ?? 0) < 0x80 || len === undefined) return;
    const dcid = msg.toString("hex", 6, 6 + len);
    answered.add(dcid);
    if (((msg[0] ?? 0) & 0xf0) === RETRY_TYPE) retried.set(dcid, Buffer.from(msg));
  });
  return {
    socket,
    local,
    answered,
    retried,
    async send(count, dropped = () => 0) {
      const base = answered.size + dropped();
      for (let done = 0; done < count;) {
        const batch = Math.min(25, count - done);
        for (let i = 0; i < batch; i++)
          socket.send(craftInitial(local, server).packet, serverPort, "127.0.0.1");
        done += batch;
        await waitFor(() => answered.size + dropped() - base >= done);
      }
    },
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}
