/**
 * ConnectionManager on fake timers against a scripted gateway that can die the way a SIGKILLed one
 * does: no more answers, no close, and a client transport whose `closed` never settles (as a browser's
 * WebTransport may behave towards a vanished peer). No sleeps: time only moves when the test says so.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { decodeClientFrame, encodeServerFrame } from "../protocol/codec.ts";
import type { ResponseBody } from "../protocol/messages.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { FrameDecoder } from "../protocol/frame.ts";
import { FrameWriter } from "../protocol/frameWriter.ts";
import { PROTOCOL_VERSION } from "../protocol/version.ts";
import { createMemoryTransportPair, type MemoryTransport } from "../rpc/testing/memoryTransport.ts";
import type { WebTransportLike } from "../transport/webtransport.ts";
import { ConnectionManager, type ConnectionStatus } from "./connection.ts";
import type { GatewayClient } from "./gatewayClient.ts";
import { DEFAULT_HEARTBEAT } from "./heartbeat.ts";
import type { Messenger } from "./messenger.ts";

class FakeGateway {
  /** Answers discovery and serves new connections. */
  up = true;
  /** Discovery answers while up is false: the HTTP side lives, WebTransport sessions never open. */
  halfUp = false;
  sessionValid = true;
  /** Health calls to leave unanswered, as a stalled machine would answer them too late. */
  dropHealth = 0;
  /** Connections that still answer; a kill empties it without closing any. */
  private readonly alive = new Set<MemoryTransport>();
  opened = 0;
  healthCalls = 0;

  readonly fetch: typeof fetch = () => {
    if (!this.up && !this.halfUp) return Promise.reject(new TypeError("fetch failed: connection refused"));
    return Promise.resolve(new Response(JSON.stringify({ webtransport: "https://gateway.test/wt" })));
  };

  readonly openTransport = (): WebTransportLike => {
    this.opened++;
    const { client, server } = createMemoryTransportPair();
    if (this.up) {
      this.alive.add(server);
      void this.serve(server);
    }
    return {
      ready: client.ready,
      closed: new Promise(() => undefined),
      createBidirectionalStream: () => client.createBidirectionalStream(),
      createUnidirectionalStream: () => client.createUnidirectionalStream(),
      incomingBidirectionalStreams: client.incomingBidirectionalStreams,
      incomingUnidirectionalStreams: client.incomingUnidirectionalStreams,
      close: () => undefined,
    };
  };

  kill(): void {
    this.up = false;
    this.alive.clear();
  }

  private async serve(server: MemoryTransport): Promise<void> {
    const { value: stream } = await server.incomingBidirectionalStreams.getReader().read();
    if (!stream) return;
    const writer = new FrameWriter(stream.writable);
    const reader = stream.readable.getReader();
    const decoder = new FrameDecoder();
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done || !value) return;
      for (const bytes of decoder.push(value)) {
        const { requestId, request } = decodeClientFrame(bytes);
        if (!this.alive.has(server)) continue;
        if (request.type === "health" && this.dropHealth > 0) {
          this.dropHealth--;
          continue;
        }
        const result = this.answer(request.type);
        writer.write(encodeServerFrame({ type: "response", response: { requestId, result } }));
      }
    }
  }

  private answer(type: string): ResponseBody {
    switch (type) {
      case "hello":
        return {
          type: "hello",
          hello: {
            type: "ok",
            ok: {
              version: PROTOCOL_VERSION,
              server: "fake",
              maxFrameBytes: 1 << 20,
              maxPayloadBytes: 1 << 16,
            },
          },
        };
      case "health":
        this.healthCalls++;
        return { type: "health", health: { status: "ok", version: PROTOCOL_VERSION, uptimeMs: 1 } };
      case "resumeSession":
        if (!this.sessionValid) {
          return { type: "error", error: { code: ErrorCode.SessionInvalid, message: "no", retryAfterMs: 0 } };
        }
        return {
          type: "resumeSession",
          resumeSession: { username: "alice", identityKey: new Uint8Array(32), expiresAtMs: 1e15 },
        };
      default:
        return { type: "error", error: { code: ErrorCode.Internal, message: type, retryAfterMs: 0 } };
    }
  }
}

/** What ConnectionManager asks of the messenger: attach to a new connection, detach on loss. */
function fakeMessenger() {
  const attached: (GatewayClient | undefined)[] = [];
  const messenger = {
    attach: (gw: GatewayClient) => {
      attached.push(gw);
      return Promise.resolve();
    },
    detach: () => void attached.push(undefined),
  };
  return { messenger: messenger as unknown as Messenger, attached };
}

let gateway: FakeGateway;
let cm: ConnectionManager;
let statuses: ConnectionStatus[];

beforeEach(() => {
  vi.useFakeTimers();
  gateway = new FakeGateway();
  cm = new ConnectionManager({
    baseUrl: "https://gateway.test",
    openTransport: gateway.openTransport,
    fetchImpl: gateway.fetch,
    initialBackoffMs: 200,
    maxBackoffMs: 1_000,
    random: () => 1,
  });
  statuses = [];
  cm.onStatus((status) => statuses.push(status));
});

afterEach(() => {
  cm.stop();
  vi.useRealTimers();
});

async function kept() {
  const gw = await cm.connect();
  const fake = fakeMessenger();
  cm.keep(fake.messenger, gw, new Uint8Array(16));
  return { gw, ...fake };
}

const worstCase = DEFAULT_HEARTBEAT.intervalMs + DEFAULT_HEARTBEAT.misses * DEFAULT_HEARTBEAT.timeoutMs;

describe("ConnectionManager", () => {
  it("keeps a healthy connection online with a probe every interval", async () => {
    await kept();
    await vi.advanceTimersByTimeAsync(DEFAULT_HEARTBEAT.intervalMs * 10);
    expect(cm.status).toBe("online");
    expect(gateway.healthCalls).toBe(10);
  });

  it("notices a gateway that died without closing within interval + misses × timeout, and not before", async () => {
    const { attached } = await kept();
    gateway.kill();
    await vi.advanceTimersByTimeAsync(worstCase - 1);
    expect(cm.status).toBe("online");
    await vi.advanceTimersByTimeAsync(1);
    expect(cm.status).toBe("offline");
    expect(attached.at(-1)).toBeUndefined(); // detached: sends queue instead of hanging
  });

  it("does not give up on one late answer, but on two in a row", async () => {
    await kept();
    gateway.dropHealth = 1;
    await vi.advanceTimersByTimeAsync(DEFAULT_HEARTBEAT.intervalMs * 5);
    expect(cm.status).toBe("online");
    expect(gateway.opened).toBe(1);
    expect(statuses).not.toContain("offline");
    gateway.dropHealth = DEFAULT_HEARTBEAT.misses;
    await vi.advanceTimersByTimeAsync(worstCase);
    // Given up on, and since this gateway does answer new connections, replaced by a new one.
    expect(statuses).toContain("offline");
    expect(gateway.opened).toBe(2);
  });

  it("reconnects when the gateway is back, resumes the session and re-attaches the messenger", async () => {
    const { gw, attached } = await kept();
    gateway.kill();
    await vi.advanceTimersByTimeAsync(worstCase);
    expect(cm.status).toBe("offline");
    // Attempts while it is down fail quickly and keep the badge on "offline", without flicker.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(statuses.filter((s) => s === "connecting")).toHaveLength(1);
    gateway.up = true;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(cm.status).toBe("online");
    const latest = attached.at(-1);
    expect(latest).toBeDefined();
    expect(latest).not.toBe(gw);
  });

  it("gives up on an attempt that hangs and tries again", async () => {
    await kept();
    gateway.kill();
    await vi.advanceTimersByTimeAsync(worstCase);
    gateway.halfUp = true;
    const before = gateway.opened;
    await vi.advanceTimersByTimeAsync(25_000);
    expect(gateway.opened).toBeGreaterThan(before + 1);
    expect(cm.status).toBe("offline");
  });

  it("reports an expired session instead of retrying it", async () => {
    await kept();
    gateway.kill();
    await vi.advanceTimersByTimeAsync(worstCase);
    gateway.sessionValid = false;
    gateway.up = true;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(cm.status).toBe("expired");
    const opened = gateway.opened;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(gateway.opened).toBe(opened);
  });

  it("stop() ends probing and reconnecting", async () => {
    await kept();
    cm.stop();
    gateway.kill();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(cm.status).toBe("stopped");
    expect(gateway.opened).toBe(1);
  });
});
