/**
 * Size limits applied to every frame before it is decoded. Both sides use the same defaults; the gateway
 * announces its own values in HelloOk (maxFrameBytes, maxPayloadBytes).
 */
import { ErrorCode, QpqError } from "./errors.ts";
export interface FrameLimits {
  /** Largest accepted Cap'n Proto message in bytes: the value of the 4-byte length prefix, excluding it. */
  maxFrameBytes: number;
  /** Largest accepted segment count in one message. */
  maxSegments: number;
}

/** Default largest EnqueueRequest.payload (1 MiB). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/** 1 MiB payload plus 64 KiB for keys, ids and Cap'n Proto overhead; 64 segments. */
export const DEFAULT_FRAME_LIMITS: Readonly<FrameLimits> = Object.freeze({
  maxFrameBytes: DEFAULT_MAX_PAYLOAD_BYTES + 64 * 1024,
  maxSegments: 64,
});

/** Fills in defaults and checks that the values are sane (positive integers, frame length fits a u32). */
export function resolveFrameLimits(limits?: Partial<FrameLimits>): FrameLimits {
  const maxFrameBytes = limits?.maxFrameBytes ?? DEFAULT_FRAME_LIMITS.maxFrameBytes;
  const maxSegments = limits?.maxSegments ?? DEFAULT_FRAME_LIMITS.maxSegments;
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 16 || maxFrameBytes > 0xffff_ffff) {
    throw new QpqError(
      ErrorCode.InvalidArgument,
      `maxFrameBytes must be an integer in [16, 2^32-1], got ${maxFrameBytes}`,
    );
  }
  if (!Number.isInteger(maxSegments) || maxSegments < 1 || maxSegments > 0x1_0000) {
    throw new QpqError(
      ErrorCode.InvalidArgument,
      `maxSegments must be an integer in [1, 65536], got ${maxSegments}`,
    );
  }
  return { maxFrameBytes, maxSegments };
}
