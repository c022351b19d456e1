/**
 * Every OPAQUE message a peer sends, before it has logged in, may be junk: each entry point answers
 * junk of any length with a typed error (E007; a well-formed wrong proof stays E008), logs nothing at
 * the default level, and counts it in metrics. Fuzz finding of issue 19: 32 bytes of 0x03 in
 * registerStart or loginStart were answered E018 with a stack trace in the log.
 */
import * as opaque from "@serenity-kit/opaque";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ErrorCode,
  FrameDecoder,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  decodeServerFrame,
  encodeClientFrame,
  encodeFrame,
  type Request,
  type Response,
} from "@qpq/shared/protocol";
import { fromBase64Url } from "@qpq/shared/bytes";
import { inProcessGateway, type InProcessGateway } from "../src/testing/index.ts";

/** 0 and 4097 are refused by the length guard, the rest by the OPAQUE library's parser. */
const JUNK_LENGTHS = [0, 1, 32, 64, 96, 4096, 4097];

let gw: InProcessGateway;
let logged: string[] = [];

beforeAll(async () => {
  await opaque.ready;
  gw = await inProcessGateway({ limits: { rateLimits: false } });
});

afterAll(async () => {
  await gw?.close();
});

beforeEach(() => {
  logged = [];
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    logged.push(String(chunk));
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** One request stream on a fresh session, hello done. */
async function session() {
  const stream = await gw.connect().createBidirectionalStream();
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const decoder = new FrameDecoder();
  const queued: Response[] = [];
  let nextId = 1;
  const call = async (request: Request): Promise<Response> => {
    await writer.write(encodeFrame(encodeClientFrame({ requestId: nextId++, request })));
    while (queued.length === 0) {
      const { value, done } = await reader.read();
      if (done) throw new Error("stream ended");
      for (const frame of decoder.push(value)) {
        const decoded = decodeServerFrame(frame);
        if (decoded.type === "response") queued.push(decoded.response);
      }
    }
    return queued.shift()!;
  };
  const hello: Request = {
    type: "hello",
    hello: { minVersion: MIN_PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION, client: "junk" },
  };
  expect((await call(hello)).result.type).toBe("hello");
  return call;
}

function code(response: Response): number | string {
  return response.result.type === "error" ? response.result.error.code : response.result.type;
}

let names = 0;
const junk = (length: number) => new Uint8Array(length).fill(3);
const malformedCount = () => gw.services.metrics.get("opaqueMalformed");

/** A real client's first registration or login message, so the junk can go in the later step. */
const goodRegistrationRequest = () =>
  fromBase64Url(opaque.client.startRegistration({ password: "pw" }).registrationRequest);
const goodStartLoginRequest = () =>
  fromBase64Url(opaque.client.startLogin({ password: "pw" }).startLoginRequest);

/** No stack traces, no error lines: only the counter records a peer's junk. */
function expectQuietLog(): void {
  const lines = logged.filter((line) => /"level":"(warn|error)"/.test(line) || line.includes("stack"));
  expect(lines).toEqual([]);
}

describe.each(JUNK_LENGTHS)("OPAQUE junk of %i bytes", (length) => {
  it("in registerStart: E007, counted, not logged", async () => {
    const call = await session();
    const before = malformedCount();
    const username = `junk-reg-${++names}`;
    const answer = await call({
      type: "registerStart",
      registerStart: { username, registrationRequest: junk(length) },
    });
    expect(code(answer)).toBe(ErrorCode.InvalidArgument);
    expect(malformedCount()).toBe(before + 1);
    expectQuietLog();
  });

  it("in loginStart: E007, counted, not logged, no login left pending", async () => {
    const call = await session();
    const before = malformedCount();
    const pending = gw.services.logins.size;
    const username = `junk-login-${++names}`;
    const answer = await call({
      type: "loginStart",
      loginStart: { username, startLoginRequest: junk(length) },
    });
    expect(code(answer)).toBe(ErrorCode.InvalidArgument);
    expect(malformedCount()).toBe(before + 1);
    expect(gw.services.logins.size).toBe(pending);
    expectQuietLog();
  });

  it("in registerFinish: E007, counted, and no account is created with the junk record", async () => {
    const call = await session();
    const username = `junk-record-${++names}`;
    const started = await call({
      type: "registerStart",
      registerStart: { username, registrationRequest: goodRegistrationRequest() },
    });
    expect(code(started)).toBe("registerStart");
    const before = malformedCount();
    const identityKey = crypto.getRandomValues(new Uint8Array(32));
    const answer = await call({
      type: "registerFinish",
      registerFinish: { username, registrationRecord: junk(length), identityKey },
    });
    expect(code(answer)).toBe(ErrorCode.InvalidArgument);
    expect(malformedCount()).toBe(before + 1);
    expect(await gw.store.getUserByName(username)).toBeUndefined();
    expectQuietLog();
  });

  it("in loginFinish: E007 when it does not parse, E008 when it parses, never E018", async () => {
    const call = await session();
    const username = `junk-finish-${++names}`;
    const started = await call({
      type: "loginStart",
      loginStart: { username, startLoginRequest: goodStartLoginRequest() },
    });
    expect(started.result.type).toBe("loginStart");
    const loginId =
      started.result.type === "loginStart" ? started.result.loginStart.loginId : new Uint8Array();
    const before = malformedCount();
    const answer = await call({
      type: "loginFinish",
      loginFinish: { loginId, finishLoginRequest: junk(length) },
    });
    // A 64-byte proof (and the library reads only the first 64 of a longer one) is well formed, just wrong.
    const parses = length === 64 || length === 96 || length === 4096;
    expect(code(answer)).toBe(parses ? ErrorCode.AuthFailed : ErrorCode.InvalidArgument);
    expect(malformedCount()).toBe(parses ? before : before + 1);
    expectQuietLog();
  });
});
