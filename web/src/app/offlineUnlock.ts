/**
 * Opening stored history without the gateway. The device store is encrypted with a key derived from
 * the OPAQUE export key, which needs the gateway. So after each online login the export key is also
 * kept sealed under a key stretched from the password on this device (PBKDF2-SHA-256, 600,000
 * iterations, per OWASP's current guidance), and offline the password unseals it.
 *
 * Trade-off, stated in docs/security.md: a copy of the browser profile now allows an offline guessing
 * attack on the password at PBKDF2 cost, as a copy of the gateway database allows one at Argon2 cost.
 * Nothing is readable without the password.
 */
import { openDB, type DBSchema } from "idb";
import { open, seal } from "@qpq/shared/crypto";
import { accountDatabaseName } from "../storage/idbClientStore.ts";

const ITERATIONS = 600_000;
const DB_NAME = "qpq-offline-unlock";

interface UnlockRecord {
  salt: Uint8Array;
  iterations: number;
  sealedExportKey: Uint8Array;
}

interface UnlockDB extends DBSchema {
  keys: { key: string; value: UnlockRecord };
}

function database() {
  return openDB<UnlockDB>(DB_NAME, 1, {
    upgrade(db) {
      db.createObjectStore("keys");
    },
  });
}

async function passwordKey(password: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, [
    "deriveKey",
  ]);
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(salt), iterations },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

export async function rememberForOffline(
  username: string,
  password: string,
  exportKey: Uint8Array,
): Promise<void> {
  const id = await accountDatabaseName(username);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await passwordKey(password, salt, ITERATIONS);
  const sealedExportKey = await seal(key, exportKey, id);
  const db = await database();
  await db.put("keys", { salt, iterations: ITERATIONS, sealedExportKey }, id);
  db.close();
}

/** The export key, or undefined when this device never logged in as that user or the password is wrong. */
export async function unlockOffline(username: string, password: string): Promise<Uint8Array | undefined> {
  const id = await accountDatabaseName(username);
  const db = await database();
  const record = await db.get("keys", id);
  db.close();
  if (!record) return undefined;
  try {
    return await open(
      await passwordKey(password, record.salt, record.iterations),
      record.sealedExportKey,
      id,
    );
  } catch {
    return undefined;
  }
}
