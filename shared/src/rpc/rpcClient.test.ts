import { describe, expect, it } from "vitest";
import { decodeClientFrame, encodeServerFrame } from "../protocol/codec.ts";
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { FrameDecoder } from "../protocol/frame.ts";
import { FrameWriter } from "../protocol/frameWriter.ts";
import type { ClientFrame, Push, ResponseBody, ServerFrame } from "../protocol/messages.ts";
import { RpcClient, type RpcClientOptions } from "./rpcClient.ts";
import { createMemoryTransportPair, type MemoryTransportOptions } from "./testing/memoryTransport.ts";

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** A scripted gateway on the server end of a memory transport. */
async function setup(options: { rpc?: RpcClientOptions; transport?: MemoryTransportOptions } = {}) {
  const { client, server } = createMemoryTransportPair(options.transport);
  const errors: unknown[] = [];
  const rpc = RpcClient.open(client, { onError: (e) => errors.push(e), ...options.rpc });
  const incoming = server.incomingBidirectionalStreams.getReader();
  const { value: stream } = await incoming.read();
  if (!stream) throw new Error("no request stream");
  const writer = new FrameWriter(stream.writable);
  const chunks: Uint8Array[] = [];
  const requests: ClientFrame[] = [];
  let waiter: (() => void) | undefined;
  let ended = false;
  void (async () => {
    const reader = stream.readable.getReader();
    const decoder = new FrameDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        for (const f of decoder.push(value)) requests.push(decodeClientFrame(f));
        waiter?.();
      }
    } catch {
      // stream failed
    }
    ended = true;
    waiter?.();
  })();

  async function requestsReceived(n: number): Promise<ClientFrame[]> {
    while (requests.length < n) {
      if (ended) throw new Error(`stream ended after ${requests.length} requests`);
      await new Promise<void>((resolve) => (waiter = resolve));
    }
    return requests.slice(0, n);
  }

  function respond(requestId: number, body: ResponseBody): void {
    writer.write(encodeServerFrame({ type: "response", response: { requestId, result: body } }));
  }

  async function pushStream(): Promise<FrameWriter> {
    return new FrameWriter(await server.createUnidirectionalStream());
  }

  return {
    client,
    server,
    rpc,
    writer,
    chunks,
    requests,
    errors,
    requestsReceived,
    respond,
    pushStream,
    isEnded: () => ended,
  };
}

const pushFrame = (push: Push): Uint8Array => encodeServerFrame({ type: "push", push });
const envelope = (seq: number) => ({
  seq,
  channelId: new Uint8Array(16),
  payload: new Uint8Array([seq & 0xff]),
  enqueuedAtMs: 1000 + seq,
});

describe("RpcClient", () => {
  it("correlates out-of-order responses and writes same-tick calls as one chunk", async () => {
    const t = await setup();
    const enqueue = t.rpc.call("enqueue", {
      recipientKey: new Uint8Array(32),
      channelId: new Uint8Array(0),
      payload: new Uint8Array(100),
      commit: undefined,
    });
    const fetch = t.rpc.call("fetch", { afterSeq: 5, limit: 10, channelId: new Uint8Array(0) });
    const health = t.rpc.call("health", undefined);
    const [r1, r2, r3] = await t.requestsReceived(3);
    expect(t.chunks).toHaveLength(1);
    expect([r1!.request.type, r2!.request.type, r3!.request.type]).toEqual(["enqueue", "fetch", "health"]);
    expect(new Set([r1!.requestId, r2!.requestId, r3!.requestId]).size).toBe(3);
    expect([r1!.requestId, r2!.requestId, r3!.requestId]).not.toContain(0);

    t.respond(r3!.requestId, { type: "health", health: { status: "ok", version: 1, uptimeMs: 5 } });
    t.respond(r1!.requestId, { type: "enqueue", enqueue: { seq: 77 } });
    t.respond(r2!.requestId, { type: "fetch", fetch: { envelopes: [envelope(6)], more: true } });
    expect(await health).toEqual({ status: "ok", version: 1, uptimeMs: 5 });
    expect(await enqueue).toEqual({ seq: 77 });
    expect(await fetch).toEqual({ envelopes: [envelope(6)], more: true });
    expect(t.errors).toEqual([]);
    t.rpc.close();
  });

  it("survives a transport that cuts every chunk into 3-byte pieces", async () => {
    const t = await setup({ transport: { maxChunkBytes: 3 } });
    const calls = [1, 2, 3].map((n) => t.rpc.call("ack", { upToSeq: n }));
    const reqs = await t.requestsReceived(3);
    for (const r of reqs.reverse()) {
      if (r.request.type !== "ack") throw new Error("unexpected");
      t.respond(r.requestId, { type: "ack", ack: { removed: r.request.ack.upToSeq * 10 } });
    }
    expect(await Promise.all(calls)).toEqual([{ removed: 10 }, { removed: 20 }, { removed: 30 }]);
    t.rpc.close();
  });

  it("maps an error response to QpqError with code and retryAfterMs", async () => {
    const t = await setup();
    const call = t.rpc.call("loginStart", { username: "alice", startLoginRequest: new Uint8Array(3) });
    const [req] = await t.requestsReceived(1);
    t.respond(req!.requestId, {
      type: "error",
      error: { code: ErrorCode.RateLimited, message: "slow down", retryAfterMs: 1500 },
    });
    const error = await call.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QpqError);
    expect(error).toMatchObject({ code: ErrorCode.RateLimited, retryAfterMs: 1500, detail: "slow down" });
    t.rpc.close();
  });

  it("rejects a response of the wrong type and one that cannot be decoded, and only that call", async () => {
    const t = await setup();
    const a = t.rpc.call("health", undefined);
    const b = t.rpc.call("subscribe", { afterSeq: 0, channelId: new Uint8Array(0) });
    const c = t.rpc.call("logout", undefined);
    const [ra, rb, rc] = await t.requestsReceived(3);
    t.respond(ra!.requestId, { type: "logout" });
    // An unknown result member (newer gateway) for b: patch the discriminant of an encoded response.
    const bytes = encodeServerFrame({
      type: "response",
      response: { requestId: rb!.requestId, result: { type: "logout" } },
    });
    new DataView(bytes.buffer, bytes.byteOffset).setUint16(36, 99, true);
    t.writer.write(bytes);
    t.respond(rc!.requestId, { type: "logout" });
    await expect(a).rejects.toMatchObject({ code: ErrorCode.MalformedFrame });
    await expect(b).rejects.toMatchObject({ code: ErrorCode.UnknownRequest, requestId: rb!.requestId });
    await expect(c).resolves.toBeUndefined();
    expect(t.rpc.isClosed).toBe(false);
    t.rpc.close();
  });

  it("close() rejects pending and later calls with Unavailable and ends the request stream", async () => {
    const t = await setup();
    const pending = t.rpc.call("health", undefined);
    await t.requestsReceived(1);
    t.rpc.close();
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    await expect(t.rpc.call("health", undefined)).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    expect((await t.rpc.closed).code).toBe(ErrorCode.Unavailable);
    await tick(5);
    expect(t.isEnded()).toBe(true);
  });

  it("drops responses still buffered when close() runs from an earlier response's handler", async () => {
    const t = await setup();
    const first = t.rpc.call("health", undefined);
    const second = t.rpc.call("health", undefined);
    const [a, b] = await t.requestsReceived(2);
    const result: ResponseBody = { type: "health", health: { status: "ok", version: 1, uptimeMs: 1 } };
    // One write, so both responses reach the client in one chunk and decode in one pass.
    t.respond(a!.requestId, result);
    t.respond(b!.requestId, result);
    await first.then(() => t.rpc.close());
    await expect(second).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    await tick(5);
    expect(t.errors).toEqual([]);
  });

  it("rejects pending calls with Unavailable when the session closes", async () => {
    const t = await setup({ rpc: { maxInFlight: 1 } });
    const sent = t.rpc.call("health", undefined);
    const queued = t.rpc.call("health", undefined);
    await t.requestsReceived(1);
    t.server.close({ closeCode: 0, reason: "bye" });
    await expect(sent).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    await expect(queued).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    expect(t.rpc.isClosed).toBe(true);
  });

  it("rejects pending calls with Unavailable when the gateway ends the request stream", async () => {
    const t = await setup();
    const pending = t.rpc.call("health", undefined);
    await t.requestsReceived(1);
    await t.writer.close();
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.Unavailable });
  });

  it("fails calls made before the stream could be opened", async () => {
    const { client } = createMemoryTransportPair();
    client.close();
    const rpc = RpcClient.open(client, { onError: () => undefined });
    await expect(rpc.call("health", undefined)).rejects.toMatchObject({ code: ErrorCode.Unavailable });
  });

  it("bounds calls in flight; extra calls wait for a slot", async () => {
    const t = await setup({ rpc: { maxInFlight: 2 } });
    const calls = [1, 2, 3, 4, 5].map((n) => t.rpc.call("ack", { upToSeq: n }));
    await t.requestsReceived(2);
    await tick(5);
    expect(t.requests).toHaveLength(2);
    expect(t.rpc.inFlightCalls).toBe(2);
    expect(t.rpc.queuedCalls).toBe(3);
    let answered = 0;
    while (answered < 5) {
      const reqs = await t.requestsReceived(answered + 1);
      const r = reqs[answered]!;
      if (r.request.type !== "ack") throw new Error("unexpected");
      t.respond(r.requestId, { type: "ack", ack: { removed: r.request.ack.upToSeq } });
      answered++;
      await tick(1);
      expect(t.requests.length).toBeLessThanOrEqual(answered + 2);
    }
    expect(await Promise.all(calls)).toEqual([1, 2, 3, 4, 5].map((removed) => ({ removed })));
    t.rpc.close();
  });

  it("times out and aborts calls; a late response is ignored and its id is not reused meanwhile", async () => {
    const t = await setup();
    const slow = t.rpc.call("health", undefined, { timeoutMs: 20 });
    const [r1] = await t.requestsReceived(1);
    const timedOut = await slow.catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(DOMException);
    expect((timedOut as DOMException).name).toBe("TimeoutError");
    expect(t.rpc.inFlightCalls).toBe(0);

    // Force the id counter to wrap onto the abandoned id: it must be skipped.
    (t.rpc as unknown as { nextId: number }).nextId = r1!.requestId;
    const controller = new AbortController();
    const aborted = t.rpc.call("health", undefined, { signal: controller.signal });
    const [, r2] = await t.requestsReceived(2);
    expect(r2!.requestId).toBe(r1!.requestId + 1);
    controller.abort(new Error("user gave up"));
    await expect(aborted).rejects.toThrow("user gave up");

    t.respond(r1!.requestId, { type: "health", health: { status: "late", version: 1, uptimeMs: 0 } });
    t.respond(r2!.requestId, { type: "health", health: { status: "late", version: 1, uptimeMs: 0 } });
    const ok = t.rpc.call("health", undefined);
    const [, , r3] = await t.requestsReceived(3);
    t.respond(r3!.requestId, { type: "health", health: { status: "fresh", version: 1, uptimeMs: 0 } });
    expect(await ok).toMatchObject({ status: "fresh" });
    expect(t.errors).toEqual([]);
    await expect(
      t.rpc.call("health", undefined, { signal: AbortSignal.abort(new Error("already")) }),
    ).rejects.toThrow("already");
    t.rpc.close();
  });

  it("wraps request ids at 2^32-1, never uses 0 and skips ids in use", async () => {
    const t = await setup();
    const first = t.rpc.call("ack", { upToSeq: 1 }); // id 1, stays pending
    (t.rpc as unknown as { nextId: number }).nextId = 0xffff_ffff;
    const second = t.rpc.call("ack", { upToSeq: 2 });
    const third = t.rpc.call("ack", { upToSeq: 3 });
    const reqs = await t.requestsReceived(3);
    expect(reqs.map((r) => r.requestId)).toEqual([1, 0xffff_ffff, 2]);
    for (const r of reqs) t.respond(r.requestId, { type: "ack", ack: { removed: r.requestId } });
    expect(await Promise.all([first, second, third])).toEqual([
      { removed: 1 },
      { removed: 0xffff_ffff },
      { removed: 2 },
    ]);
    t.rpc.close();
  });

  it("delivers pushes from server-opened unidirectional streams, buffering until a handler exists", async () => {
    const t = await setup();
    const s1 = await t.pushStream();
    s1.write(pushFrame({ type: "envelope", envelope: envelope(1) }));
    s1.write(pushFrame({ type: "envelope", envelope: envelope(2) }));
    await s1.flush();
    await tick(5);
    const seen: Push[] = [];
    const off = t.rpc.onPush((p) => seen.push(p));
    expect(seen).toEqual([
      { type: "envelope", envelope: envelope(1) },
      { type: "envelope", envelope: envelope(2) },
    ]);
    // A push type from a newer gateway is reported and dropped; the stream keeps working.
    const unknown = pushFrame({ type: "envelope", envelope: envelope(3) });
    new DataView(unknown.buffer, unknown.byteOffset).setUint16(32, 7, true); // Push discriminant
    s1.write(unknown);
    s1.write(pushFrame({ type: "envelope", envelope: envelope(4) }));
    const s2 = await t.pushStream();
    s2.write(
      pushFrame({
        type: "sessionEnded",
        sessionEnded: { code: ErrorCode.SessionInvalid, message: "expired", retryAfterMs: 0 },
      }),
    );
    await s1.flush();
    await s2.flush();
    await tick(5);
    expect(seen.slice(2)).toEqual([
      { type: "envelope", envelope: envelope(4) },
      {
        type: "sessionEnded",
        sessionEnded: { code: ErrorCode.SessionInvalid, message: "expired", retryAfterMs: 0 },
      },
    ]);
    expect(t.errors).toHaveLength(1);
    expect(t.errors[0]).toMatchObject({ code: ErrorCode.UnknownRequest });

    // A throwing handler is reported, other handlers still run.
    const second: Push[] = [];
    const offThrowing = t.rpc.onPush(() => {
      throw new Error("handler bug");
    });
    t.rpc.onPush((p) => second.push(p));
    s2.write(pushFrame({ type: "envelope", envelope: envelope(5) }));
    await s2.flush();
    await tick(5);
    expect(second).toHaveLength(1);
    expect(seen).toHaveLength(5);
    expect(t.errors[1]).toMatchObject({ message: "handler bug" });
    off();
    offThrowing();
    t.rpc.close();
  });

  it("reports a response for an unknown request id", async () => {
    const t = await setup();
    t.respond(12345, { type: "logout" });
    await tick(5);
    expect(t.errors).toHaveLength(1);
    expect(t.errors[0]).toMatchObject({ code: ErrorCode.MalformedFrame });
    t.rpc.close();
  });

  it("treats a frame it cannot attribute on the request stream as fatal", async () => {
    const t = await setup();
    const pending = t.rpc.call("health", undefined);
    await t.requestsReceived(1);
    t.writer.write(new Uint8Array(24)); // segment table says 0 words, 16 bytes follow: undecodable
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.MalformedFrame });
    expect(t.rpc.isClosed).toBe(true);
  });

  it("frames from the gateway above the limit close the client with FrameTooLarge", async () => {
    const t = await setup({ rpc: { limits: { maxFrameBytes: 1024 } } });
    const pending = t.rpc.call("health", undefined);
    const [r] = await t.requestsReceived(1);
    t.respond(r!.requestId, {
      type: "registerStart",
      registerStart: { registrationResponse: new Uint8Array(2000) },
    });
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge });
  });
});

describe("memory transport", () => {
  it("delivers bidirectional and unidirectional streams both ways and closes both ends", async () => {
    const { client, server } = createMemoryTransportPair();
    const bidi = await server.createBidirectionalStream();
    const { value: remote } = await client.incomingBidirectionalStreams.getReader().read();
    const w = bidi.writable.getWriter();
    void w.write(new Uint8Array([1, 2]));
    const r = remote!.readable.getReader();
    expect([...(await r.read()).value!]).toEqual([1, 2]);
    client.close({ closeCode: 7, reason: "done" });
    await server.closed;
    expect(server.closeInfo).toEqual({ closeCode: 7, reason: "done" });
    await expect(r.read()).rejects.toThrow("session closed");
    await expect(server.createUnidirectionalStream()).rejects.toThrow("session closed");
    const frame: ServerFrame = { type: "push", push: { type: "envelope", envelope: envelope(1) } };
    expect(encodeServerFrame(frame).byteLength).toBeGreaterThan(0);
  });
});
