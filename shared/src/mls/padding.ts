/**
 * Padding of application messages before MLS encryption, so ciphertext sizes reveal a size bucket
 * rather than the length of the text. ts-mls pads the encoded PrivateMessageContent with zeros (RFC 9420
 * section 6.3.1) by a count we choose per message, so the bucket applies to exactly what is encrypted.
 *
 * The scheme: whole blocks (256 bytes by default) up to `padmeAboveBytes`, Padmé beyond. Chat
 * messages are short and their length is what identifies them ("yes" vs a paragraph), so small sizes
 * get coarse, fixed buckets: every text up to ~190 bytes looks the same, at a cost of at most one
 * block. Large payloads (pasted documents) would waste up to a block each with no gain; Padmé
 * (Nikitin et al., PETS 2019) caps the overhead at 12% while leaking only O(log log n) bits of the size.
 */
import type { PaddingConfig } from "ts-mls";

export type PaddingScheme =
  | { kind: "off" }
  | {
      kind: "buckets";
      /** Block size for the small sizes. */
      blockBytes: number;
      /** Above this padded size Padmé takes over. */
      padmeAboveBytes: number;
    };

export const DEFAULT_PADDING: PaddingScheme = { kind: "buckets", blockBytes: 256, padmeAboveBytes: 4096 };

/** Padmé: rounds up so that only the top ~log2(log2 n) bits of the length vary. */
export function padme(length: number): number {
  if (length <= 2) return length;
  const e = Math.floor(Math.log2(length));
  const s = Math.floor(Math.log2(e)) + 1;
  const mask = 2 ** (e - s) - 1;
  return Math.floor((length + mask) / (mask + 1)) * (mask + 1);
}

/** The bucket a content of `length` bytes is padded to. */
export function paddedLength(length: number, scheme: PaddingScheme): number {
  if (scheme.kind === "off") return length;
  const blocks = Math.max(1, Math.ceil(length / scheme.blockBytes)) * scheme.blockBytes;
  return blocks <= scheme.padmeAboveBytes ? blocks : Math.max(scheme.padmeAboveBytes, padme(length));
}

/** Bytes of an MLS variable-length integer (RFC 9420 section 2.1.2). */
function varintBytes(n: number): number {
  return n < 64 ? 1 : n < 16384 ? 2 : 4;
}

/** Ed25519 signatures, in every suite this client uses. */
const SIGNATURE_BYTES = 64;

/**
 * The ts-mls padding for one application message: its PrivateMessageContent is
 * application_data<V> followed by the signature<V> (RFC 9420 section 6.3.1), padded up to the bucket.
 */
export function paddingFor(plaintextLength: number, scheme: PaddingScheme): PaddingConfig {
  const content =
    varintBytes(plaintextLength) + plaintextLength + varintBytes(SIGNATURE_BYTES) + SIGNATURE_BYTES;
  return { kind: "alwaysPad", paddingLength: paddedLength(content, scheme) - content };
}
