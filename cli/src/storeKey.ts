/**
 * The key that seals the CLI's state file. It is derived from the OPAQUE export key (so only a
 * correct password login yields it), then kept in the session file while logged in so later commands
 * need no password; the export key itself is never written anywhere. Logging out deletes it.
 */
import type { webcrypto } from "node:crypto";
import { sha256 } from "@qpq/shared/crypto";
import { utf8 } from "@qpq/shared/bytes";

const INFO = "quicproquo/v1/cli-state-key";

export async function deriveStateKeyBytes(exportKey: Uint8Array, username: string): Promise<Uint8Array> {
  if (exportKey.length < 32) throw new Error("export key too short for key derivation");
  const base = await crypto.subtle.importKey("raw", new Uint8Array(exportKey), "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: new Uint8Array(await sha256(username)),
      info: new Uint8Array(utf8(INFO)),
    },
    base,
    256,
  );
  return new Uint8Array(bits);
}

export function importStateKey(raw: Uint8Array): Promise<webcrypto.CryptoKey> {
  return crypto.subtle.importKey("raw", new Uint8Array(raw), { name: "AES-GCM" }, false, [
    "encrypt",
    "decrypt",
  ]);
}
