import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { generateSelfSigned, type SelfSignedCertificate } from "./tls/selfSigned.ts";
import { H3 } from "./errors.ts";
import { encodeFrame, encodeSettings, FrameType } from "./h3frames.ts";
import { connectWebTransport, startWebTransportServer, type WebTransportServer } from "./index.ts";
import { encodeFieldSection } from "./qpack.ts";
import { rawPeer } from "./testHelpers.ts";
import { encodeVarint, encodeVarints } from "./varint.ts";

let cert: SelfSignedCertificate;
let server: WebTransportServer;
const errors: unknown[] = [];

beforeAll(async () => {
  cert = await generateSelfSigned({ hostnames: ["127.0.0.1"] });
  server = await startWebTransportServer({
    host: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    path: "/wt",
    onSession: () => {},
    onError: (e) => errors.push(e),
    limits: { maxHeaderBytes: 4096 },
  });
});

afterAll(async () => {
  await server.close();
});

const control = (...frames: Uint8Array[]): Uint8Array => Buffer.concat([encodeVarint(0x00), ...frames]);
const settings = encodeSettings(new Map([[0x33, 1]]));
const connect = (extra: Array<[string, string]> = []): Uint8Array =>
  encodeFrame(
    FrameType.HEADERS,
    encodeFieldSection([
      [":method", "CONNECT"],
      [":protocol", "webtransport"],
      [":scheme", "https"],
      [":authority", "127.0.0.1"],
      [":path", "/wt"],
      ...extra,
    ]),
  );

async function closedWith(setup: (send: (stream: number, bytes: Uint8Array, fin?: boolean) => void) => void) {
  const peer = await rawPeer(server.port, { settings: false });
  await peer.established;
  setup(peer.send);
  return (await peer.closed)?.errorCode;
}

async function stillServes(): Promise<void> {
  const wt = connectWebTransport(`https://127.0.0.1:${server.port}/wt`, {
    serverCertificateHashes: [{ algorithm: "sha-256", value: cert.sha256 }],
  });
  await wt.ready;
  wt.close();
  await wt.closed;
}

describe("HTTP/3 layer facing a hostile peer", () => {
  it("closes the connection with the matching H3 error", async () => {
    expect(await closedWith((send) => send(2, control(encodeFrame(FrameType.DATA, Uint8Array.of(1)))))).toBe(
      H3.MISSING_SETTINGS,
    );
    expect(await closedWith((send) => send(2, control(settings, settings)))).toBe(H3.FRAME_UNEXPECTED);
    expect(
      await closedWith((send) =>
        send(2, control(settings, encodeFrame(FrameType.HEADERS, Uint8Array.of(0, 0)))),
      ),
    ).toBe(H3.FRAME_UNEXPECTED);
    expect(await closedWith((send) => send(2, control(settings, encodeFrame(0x08, Uint8Array.of(0)))))).toBe(
      H3.FRAME_UNEXPECTED,
    );
    expect(
      await closedWith((send) =>
        send(2, control(encodeFrame(FrameType.SETTINGS, Uint8Array.of(0x02, 0x00)))),
      ),
    ).toBe(H3.SETTINGS_ERROR);
    expect(
      await closedWith((send) => {
        send(2, control(settings));
        send(6, control(settings));
      }),
    ).toBe(H3.STREAM_CREATION_ERROR);
    expect(await closedWith((send) => send(2, control(settings), true))).toBe(H3.CLOSED_CRITICAL_STREAM);
    expect(await closedWith((send) => send(2, encodeVarint(0x01)))).toBe(H3.STREAM_CREATION_ERROR); // push from a client
    expect(await closedWith((send) => send(2, Uint8Array.of(0x02, 0x3f, 0xe1, 0x1f)))).toBe(
      H3.QPACK_ENCODER_STREAM_ERROR,
    );
    expect(await closedWith((send) => send(2, Uint8Array.of(0x03, 0x81)))).toBe(
      H3.QPACK_DECODER_STREAM_ERROR,
    );
    expect(
      await closedWith((send) => send(0, encodeFrame(FrameType.HEADERS, Uint8Array.of(0x01, 0x00, 0x80)))),
    ).toBe(H3.QPACK_DECOMPRESSION_FAILED);
    expect(await closedWith((send) => send(0, encodeFrame(FrameType.HEADERS, new Uint8Array(5000))))).toBe(
      H3.EXCESSIVE_LOAD,
    );
    expect(await closedWith((send) => send(0, encodeFrame(FrameType.DATA, Uint8Array.of(1))))).toBe(
      H3.FRAME_UNEXPECTED,
    );
    expect(
      await closedWith((send) =>
        send(0, Buffer.concat([connect(), encodeFrame(FrameType.SETTINGS, new Uint8Array(0))])),
      ),
    ).toBe(H3.FRAME_UNEXPECTED);
    await stillServes();
  });

  it("resets only the stream for a malformed request or an unknown session", async () => {
    const peer = await rawPeer(server.port);
    await peer.established;
    peer.send(0, connect([["Bad-Name", "x"]]));
    expect(await peer.resetOf(0)).toBe(H3.MESSAGE_ERROR);
    peer.send(4, connect([["connection", "close"]]));
    expect(await peer.resetOf(4)).toBe(H3.MESSAGE_ERROR);
    peer.send(8, connect(), false); // a real session...
    peer.send(12, Buffer.concat([encodeVarints(FrameType.WT_STREAM, 0), Uint8Array.of(1)])); // ...and a stream for a dead one
    expect(await peer.resetOf(12)).toBe(H3.WT_SESSION_GONE);
    peer.send(3 - 1 + 4 * 10, encodeVarint(0x21)); // unknown (GREASE) uni stream type: ignored
    await peer.close();
    await stillServes();
  });

  it("survives random frames on every kind of stream", async () => {
    for (let i = 0; i < 30; i++) {
      const peer = await rawPeer(server.port);
      await peer.established;
      const junk = (): Uint8Array => randomBytes(1 + Math.floor(Math.random() * 300));
      peer.send(0, Buffer.concat([connect(), junk()]), Math.random() < 0.5);
      peer.send(4, Buffer.concat([encodeVarints(FrameType.WT_STREAM, 0), junk()]), true);
      peer.send(6, Buffer.concat([encodeVarint(Math.floor(Math.random() * 4)), junk()]));
      peer.send(8, junk(), true);
      await Promise.race([peer.closed, new Promise((r) => setTimeout(r, 20))]);
      await peer.close();
    }
    await stillServes();
    expect(errors.every((e) => e instanceof Error)).toBe(true);
  });
});
