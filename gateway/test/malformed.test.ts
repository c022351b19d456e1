import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ErrorCode,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  decodeServerFrame,
  encodeClientFrame,
  encodeFrame,
  type Response,
} from "@qpq/shared/protocol";
import { openRawStream } from "./rawStream.ts";
import { fromHex } from "@qpq/shared/bytes";
import { INVITATION_TYPE, MIN_INVITATION_BYTES } from "@qpq/shared/invitations";
import { decodeState } from "@qpq/shared/mls";
import {
  loginAsDevice,
  privateMessage,
  registerActor,
  startGatewayProcess,
  waitForConversation,
  type GatewayProcess,
} from "./helpers.ts";

let gw: GatewayProcess;

beforeAll(async () => {
  gw = await startGatewayProcess();
});

afterAll(async () => {
  await gw?.kill();
  gw?.cleanup();
});

/** A raw request stream: write any bytes, read whatever responses come back. */
async function rawStream() {
  const raw = await openRawStream(gw.baseUrl);
  return {
    ...raw,
    /** Next response, or undefined when the gateway ended the stream. */
    async next(): Promise<Response | undefined> {
      for (;;) {
        const frame = await raw.nextFrame();
        if (!frame) return undefined;
        const decoded = decodeServerFrame(frame);
        if (decoded.type === "response") return decoded.response;
      }
    },
  };
}

function errorCode(response: Response | undefined): number | undefined {
  return response?.result.type === "error" ? response.result.error.code : undefined;
}

const hello = encodeClientFrame({
  requestId: 1,
  request: {
    type: "hello",
    hello: { minVersion: MIN_PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION, client: "raw" },
  },
});

describe("malformed and unauthorized input", () => {
  it("a frame whose body is garbage gets MalformedFrame and the stream keeps working", async () => {
    const s = await rawStream();
    await s.write(encodeFrame(new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9])));
    expect(errorCode(await s.next())).toBe(ErrorCode.MalformedFrame);
    await s.write(encodeFrame(hello));
    expect((await s.next())?.result.type).toBe("hello");
    s.wt.close();
  });

  it("a truncated frame (the stream ends mid-frame) does not disturb the gateway", async () => {
    const s = await rawStream();
    const frame = encodeFrame(hello);
    await s.write(frame.subarray(0, frame.length - 5));
    await s.end();
    expect(await s.next()).toBeUndefined();
    s.wt.close();
  });

  it("an oversized length prefix gets FrameTooLarge before anything is buffered", async () => {
    const s = await rawStream();
    await s.write(new Uint8Array([0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4]));
    expect(errorCode(await s.next())).toBe(ErrorCode.FrameTooLarge);
    s.wt.close();
  });

  it("a 16-byte frame declaring 2^28 segments gets a typed error instead of exhausting memory", async () => {
    const s = await rawStream();
    const bomb = new Uint8Array(16);
    new DataView(bomb.buffer).setUint32(0, 2 ** 28 - 1, true);
    await s.write(encodeFrame(bomb));
    expect([ErrorCode.FrameTooLarge, ErrorCode.MalformedFrame]).toContain(errorCode(await s.next()));
    s.wt.close();
  });

  it("an unknown union member gets UnknownRequest with its request id", async () => {
    const s = await rawStream();
    const frame = encodeClientFrame({ requestId: 77, request: { type: "health" } });
    // The request union's discriminant is the u16 right after the u32 requestId in the root struct's
    // data section: root pointer (8 bytes) + segment table (8 bytes) + 4.
    const patched = frame.slice();
    new DataView(patched.buffer).setUint16(8 + 8 + 4, 999, true);
    await s.write(encodeFrame(patched));
    const response = await s.next();
    expect(response?.requestId).toBe(77);
    expect(errorCode(response)).toBe(ErrorCode.UnknownRequest);
    s.wt.close();
  });

  it("requests before hello get HelloRequired, and before login Unauthenticated", async () => {
    const s = await rawStream();
    await s.write(
      encodeFrame(
        encodeClientFrame({
          requestId: 5,
          request: { type: "fetch", fetch: { afterSeq: 0, limit: 0, channelId: new Uint8Array(0) } },
        }),
      ),
    );
    expect(errorCode(await s.next())).toBe(ErrorCode.HelloRequired);
    await s.write(encodeFrame(hello));
    expect((await s.next())?.result.type).toBe("hello");
    await s.write(
      encodeFrame(encodeClientFrame({ requestId: 6, request: { type: "ack", ack: { upToSeq: 1 } } })),
    );
    expect(errorCode(await s.next())).toBe(ErrorCode.Unauthenticated);
    s.wt.close();
  });

  it("junk OPAQUE messages before login get InvalidArgument, and no stack trace in the log", async () => {
    const s = await rawStream();
    await s.write(encodeFrame(hello));
    expect((await s.next())?.result.type).toBe("hello");
    let id = 10;
    for (const length of [1, 32, 64, 96, 4096]) {
      const junk = new Uint8Array(length).fill(3);
      const username = `junk-${length}`;
      const requests = [
        { type: "registerStart" as const, registerStart: { username, registrationRequest: junk } },
        { type: "loginStart" as const, loginStart: { username, startLoginRequest: junk } },
      ];
      for (const request of requests) {
        await s.write(encodeFrame(encodeClientFrame({ requestId: ++id, request })));
        const response = await s.next();
        expect([response?.requestId, errorCode(response)]).toEqual([id, ErrorCode.InvalidArgument]);
      }
    }
    expect(gw.logs()).not.toMatch(/request failed|"stack"/);
    s.wt.close();
  });

  it("garbage ciphertext and oversized payloads are refused or stored opaquely, and a good client still works", async () => {
    const alice = await registerActor(gw, "alice");
    const bob = await registerActor(gw, "bob");
    const groupId = await alice.messenger.createConversation("before garbage", [bob.name]);
    await waitForConversation(bob);
    await bob.messenger.settled();
    const record = (await alice.store.getGroup(groupId))!;
    const channelId = fromHex(record.channelId);
    const group = decodeState(record.state).groupContext;
    const client = await loginAsDevice(gw, alice);
    const bobKey = bob.messenger.identity.signaturePublicKey;

    await expect(client.enqueueToChannel(channelId, new Uint8Array(1024 * 1024 + 1))).rejects.toMatchObject({
      code: ErrorCode.PayloadTooLarge,
    });
    await expect(
      client.enqueueToChannel(channelId, new Uint8Array([1]), { recipientKey: new Uint8Array(31) }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    // What does not even frame as MLS is refused; the gateway reads no further than the framing.
    await expect(
      client.enqueueToChannel(channelId, new Uint8Array([0xde, 0xad, 0xbe, 0xef])),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    // Garbage behind a valid PrivateMessage header, and a garbage invitation, reach bob's queue (the
    // gateway cannot read payloads); bob's client skips both and keeps working.
    await client.enqueueToChannel(channelId, privateMessage(group.groupId, group.epoch, 64));
    const invitation = new Uint8Array(MIN_INVITATION_BYTES + 16).fill(0xa5);
    invitation[0] = INVITATION_TYPE;
    invitation[1] = 1;
    await client.enqueueToChannel(channelId, invitation, { recipientKey: bobKey });
    await alice.messenger.send(groupId, "still fine");
    await expect
      .poll(async () => (await bob.messenger.messages(groupId)).map((m) => m.text), { timeout: 20_000 })
      .toEqual(["still fine"]);
    client.close();
    alice.messenger.close();
    bob.messenger.close();
  });
});
