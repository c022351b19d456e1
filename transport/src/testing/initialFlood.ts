/**
 * Crafted QUIC Initials for flood tests (transport and gateway, `@qpq/transport/testing`): each one a
 * real quiche client's first flight, so the server decrypts it and would hold a connection for it,
 * from a client that never continues.
 */
import dgram from "node:dgram";
import { randomBytes } from "node:crypto";
import { quiche } from "@matrixai/quic/native/index.js";
import type { Config, Connection, Host } from "@matrixai/quic/native/types.js";
import { buildQuicheConfig, resolveLimits } from "../config.ts";
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

/** `serverHost` must be IPv4 (the flood's socket is); defaults to loopback. */
export async function initialFlood(
  serverPort: number,
  fromHost: string,
  serverHost = "127.0.0.1",
): Promise<InitialFlood> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((r) => socket.bind(0, fromHost, r));
  const local = { host: fromHost, port: socket.address().port };
  const server = { host: serverHost, port: serverPort };
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
          socket.send(craftInitial(local, server).packet, serverPort, serverHost);
        done += batch;
        const start = performance.now();
        while (answered.size + dropped() - base < done) {
          if (performance.now() - start > 5000)
            throw new Error("the server did not answer the flood in time");
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    },
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}
