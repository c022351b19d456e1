/**
 * One ClientConnection over the in-memory WebTransport pair, with real services on a MemoryStore, for
 * tests of what the connection itself does with hostile or slow peers (budgets, deadlines), without
 * OPAQUE: the connection is marked as past hello and logged in directly.
 */
import {
  FrameDecoder,
  PROTOCOL_VERSION,
  decodeServerFrame,
  encodeClientFrame,
  encodeFrame,
  type ClientFrame,
  type ServerFrame,
} from "@qpq/shared/protocol";
import { createMemoryTransportPair, type MemoryTransport } from "@qpq/shared/rpc/testing";
import { loadConfig, type Limits } from "../../config.ts";
import { createServices } from "../../services/createServices.ts";
import type { Services } from "../../services/index.ts";
import { MemoryStore } from "../../store/memoryStore.ts";
import { ClientConnection } from "../connection.ts";

export async function createTestServices(limits: Partial<Limits> = {}): Promise<Services> {
  const config = loadConfig({}, "/");
  config.limits = { ...config.limits, rateLimits: false, ...limits };
  return createServices(config, new MemoryStore());
}

export interface TestConnection {
  connection: ClientConnection;
  client: MemoryTransport;
  served: Promise<void>;
}

/** Serves one connection; `identityKey` given, it is past hello and logged in as that identity. */
export function connect(services: Services, identityKey?: Uint8Array): TestConnection {
  const { client, server } = createMemoryTransportPair();
  const connection = new ClientConnection(Object.assign(server, { remoteAddress: "127.0.0.1" }), services);
  if (identityKey) {
    connection.state.version = PROTOCOL_VERSION;
    connection.state.session = {
      username: "tester",
      identityKey,
      deviceKey: identityKey,
      tokenHash: new Uint8Array(32),
      expiresAtMs: Date.now() + 3600_000,
    };
  }
  return { connection, client, served: connection.serve() };
}

export function requestBytes(requestId: number, request: ClientFrame["request"]): Uint8Array {
  return encodeFrame(encodeClientFrame({ requestId, request }));
}

/** Reads whole server frames off a stream, on demand (a test decides when it reads at all). */
export function frameReader(readable: ReadableStream<Uint8Array>) {
  const reader = readable.getReader();
  const decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
  const queued: ServerFrame[] = [];
  return {
    /** The next frame, or undefined when the stream ended. */
    async next(): Promise<ServerFrame | undefined> {
      while (queued.length === 0) {
        const { value, done } = await reader.read();
        if (done) return undefined;
        for (const frame of decoder.push(value)) queued.push(decodeServerFrame(frame));
      }
      return queued.shift();
    },
  };
}

/** Lets every pending macrotask and microtask run a number of times: "the gateway did all it would". */
export async function settle(turns = 50): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}
