/**
 * `npm run prelogin-probe` (not part of `npm test`): looks for the pre-login stall of issue 19. A real
 * gateway process (default limits, throttles on) serves junk-sending clients that never log in
 * (junk and valid OPAQUE starts, frames left incomplete, garbage, connections without hello) while
 * well-behaved clients, also not logged in, time each round trip: health on a long-lived connection,
 * and hello plus loginStart on a fresh connection each round. Prints the slowest round trips and
 * what the answers were. Options: --seconds N (default 30), --abusers N (default 16).
 */
import * as opaque from "@serenity-kit/opaque";
import { fromBase64Url } from "@qpq/shared/bytes";
import { discoverGateway } from "@qpq/shared/client";
import {
  FrameDecoder,
  decodeServerFrame,
  encodeClientFrame,
  encodeFrame,
  errorCodeName,
  type ClientFrame,
} from "@qpq/shared/protocol";
import { connectWebTransport, type WebTransportClientSession } from "@qpq/transport/client";
import { startGatewayProcess, type GatewayProcess } from "../src/testing/index.ts";

const option = (name: string, fallback: number) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const seconds = option("--seconds", 30);
const abusers = option("--abusers", 16);
/** A round trip slower than this is reported as a stall. */
const STALL_MS = 1000;
/** No single wait longer than this: the probe must end by itself. */
const ANSWER_TIMEOUT_MS = 15_000;

const hello = { type: "hello" as const, hello: { minVersion: 2, maxVersion: 2, client: "prelogin-probe" } };

async function rawSession(gw: GatewayProcess): Promise<WebTransportClientSession> {
  const location = await discoverGateway(gw.baseUrl);
  const wt = connectWebTransport(location.webtransportUrl, {
    serverCertificateHashes: location.certificateHashes,
  });
  await wt.ready;
  return wt;
}

/** A request stream whose calls resolve with the answer's result type (or error code name). */
async function caller(wt: WebTransportClientSession) {
  const stream = await wt.createBidirectionalStream();
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const decoder = new FrameDecoder();
  const queued: string[] = [];
  let nextId = 1;
  return async (request: ClientFrame["request"]): Promise<string> => {
    await writer.write(encodeFrame(encodeClientFrame({ requestId: nextId++, request })));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>(
      (resolve) => (timer = setTimeout(() => resolve("no answer"), ANSWER_TIMEOUT_MS)),
    );
    const answer = (async () => {
      while (queued.length === 0) {
        const { value, done } = await reader.read();
        if (done) return "stream ended";
        for (const bytes of decoder.push(value)) {
          const frame = decodeServerFrame(bytes);
          if (frame.type !== "response") continue;
          const result = frame.response.result;
          const { type } = result;
          if (type !== "error") queued.push(type);
          else {
            // Which limit answered, and how long it told the client to wait (rounded to seconds).
            const wait = Math.round(result.error.retryAfterMs / 1000);
            queued.push(`${errorCodeName(result.error.code)} (${result.error.message}; retry in ${wait} s)`);
          }
        }
      }
      return queued.shift()!;
    })();
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}

const startLoginRequest = () => fromBase64Url(opaque.client.startLogin({ password: "x" }).startLoginRequest);
const junk = (n: number, fill: number) => new Uint8Array(n).fill(fill);

/** One abusive pre-login connection: everything the fuzz campaign threw before logging in. */
async function abuse(gw: GatewayProcess, round: number): Promise<void> {
  const wt = await rawSession(gw);
  try {
    const call = await caller(wt);
    await call(hello);
    const username = `abuser-${round % 50}`;
    await call({ type: "loginStart", loginStart: { username, startLoginRequest: junk(32, 3) } });
    await call({ type: "registerStart", registerStart: { username, registrationRequest: junk(32, 3) } });
    await call({ type: "loginStart", loginStart: { username, startLoginRequest: startLoginRequest() } });
    // A frame announced at 1 MB of which a few bytes ever arrive, and garbage on another stream.
    const partial = await wt.createBidirectionalStream();
    void partial.writable.getWriter().write(new Uint8Array([0x00, 0x00, 0x10, 0x00, 1, 2, 3, 4]));
    const garbage = await wt.createBidirectionalStream();
    void garbage.writable.getWriter().write(encodeFrame(junk(64, round & 0xff)));
    // A connection that never says hello.
    const silent = await rawSession(gw);
    void silent.createBidirectionalStream().catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 200));
    silent.close();
  } finally {
    wt.close();
  }
}

interface Timed {
  what: string;
  ms: number;
  answer: string;
}

async function main(): Promise<void> {
  await opaque.ready;
  const gw = await startGatewayProcess();
  const deadline = Date.now() + seconds * 1000;
  const timings: Timed[] = [];
  const time = async (what: string, run: () => Promise<string>) => {
    const t0 = performance.now();
    const answer = await run();
    timings.push({ what, ms: performance.now() - t0, answer });
  };
  try {
    let rounds = 0;
    const abusing = Array.from({ length: abusers }, async () => {
      while (Date.now() < deadline) await abuse(gw, rounds++).catch(() => {});
    });
    const longLived = (async () => {
      const call = await caller(await rawSession(gw));
      await call(hello);
      while (Date.now() < deadline) {
        await time("health, long-lived connection", () => call({ type: "health" }));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const fresh = (async () => {
      for (let i = 0; Date.now() < deadline; i++) {
        const wt = await rawSession(gw);
        const call = await caller(wt);
        await time("hello, fresh connection", () => call(hello));
        const loginStart = { username: `probe-${i % 5}`, startLoginRequest: startLoginRequest() };
        await time("loginStart, fresh connection", () => call({ type: "loginStart", loginStart }));
        wt.close();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    await Promise.all([...abusing, longLived, fresh]);
    console.log(`prelogin-probe: ${seconds} s, ${rounds} abusive rounds by ${abusers} clients`);
    for (const what of new Set(timings.map((t) => t.what))) {
      const mine = timings.filter((t) => t.what === what).sort((a, b) => a.ms - b.ms);
      const answers = [...new Set(mine.map((t) => t.answer))].join("; ");
      const slow = mine.filter((t) => t.ms > STALL_MS).length;
      const max = mine[mine.length - 1]?.ms ?? 0;
      const p50 = mine[Math.floor(mine.length / 2)]?.ms ?? 0;
      console.log(
        `${what}: ${mine.length} calls, p50 ${p50.toFixed(1)} ms, max ${max.toFixed(0)} ms, over ${STALL_MS} ms: ${slow}; answers: ${answers}`,
      );
    }
  } finally {
    await gw.kill();
    gw.cleanup();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
