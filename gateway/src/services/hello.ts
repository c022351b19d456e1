import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, type IncompatibleReason } from "@qpq/shared/protocol";
import type { Handler } from "./context.ts";

export const SERVER_NAME = "quicproquo-gateway";

/** Picks the highest version both sides speak, or says which side is too old. */
export const hello: Handler<"hello"> = async (req, conn, services) => {
  const incompatible = (reason: IncompatibleReason) => ({
    type: "incompatible" as const,
    incompatible: { reason, serverMinVersion: MIN_PROTOCOL_VERSION, serverMaxVersion: PROTOCOL_VERSION },
  });
  if (req.maxVersion < MIN_PROTOCOL_VERSION || req.maxVersion < req.minVersion) {
    return incompatible("clientTooOld");
  }
  if (req.minVersion > PROTOCOL_VERSION) return incompatible("serverTooOld");
  const version = Math.min(req.maxVersion, PROTOCOL_VERSION);
  conn.version = version;
  return {
    type: "ok",
    ok: {
      version,
      server: SERVER_NAME,
      maxFrameBytes: services.config.limits.maxFrameBytes,
      maxPayloadBytes: services.config.limits.maxPayloadBytes,
    },
  };
};

export const health: Handler<"health"> = async (_req, _conn, services) => ({
  status: "ok",
  version: PROTOCOL_VERSION,
  uptimeMs: services.now() - services.startedAtMs,
});
