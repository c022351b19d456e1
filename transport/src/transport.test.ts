import { afterAll, beforeAll, describe, expect, it } from "vitest";
import dgram from "node:dgram";
import { randomBytes } from "node:crypto";
import { generateSelfSigned, type SelfSignedCertificate } from "./tls/selfSigned.ts";
import {
  connectWebTransport,
  startWebTransportServer,
  type WebTransportServer,
  type WebTransportServerSession,
} from "./index.ts";
import { readAll, waitFor, writeAll } from "./testHelpers.ts";

let cert: SelfSignedCertificate;
let server: WebTransportServer;
const sessions: WebTransportServerSession[] = [];
let onSession: (s: WebTransportServerSession) => void = () => {};

/** Echoes every bidirectional stream of a session. */
async function echo(s: WebTransportServerSession): Promise<void> {
  for await (const bidi of s.incomingBidirectionalStreams as unknown as AsyncIterable<{
    readable: ReadableStream;
    writable: WritableStream;
  }>) {
    void bidi.readable.pipeTo(bidi.writable).catch(() => {});
  }
}

function connect(path = "/wt", hash = cert.sha256) {
  return connectWebTransport(`https://127.0.0.1:${server.port}${path}`, {
    serverCertificateHashes: [{ algorithm: "sha-256", value: hash }],
  });
}

function caServer(c: SelfSignedCertificate) {
  return { host: "127.0.0.1", port: 0, certPem: c.certPem, keyPem: c.keyPem, path: "/wt" };
}

beforeAll(async () => {
  cert = await generateSelfSigned({ hostnames: ["localhost", "127.0.0.1", "::1"] });
  server = await startWebTransportServer({
    host: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    path: "/wt",
    onSession: (s) => {
      sessions.push(s);
      onSession(s);
    },
  });
});

afterAll(async () => {
  await server.close();
});

describe("WebTransport server and Node client", () => {
  it("echoes 1 KiB and 1 MiB on bidirectional streams", async () => {
    onSession = (s) => void echo(s);
    const wt = connect();
    await wt.ready;
    for (const size of [1024, 1024 * 1024]) {
      const data = randomBytes(size);
      const bidi = await wt.createBidirectionalStream();
      const [, got] = await Promise.all([writeAll(bidi.writable, data), readAll(bidi.readable)]);
      expect(Buffer.from(got).equals(data)).toBe(true);
    }
    const s = sessions.at(-1)!;
    expect(s.path).toBe("/wt");
    expect(s.remoteAddress).toBe("127.0.0.1");
    wt.close();
    await wt.closed;
  });

  it("delivers server-initiated unidirectional and bidirectional streams", async () => {
    onSession = async (s) => {
      const uni = await s.createUnidirectionalStream();
      await writeAll(uni, new TextEncoder().encode("uni from server"));
      const bidi = await s.createBidirectionalStream();
      await writeAll(bidi.writable, new TextEncoder().encode("bidi from server"));
    };
    const wt = connect();
    const uni = (await wt.incomingUnidirectionalStreams.getReader().read()).value!;
    expect(new TextDecoder().decode(await readAll(uni))).toBe("uni from server");
    const bidi = (await wt.incomingBidirectionalStreams.getReader().read()).value!;
    expect(new TextDecoder().decode(await readAll(bidi.readable))).toBe("bidi from server");
    wt.close();
  });

  it("runs many concurrent streams, more than the stream limit at once", async () => {
    onSession = (s) => void echo(s);
    const wt = connect();
    await wt.ready;
    const results = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const bidi = await wt.createBidirectionalStream();
        const data = new TextEncoder().encode(`stream ${i} `.repeat(50));
        const [, got] = await Promise.all([writeAll(bidi.writable, data), readAll(bidi.readable)]);
        return Buffer.from(got).equals(data);
      }),
    );
    expect(results.every(Boolean)).toBe(true);
    wt.close();
  });

  it("carries close codes and reasons both ways (WT_CLOSE_SESSION)", async () => {
    let serverSide!: WebTransportServerSession;
    onSession = (s) => (serverSide = s);
    const a = connect();
    await a.ready;
    a.close({ closeCode: 4001, reason: "client leaving" });
    expect(await a.closed).toEqual({ closeCode: 4001, reason: "client leaving" });
    expect(await serverSide.closed).toEqual({ closeCode: 4001, reason: "client leaving" });

    const b = connect();
    await b.ready;
    await waitFor(
      () => serverSide !== undefined && sessions.at(-1) === serverSide && serverSide !== undefined,
    );
    serverSide.close({ closeCode: 7, reason: "server says bye" });
    expect(await b.closed).toEqual({ closeCode: 7, reason: "server says bye" });
  });

  it("propagates stream reset codes", async () => {
    let serverSide!: WebTransportServerSession;
    onSession = (s) => (serverSide = s);
    const wt = connect();
    await wt.ready;
    const bidi = await wt.createBidirectionalStream();
    const w = bidi.writable.getWriter();
    await w.write(Uint8Array.of(1, 2, 3));
    await waitFor(() => serverSide !== undefined);
    const incoming = (await serverSide.incomingBidirectionalStreams.getReader().read()).value!;
    const reader = incoming.readable.getReader();
    expect((await reader.read()).value).toEqual(Uint8Array.of(1, 2, 3));
    await w.abort({ streamErrorCode: 5 });
    await expect(reader.read()).rejects.toMatchObject({ streamErrorCode: 5 });
    wt.close();
  });

  it("exchanges datagrams", async () => {
    onSession = async (s) => {
      const w = s.datagrams.writable.getWriter();
      for await (const d of s.datagrams.readable as unknown as AsyncIterable<Uint8Array>) await w.write(d);
    };
    const wt = connect();
    await wt.ready;
    const w = wt.datagrams.writable.getWriter();
    const r = wt.datagrams.readable.getReader();
    // Unreliable by design, but not on loopback at this rate; resend until one comes back.
    let got: Uint8Array | undefined;
    for (let i = 0; i < 20 && !got; i++) {
      await w.write(new TextEncoder().encode("ping"));
      got = await Promise.race([
        r.read().then((x) => x.value),
        new Promise<undefined>((res) => setTimeout(() => res(undefined), 100)),
      ]);
    }
    expect(new TextDecoder().decode(got)).toBe("ping");
    expect(wt.datagrams.maxDatagramSize).toBeGreaterThan(1000);
    wt.close();
  });

  it("pins the certificate hash: accepts the right one, rejects a wrong one", async () => {
    onSession = () => {};
    const good = connect();
    await good.ready;
    good.close();
    const wrong = new Uint8Array(cert.sha256);
    wrong[0]! ^= 1;
    const bad = connect("/wt", wrong);
    await expect(bad.ready).rejects.toThrow(/hash/);
    expect(await bad.closed).toMatchObject({ closeCode: 0 });
  });

  it("verifies against a given CA, including the name", async () => {
    const ca = await generateSelfSigned({ hostnames: ["localhost", "127.0.0.1"], selfTrusted: true });
    const local = await startWebTransportServer({ ...caServer(ca), onSession: () => {} });
    for (const host of ["localhost", "127.0.0.1"]) {
      const ok = connectWebTransport(`https://${host}:${local.port}/wt`, { ca: Buffer.from(ca.certPem) });
      await ok.ready;
      ok.close();
    }
    const other = await generateSelfSigned({ hostnames: ["localhost"], selfTrusted: true });
    const untrusted = connectWebTransport(`https://localhost:${local.port}/wt`, { ca: other.certPem });
    await expect(untrusted.ready).rejects.toThrow();
    const misnamed = await generateSelfSigned({ hostnames: ["example.org"], selfTrusted: true });
    const wrongName = await startWebTransportServer({ ...caServer(misnamed), onSession: () => {} });
    const named = connectWebTransport(`https://localhost:${wrongName.port}/wt`, { ca: misnamed.certPem });
    await expect(named.ready).rejects.toThrow();
    await Promise.all([local.close(), wrongName.close()]);
  });

  it("lets a client give up before the session is ready", async () => {
    const wt = connect();
    wt.close();
    await expect(wt.ready).rejects.toThrow();
    expect(await wt.closed).toMatchObject({ closeCode: 0 });
  });

  it("answers 404 for another path", async () => {
    const wt = connect("/nope");
    await expect(wt.ready).rejects.toThrow(/404/);
  });

  it("survives garbage UDP packets and still serves a good client", async () => {
    const sock = dgram.createSocket("udp4");
    const packets = [
      Buffer.alloc(0),
      Buffer.from([0xc0]),
      randomBytes(1200),
      Buffer.concat([Buffer.from([0xc3, 0, 0, 0, 1, 8]), randomBytes(1300)]), // Initial-looking garbage
      Buffer.concat([Buffer.from([0xc3, 0x0a, 0x0a, 0x0a, 0x0a, 8]), randomBytes(1300)]), // unknown version
      ...Array.from({ length: 200 }, () => randomBytes(1 + Math.floor(Math.random() * 1400))),
    ];
    for (const p of packets) sock.send(p, server.port, "127.0.0.1");
    await new Promise<void>((r) => sock.send(Buffer.from("last"), server.port, "127.0.0.1", () => r()));
    sock.close();
    onSession = (s) => void echo(s);
    const wt = connect();
    await wt.ready;
    const bidi = await wt.createBidirectionalStream();
    const [, got] = await Promise.all([
      writeAll(bidi.writable, Buffer.from("still alive")),
      readAll(bidi.readable),
    ]);
    expect(Buffer.from(got).toString()).toBe("still alive");
    wt.close();
    await waitFor(() => server.connectionCount <= 1);
  });

  it("closes a connection shortly after its last session ends", async () => {
    onSession = () => {};
    await waitFor(() => server.connectionCount === 0);
    const wt = connect();
    await wt.ready;
    expect(server.connectionCount).toBe(1);
    wt.close();
    await waitFor(() => server.connectionCount === 0, 2000);
  });

  it("uses a new certificate for new connections while old ones keep working", async () => {
    const local = await startWebTransportServer({
      host: "::",
      port: 0,
      certPem: cert.certPem,
      keyPem: cert.keyPem,
      path: "/wt",
      onSession: (s) => void echo(s),
    });
    const url = `https://[::1]:${local.port}/wt`;
    const old = connectWebTransport(url, {
      serverCertificateHashes: [{ algorithm: "sha-256", value: cert.sha256 }],
    });
    await old.ready;
    const next = await generateSelfSigned({ hostnames: ["localhost"] });
    local.setCertificate(next.certPem, next.keyPem);
    const fresh = connectWebTransport(url, {
      serverCertificateHashes: [{ algorithm: "sha-256", value: next.sha256 }],
    });
    await fresh.ready;
    const stale = connectWebTransport(url, {
      serverCertificateHashes: [{ algorithm: "sha-256", value: cert.sha256 }],
    });
    await expect(stale.ready).rejects.toThrow();
    const bidi = await old.createBidirectionalStream();
    const [, got] = await Promise.all([
      writeAll(bidi.writable, Buffer.from("old conn")),
      readAll(bidi.readable),
    ]);
    expect(Buffer.from(got).toString()).toBe("old conn");
    // Shutdown sends close capsules first: clients see a clean close, not a lost connection.
    const closing = local.close({ closeCode: 3, reason: "maintenance" });
    expect(await old.closed).toEqual({ closeCode: 3, reason: "maintenance" });
    expect(await fresh.closed).toEqual({ closeCode: 3, reason: "maintenance" });
    await closing;
  });
});
