/**
 * The state directory (default ~/.qpq): which gateway and account it belongs to, the session of the
 * last login, and the sealed device state. Layout:
 *
 *   profile.json  gateway URL and username (not secret; lets `qpq login` work without arguments)
 *   session.json  session token and state key while logged in (secret: 0600, deleted by logout)
 *   state.qpq     the device's keys, groups and messages, sealed (fileClientStore.ts)
 *   lock          the pid of the qpq process using the directory (lock.ts)
 */
import { rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { fromBase64Url, toBase64Url } from "@qpq/shared/bytes";
import { ensurePrivateDir, readFileIfExists, writeFileAtomic } from "./atomicFile.ts";

export interface Profile {
  gateway: string;
  username: string;
}

export interface SavedSession extends Profile {
  sessionToken: Uint8Array;
  /** Raw AES-256 key sealing state.qpq (deriveStateKeyBytes in shared/src/crypto/atRest.ts). */
  stateKey: Uint8Array;
}

export class StateDir {
  readonly path: string;

  constructor(path?: string) {
    this.path = resolve(path ?? process.env.QPQ_STATE ?? join(homedir(), ".qpq"));
  }

  get stateFile(): string {
    return join(this.path, "state.qpq");
  }

  ensure(): Promise<void> {
    return ensurePrivateDir(this.path);
  }

  async readProfile(): Promise<Profile | undefined> {
    const doc = await readJson(join(this.path, "profile.json"));
    if (typeof doc?.gateway !== "string" || typeof doc.username !== "string") return undefined;
    return { gateway: doc.gateway, username: doc.username };
  }

  writeProfile(profile: Profile): Promise<void> {
    return writeFileAtomic(join(this.path, "profile.json"), JSON.stringify(profile, null, 2) + "\n");
  }

  async readSession(): Promise<SavedSession | undefined> {
    const doc = await readJson(join(this.path, "session.json"));
    if (
      typeof doc?.gateway !== "string" ||
      typeof doc.username !== "string" ||
      typeof doc.sessionToken !== "string" ||
      typeof doc.stateKey !== "string"
    ) {
      return undefined;
    }
    return {
      gateway: doc.gateway,
      username: doc.username,
      sessionToken: fromBase64Url(doc.sessionToken),
      stateKey: fromBase64Url(doc.stateKey),
    };
  }

  writeSession(session: SavedSession): Promise<void> {
    const doc = {
      gateway: session.gateway,
      username: session.username,
      sessionToken: toBase64Url(session.sessionToken),
      stateKey: toBase64Url(session.stateKey),
    };
    return writeFileAtomic(join(this.path, "session.json"), JSON.stringify(doc, null, 2) + "\n");
  }

  async deleteSession(): Promise<void> {
    await rm(join(this.path, "session.json"), { force: true });
  }
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  const bytes = await readFileIfExists(path);
  if (!bytes) return undefined;
  try {
    const doc: unknown = JSON.parse(bytes.toString("utf8"));
    return doc !== null && typeof doc === "object" ? (doc as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
