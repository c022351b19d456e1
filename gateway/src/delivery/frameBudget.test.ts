/**
 * The frame budget is computed without encoding, so it must never undercount: checked here against
 * the generated codec, for pages of random sizes and for the largest payload the budget allows.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { encodeServerFrame, type Envelope } from "@qpq/shared/protocol";
import { defaultLimits } from "../config.ts";
import {
  CHANNEL_ID_BYTES,
  envelopeBudget,
  envelopeBytes,
  FRAME_OVERHEAD_BYTES,
  maxDeliverablePayload,
} from "./frameBudget.ts";

const MAX_U64_SAFE = Number.MAX_SAFE_INTEGER;

function envelope(payloadBytes: number, seq = MAX_U64_SAFE): Envelope {
  return {
    seq,
    channelId: new Uint8Array(CHANNEL_ID_BYTES).fill(1),
    payload: new Uint8Array(payloadBytes).fill(2),
    enqueuedAtMs: MAX_U64_SAFE,
  };
}

function fetchFrameBytes(envelopes: Envelope[]): number {
  return encodeServerFrame({
    type: "response",
    response: { requestId: 0xffff_ffff, result: { type: "fetch", fetch: { envelopes, more: true } } },
  }).length;
}

function pushFrameBytes(e: Envelope): number {
  return encodeServerFrame({ type: "push", push: { type: "envelope", envelope: e } }).length;
}

describe("frame budget", () => {
  it("counts at least what the codec writes, for any page", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 40 }), (sizes) => {
        const envelopes = sizes.map((n) => envelope(n));
        const counted = sizes.reduce((sum, n) => sum + envelopeBytes(CHANNEL_ID_BYTES, n), 0);
        expect(fetchFrameBytes(envelopes)).toBeLessThanOrEqual(FRAME_OVERHEAD_BYTES + counted);
      }),
    );
  });

  it("the largest deliverable payload fits a fetch response and a push under the frame limit", () => {
    const max = defaultLimits.maxFrameBytes;
    const e = envelope(maxDeliverablePayload(max));
    expect(fetchFrameBytes([e])).toBeLessThanOrEqual(max);
    expect(pushFrameBytes(e)).toBeLessThanOrEqual(max);
    expect(envelopeBytes(CHANNEL_ID_BYTES, e.payload.length)).toBeLessThanOrEqual(envelopeBudget(max));
    // The default payload limit leaves room for the envelope.
    expect(defaultLimits.maxPayloadBytes).toBeLessThanOrEqual(maxDeliverablePayload(max));
  });
});
