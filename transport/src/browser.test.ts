/**
 * Interop with a real Chromium: the reason this transport exists. Skipped where Debian's chromium is
 * not installed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "@playwright/test";
import { generateSelfSigned, type SelfSignedCertificate } from "./tls/selfSigned.ts";
import { startWebTransportServer, type WebTransportServer, type WebTransportServerSession } from "./index.ts";
import { readAll, waitFor, writeAll } from "./testHelpers.ts";

const CHROMIUM = "/usr/bin/chromium";

describe.skipIf(!existsSync(CHROMIUM))("Chromium WebTransport interop", () => {
  let cert: SelfSignedCertificate;
  let server: WebTransportServer;
  let page: http.Server;
  let browser: Browser;
  let tab: Page;
  let onSession: (s: WebTransportServerSession) => void = () => {};

  beforeAll(async () => {
    cert = await generateSelfSigned({ hostnames: ["localhost", "127.0.0.1", "::1"] });
    server = await startWebTransportServer({
      host: "::",
      port: 0,
      certPem: cert.certPem,
      keyPem: cert.keyPem,
      path: "/wt",
      onSession: (s) => onSession(s),
    });
    page = http.createServer((_req, res) =>
      res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html>"),
    );
    await new Promise<void>((r) => page.listen(0, "127.0.0.1", r));
    const { chromium } = await import("@playwright/test");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    tab = await browser.newPage();
    await tab.goto(`http://127.0.0.1:${(page.address() as AddressInfo).port}/`);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    page?.close();
  });

  const open = (host: string) =>
    tab.evaluate(
      async ({ url, hash }) => {
        const wt = new WebTransport(url, {
          serverCertificateHashes: [{ algorithm: "sha-256", value: new Uint8Array(hash) }],
        });
        (globalThis as unknown as { wt: WebTransport }).wt = wt;
        await wt.ready;
      },
      { url: `https://${host}:${server.port}/wt`, hash: [...cert.sha256] },
    );

  it("echoes on a bidi stream, receives a server uni stream and closes with a code", async () => {
    let serverSide!: WebTransportServerSession;
    onSession = async (s) => {
      serverSide = s;
      const uni = await s.createUnidirectionalStream();
      await writeAll(uni, new TextEncoder().encode("hello from the gateway"));
      for await (const bidi of s.incomingBidirectionalStreams as unknown as AsyncIterable<{
        readable: ReadableStream;
        writable: WritableStream;
      }>) {
        void bidi.readable.pipeTo(bidi.writable).catch(() => {});
      }
    };
    await open("127.0.0.1");
    const result = await tab.evaluate(async () => {
      const wt = (globalThis as unknown as { wt: WebTransport }).wt;
      const text = async (r: ReadableStream<Uint8Array>) => {
        let s = "";
        for await (const c of r as unknown as AsyncIterable<Uint8Array>) s += new TextDecoder().decode(c);
        return s;
      };
      const uni = (await wt.incomingUnidirectionalStreams.getReader().read()).value!;
      const uniText = await text(uni);
      const bidi = await wt.createBidirectionalStream();
      const w = bidi.writable.getWriter();
      await w.write(new TextEncoder().encode("ping ".repeat(2000)));
      await w.close();
      const echo = await text(bidi.readable);
      wt.close({ closeCode: 4242, reason: "page done" });
      return { uniText, echoLength: echo.length, closed: await wt.closed };
    });
    expect(result).toEqual({
      uniText: "hello from the gateway",
      echoLength: 10000,
      closed: { closeCode: 4242, reason: "page done" },
    });
    expect(await serverSide.closed).toEqual({ closeCode: 4242, reason: "page done" });
    expect(serverSide.headers.origin).toMatch(/^http:\/\/127\.0\.0\.1:/);
    // Chromium keeps the QUIC connection; the server closes it shortly after the last session.
    await waitFor(() => server.connectionCount === 0, 3000);
  });

  it("sees the server's close code, datagrams work, and localhost reaches a dual-stack server", async () => {
    let serverSide!: WebTransportServerSession;
    onSession = async (s) => {
      serverSide = s;
      const w = s.datagrams.writable.getWriter();
      for await (const d of s.datagrams.readable as unknown as AsyncIterable<Uint8Array>) await w.write(d);
    };
    await open("localhost");
    const dgram = await tab.evaluate(async () => {
      const wt = (globalThis as unknown as { wt: WebTransport }).wt;
      const w = wt.datagrams.writable.getWriter();
      const r = wt.datagrams.readable.getReader();
      for (let i = 0; i < 20; i++) {
        await w.write(new TextEncoder().encode("dgram"));
        const got = await Promise.race([
          r.read(),
          new Promise<null>((res) => setTimeout(() => res(null), 100)),
        ]);
        if (got?.value) return new TextDecoder().decode(got.value);
      }
      return null;
    });
    expect(dgram).toBe("dgram");
    const closed = tab.evaluate(() => (globalThis as unknown as { wt: WebTransport }).wt.closed);
    serverSide.close({ closeCode: 7, reason: "server says bye" });
    expect(await closed).toEqual({ closeCode: 7, reason: "server says bye" });
  });

  it("gets a clean close, not a lost connection, when the server shuts down", async () => {
    onSession = () => {};
    await open("127.0.0.1");
    const closed = tab.evaluate(async () => {
      try {
        return await (globalThis as unknown as { wt: WebTransport }).wt.closed;
      } catch (e) {
        return String(e);
      }
    });
    await server.close({ closeCode: 1, reason: "restarting" });
    expect(await closed).toEqual({ closeCode: 1, reason: "restarting" });
  });

  it("reads what a big upload sent (backpressure through Chromium)", async () => {
    // Runs after shutdown: a fresh server on the same certificate.
    const again = await startWebTransportServer({
      host: "127.0.0.1",
      port: 0,
      certPem: cert.certPem,
      keyPem: cert.keyPem,
      path: "/wt",
      onSession: async (s) => {
        const uni = (await s.incomingUnidirectionalStreams.getReader().read()).value!;
        const data = await readAll(uni);
        const back = await s.createUnidirectionalStream();
        await writeAll(back, new TextEncoder().encode(String(data.length)));
      },
    });
    const size = await tab.evaluate(
      async ({ url, hash }) => {
        const wt = new WebTransport(url, {
          serverCertificateHashes: [{ algorithm: "sha-256", value: new Uint8Array(hash) }],
        });
        await wt.ready;
        const out = await wt.createUnidirectionalStream();
        const w = out.getWriter();
        const chunk = new Uint8Array(64 * 1024);
        for (let i = 0; i < 64; i++) await w.write(chunk);
        await w.close();
        const back = (await wt.incomingUnidirectionalStreams.getReader().read()).value!;
        let s = "";
        for await (const c of back as unknown as AsyncIterable<Uint8Array>) s += new TextDecoder().decode(c);
        wt.close();
        return Number(s);
      },
      { url: `https://127.0.0.1:${again.port}/wt`, hash: [...cert.sha256] },
    );
    expect(size).toBe(4 * 1024 * 1024);
    await again.close();
  });
});
