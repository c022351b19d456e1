/**
 * What travels inside an MLS application message: small JSON documents, validated on receipt because
 * a group member's device may run other (or hostile) code.
 */
import { fromUtf8, toHex, utf8 } from "../util/bytes.ts";

export const MAX_TEXT_CHARS = 16_000;
const MAX_NAME_CHARS = 100;

export type AppMessage =
  | { kind: "text"; id: string; text: string; sentAtMs: number }
  /** Sent by whoever names or renames a group, and to new members right after they join. */
  | { kind: "groupInfo"; name: string };

export function encodeAppMessage(message: AppMessage): Uint8Array {
  return utf8(JSON.stringify({ v: 1, ...message }));
}

/** Undefined for anything that is not a well-formed message of a kind this version knows. */
export function decodeAppMessage(bytes: Uint8Array): AppMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(bytes));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v.v !== 1) return undefined;
  if (
    v.kind === "text" &&
    typeof v.id === "string" &&
    /^[0-9a-f]{32}$/.test(v.id) &&
    typeof v.text === "string" &&
    v.text.length <= MAX_TEXT_CHARS &&
    typeof v.sentAtMs === "number" &&
    Number.isFinite(v.sentAtMs)
  ) {
    return { kind: "text", id: v.id, text: v.text, sentAtMs: v.sentAtMs };
  }
  if (v.kind === "groupInfo" && typeof v.name === "string" && v.name.length <= MAX_NAME_CHARS) {
    return { kind: "groupInfo", name: v.name };
  }
  return undefined;
}

export function newMessageId(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)));
}
