import { ErrorCode, PROTOCOL_VERSION, type ServerFrame } from "@qpq/shared/protocol";
import { describe, expect, it, vi } from "vitest";
import type { Services } from "../services/index.ts";
import { totalBudget } from "./connection.ts";
import {
  connect,
  createTestServices,
  frameReader,
  requestBytes,
  settle,
} from "./testing/connectionHarness.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

function random(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

async function queueEnvelopes(services: Services, identityKey: Uint8Array, count: number, bytes: number) {
  const channelId = random(16);
  for (let i = 0; i < count; i++) await services.delivery.enqueue(identityKey, channelId, random(bytes));
}

function countFetches(services: Services): { readonly count: number } {
  const counter = { count: 0 };
  const fetchPage = services.delivery.fetchPage.bind(services.delivery);
  services.delivery.fetchPage = (...args) => {
    counter.count++;
    return fetchPage(...args);
  };
  return counter;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function resultOf(frame: ServerFrame | undefined) {
  if (frame?.type !== "response") throw new Error(`expected a response, got ${frame?.type}`);
  return frame.response;
}

const fetchAll = (id: number) =>
  requestBytes(id, { type: "fetch", fetch: { afterSeq: 0, limit: 0, channelId: new Uint8Array(0) } });

describe("a connection that does not read", () => {
  it("stops computing responses at its budget, and is served in full once it reads", async () => {
    const budget = 4 * MiB;
    const services = await createTestServices({ maxFetchPage: 40, connBufferBytes: budget });
    const identityKey = random(32);
    // Each fetch answer is a page of about 1 MB.
    await queueEnvelopes(services, identityKey, 40, 24 * KiB);
    const fetches = countFetches(services);
    const { connection, client } = connect(services, identityKey);
    const stream = await client.createBidirectionalStream();
    const writer = stream.writable.getWriter();
    void writer.write(concat(Array.from({ length: 20 }, (_, i) => fetchAll(i + 1))));

    await vi.waitFor(() => expect(fetches.count).toBeGreaterThan(0));
    await settle();
    // 4 MiB has room for about four answers of about 1 MB, not for twenty.
    expect(fetches.count).toBeGreaterThan(1);
    expect(fetches.count).toBeLessThanOrEqual(4);
    expect(connection.buffers.peak).toBeLessThanOrEqual(budget);

    // Another client of the same gateway is served meanwhile.
    const other = connect(services, random(32));
    const otherStream = await other.client.createBidirectionalStream();
    void otherStream.writable.getWriter().write(requestBytes(7, { type: "health" }));
    expect(resultOf(await frameReader(otherStream.readable).next()).result.type).toBe("health");

    const responses = frameReader(stream.readable);
    for (let i = 0; i < 20; i++) {
      const { result } = resultOf(await responses.next());
      expect(result.type === "fetch" && result.fetch.envelopes.length).toBe(40);
    }
    expect(fetches.count).toBe(20);
    expect(connection.buffers.peak).toBeLessThanOrEqual(budget);
    await settle();
    expect(connection.buffers.used).toBe(0);
    client.close();
  });

  it("repeated subscribes do not leave pumps holding pushes; the last one resumes from the store", async () => {
    const budget = 256 * KiB;
    const envelopeBytes = 64 * KiB;
    const services = await createTestServices({ connBufferBytes: budget });
    const identityKey = random(32);
    await queueEnvelopes(services, identityKey, 200, envelopeBytes);
    const { connection, client } = connect(services, identityKey);
    const stream = await client.createBidirectionalStream();
    const subscribe = (id: number) =>
      requestBytes(id, { type: "subscribe", subscribe: { afterSeq: 0, channelId: new Uint8Array(0) } });
    void stream.writable.getWriter().write(concat(Array.from({ length: 20 }, (_, i) => subscribe(i + 1))));
    const responses = frameReader(stream.readable);
    for (let i = 0; i < 20; i++) expect(resultOf(await responses.next()).result.type).toBe("subscribe");
    await settle();
    // One push may be written past the limit (the one that reached it), never one per subscription.
    expect(connection.buffers.peak).toBeLessThanOrEqual(budget + envelopeBytes + 1024);

    const pushes = frameReader((await client.incomingUnidirectionalStreams.getReader().read()).value!);
    const seen = new Set<number>();
    while (!seen.has(200)) {
      const frame = await pushes.next();
      if (frame?.type !== "push" || frame.push.type !== "envelope") throw new Error("expected a push");
      seen.add(frame.push.envelope.seq);
    }
    expect(seen.size).toBe(200);
    expect(connection.buffers.peak).toBeLessThanOrEqual(budget + envelopeBytes + 1024);
    client.close();
  });

  it("all connections together stay under the total budget", async () => {
    const total = 768 * KiB;
    const services = await createTestServices({
      maxFrameBytes: 256 * KiB,
      maxFetchPage: 10,
      connBufferBytes: 512 * KiB,
      totalBufferBytes: total,
    });
    const identityKey = random(32);
    await queueEnvelopes(services, identityKey, 10, 16 * KiB);
    const fetches = countFetches(services);
    const peers = [connect(services, identityKey), connect(services, identityKey)];
    for (const peer of peers) {
      const stream = await peer.client.createBidirectionalStream();
      void stream.writable.getWriter().write(concat(Array.from({ length: 20 }, (_, i) => fetchAll(i + 1))));
    }
    await vi.waitFor(() => expect(fetches.count).toBeGreaterThan(1));
    await settle();
    expect(fetches.count).toBeLessThan(40);
    for (const peer of peers) expect(peer.connection.buffers.peak).toBeLessThanOrEqual(512 * KiB);
    // Each alone could take 512 KiB; together they never pass the total.
    expect(totalBudget(services).peak).toBeGreaterThan(512 * KiB);
    expect(totalBudget(services).peak).toBeLessThanOrEqual(total);
    for (const peer of peers) peer.client.close();
  });
});

describe("deadlines", () => {
  it("closes a stream whose frame stays incomplete past the frame deadline", async () => {
    const services = await createTestServices({ frameDeadlineMs: 20 });
    const { client } = connect(services, random(32));
    const stream = await client.createBidirectionalStream();
    const writer = stream.writable.getWriter();
    const responses = frameReader(stream.readable);
    // A whole frame first: the stream works.
    void writer.write(requestBytes(1, { type: "health" }));
    expect(resultOf(await responses.next()).result.type).toBe("health");
    // Then a frame announcing 100 bytes, of which 10 ever come.
    void writer.write(concat([new Uint8Array([100, 0, 0, 0]), new Uint8Array(10)]));
    const { requestId, result } = resultOf(await responses.next());
    expect(requestId).toBe(0);
    expect(result.type === "error" && result.error.code).toBe(ErrorCode.DeadlineExceeded);
    expect(await responses.next()).toBeUndefined();
    // The session goes on.
    const again = await client.createBidirectionalStream();
    void again.writable.getWriter().write(requestBytes(2, { type: "health" }));
    expect(resultOf(await frameReader(again.readable).next()).result.type).toBe("health");
    client.close();
  });

  it("closes a session that does not say hello in time", async () => {
    const services = await createTestServices({ helloDeadlineMs: 20 });
    const { client, served } = connect(services);
    await client.closed;
    await served;
    expect(client.closeInfo?.closeCode).toBe(ErrorCode.DeadlineExceeded);
  });

  it("keeps a session that said hello", async () => {
    const services = await createTestServices({ helloDeadlineMs: 20, frameDeadlineMs: 20 });
    const { client } = connect(services);
    const stream = await client.createBidirectionalStream();
    const responses = frameReader(stream.readable);
    const hello = { minVersion: PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION, client: "test" };
    void stream.writable.getWriter().write(requestBytes(1, { type: "hello", hello }));
    expect(resultOf(await responses.next()).result.type).toBe("hello");
    // The deadline would have closed it by the time a frame deadline of the same length expires.
    const later = await client.createBidirectionalStream();
    const writer = later.writable.getWriter();
    void writer.write(new Uint8Array([100, 0, 0, 0]));
    const { result } = resultOf(await frameReader(later.readable).next());
    expect(result.type === "error" && result.error.code).toBe(ErrorCode.DeadlineExceeded);
    expect(client.closeInfo).toBeUndefined();
    client.close();
  });
});
