import { describe, expect, it } from "vitest";
import { ErrorCode } from "@qpq/shared/protocol";
import { defaultLimits, loadConfig } from "./config.ts";
import { maxDeliverablePayload } from "./delivery/frameBudget.ts";
import { checkPayloadSize } from "./services/channels.ts";

describe("frame and payload limits", () => {
  it("refuses a payload limit that leaves no room for the envelope in a frame", () => {
    // A payload as large as the frame could be stored, and then never fetched or pushed.
    expect(() => loadConfig({ QPQ_MAX_FRAME_BYTES: "65536", QPQ_MAX_PAYLOAD_BYTES: "65536" })).toThrow(
      /QPQ_MAX_PAYLOAD_BYTES/,
    );
    const fits = String(maxDeliverablePayload(65536));
    expect(
      loadConfig({ QPQ_MAX_FRAME_BYTES: "65536", QPQ_MAX_PAYLOAD_BYTES: fits }).limits.maxPayloadBytes,
    ).toBe(Number(fits));
    expect(() => loadConfig({ QPQ_MAX_FRAME_BYTES: "1048576" })).toThrow(/QPQ_MAX_PAYLOAD_BYTES/);
    expect(loadConfig({}).limits.maxPayloadBytes).toBe(defaultLimits.maxPayloadBytes);
  });

  it("enqueues refuse what no frame could carry even when the limits were built in code", () => {
    const limits = { maxFrameBytes: 65536, maxPayloadBytes: 65536 };
    const fits = maxDeliverablePayload(limits.maxFrameBytes);
    expect(() => checkPayloadSize(new Uint8Array(fits), limits)).not.toThrow();
    expect(() => checkPayloadSize(new Uint8Array(fits + 1), limits)).toThrow(
      expect.objectContaining({ code: ErrorCode.PayloadTooLarge }),
    );
  });
});

describe("pending logins and the health probe", () => {
  it("defaults: 64 pending logins per address, no counts on /healthz", () => {
    const config = loadConfig({});
    expect(config.limits.maxPendingLoginsPerAddress).toBe(64);
    expect(config.healthDetails).toBe(false);
  });

  it("reads the variables", () => {
    const config = loadConfig({ QPQ_MAX_PENDING_LOGINS_PER_ADDRESS: "5", QPQ_HEALTH_DETAILS: "on" });
    expect(config.limits.maxPendingLoginsPerAddress).toBe(5);
    expect(config.healthDetails).toBe(true);
    expect(() => loadConfig({ QPQ_HEALTH_DETAILS: "yes" })).toThrow(/QPQ_HEALTH_DETAILS/);
    expect(() => loadConfig({ QPQ_MAX_PENDING_LOGINS_PER_ADDRESS: "0" })).toThrow(
      /QPQ_MAX_PENDING_LOGINS_PER_ADDRESS/,
    );
  });
});

describe("QUIC admission settings", () => {
  it("default to the transport's, with the Retry threshold at half the unvalidated cap", () => {
    expect(loadConfig({}).quic).toEqual({
      maxConnections: 10_000,
      maxConnectionsPerAddress: 64,
      maxUnvalidated: 1000,
      maxUnvalidatedPerAddress: 16,
      retry: "auto",
      retryThreshold: 500,
      handshakeTimeoutMs: 10_000,
    });
    expect(loadConfig({ QPQ_QUIC_MAX_UNVALIDATED: "300" }).quic.retryThreshold).toBe(150);
  });

  it("are read from the environment and checked", () => {
    const quic = loadConfig({
      QPQ_QUIC_MAX_CONNECTIONS: "500",
      QPQ_QUIC_MAX_PER_ADDRESS: "8",
      QPQ_QUIC_MAX_UNVALIDATED_PER_ADDRESS: "4",
      QPQ_QUIC_RETRY: "always",
      QPQ_QUIC_RETRY_THRESHOLD: "0",
      QPQ_QUIC_HANDSHAKE_DEADLINE_MS: "5000",
    }).quic;
    expect(quic).toMatchObject({ maxConnections: 500, maxConnectionsPerAddress: 8, retry: "always" });
    expect(quic).toMatchObject({ maxUnvalidatedPerAddress: 4, retryThreshold: 0, handshakeTimeoutMs: 5000 });
    expect(() => loadConfig({ QPQ_QUIC_RETRY: "sometimes" })).toThrow(/QPQ_QUIC_RETRY/);
    expect(() => loadConfig({ QPQ_QUIC_RETRY_THRESHOLD: "1001" })).toThrow(/QPQ_QUIC_RETRY_THRESHOLD/);
    expect(() => loadConfig({ QPQ_QUIC_MAX_PER_ADDRESS: "0" })).toThrow(/QPQ_QUIC_MAX_PER_ADDRESS/);
  });
});
