/**
 * The CLI's ClientStore: the whole device state in one file, sealed with AES-256-GCM under a key
 * derived from the OPAQUE export key, and replaced atomically on every change. One file makes every
 * change (including applyEnvelope with its cursor) trivially atomic; the cost is rewriting the file
 * per change, which is fine for one person's terminal client. Changes made while a write is running
 * are coalesced into the next write, and each promise resolves only once its change is on disk.
 *
 * The file is bound to its username by the AES-GCM associated data, so a state file copied into
 * another account's directory does not open.
 */
import type { webcrypto } from "node:crypto";
import { MemoryClientStore, type ClientStoreSnapshot, type MessageRecord } from "@qpq/shared/client";
import { decodeRecord, encodeRecord, open, seal } from "@qpq/shared/crypto";
import { bytesEqual, utf8 } from "@qpq/shared/bytes";
import { readFileIfExists, writeFileAtomic } from "./atomicFile.ts";

const MAGIC = utf8("qpqs");
const FORMAT_VERSION = 1;

interface Snapshot extends ClientStoreSnapshot {
  /** CLI bookkeeping that must be as private as the messages (e.g. what recv already printed). */
  meta: Record<string, unknown>;
}

export class StateFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateFileError";
  }
}

const copy = <T>(value: T): T => structuredClone(value);

export interface FileClientStoreOptions {
  path: string;
  key: webcrypto.CryptoKey;
  username: string;
}

export class FileClientStore extends MemoryClientStore {
  private readonly meta = new Map<string, unknown>();
  private queued: Promise<void> | undefined;
  private chain: Promise<void> = Promise.resolve();

  private constructor(private readonly opts: FileClientStoreOptions) {
    super();
  }

  /** Opens the state file, or starts empty when there is none yet (nothing is written until a change). */
  static async open(opts: FileClientStoreOptions): Promise<FileClientStore> {
    const store = new FileClientStore(opts);
    const bytes = await readFileIfExists(opts.path);
    if (bytes) {
      const snapshot = await decryptState(bytes, opts);
      store.load(snapshot);
      for (const [k, v] of Object.entries(snapshot.meta)) store.meta.set(k, v);
    }
    return store;
  }

  /** Whether a state file exists at path (without decrypting it). */
  static async exists(path: string): Promise<boolean> {
    return (await readFileIfExists(path)) !== undefined;
  }

  /** Waits for every change made so far to reach the disk. */
  flush(): Promise<void> {
    return this.queued ?? this.chain;
  }

  /**
   * Messages of every conversation inserted after the given insertion number, in insertion order,
   * with the number to pass next time: how `qpq recv` prints only what it has not printed before.
   */
  async messagesAfter(n: number): Promise<{ messages: MessageRecord[]; upTo: number }> {
    const found = [...this.messages.values()].filter((m) => m.n > n).sort((a, b) => a.n - b.n);
    return { messages: found.map((m) => copy(m.record)), upTo: Math.max(n, this.nextMessage - 1) };
  }

  getMeta<T>(key: string): T | undefined {
    return copy(this.meta.get(key)) as T | undefined;
  }

  putMeta(key: string, value: unknown): Promise<void> {
    this.meta.set(key, copy(value));
    return this.changed();
  }

  /**
   * Schedules a write of the current state. A write already waiting picks up this change too; a write
   * already running does not, so a new one is queued behind it.
   */
  protected override changed(): Promise<void> {
    if (!this.queued) {
      const next = this.chain.then(() => {
        this.queued = undefined;
        return this.write();
      });
      this.queued = next;
      this.chain = next.catch(() => undefined);
    }
    return this.queued;
  }

  private async write(): Promise<void> {
    // Serialized synchronously: changes made while sealing belong to the next write.
    const snapshot: Snapshot = { ...this.snapshot(), meta: Object.fromEntries(this.meta) };
    const plaintext = encodeRecord(snapshot);
    const sealed = await seal(this.opts.key, plaintext, aad(this.opts.username));
    const file = new Uint8Array(MAGIC.length + 1 + sealed.length);
    file.set(MAGIC, 0);
    file[MAGIC.length] = FORMAT_VERSION;
    file.set(sealed, MAGIC.length + 1);
    await writeFileAtomic(this.opts.path, file);
  }
}

function aad(username: string): string {
  return `quicproquo/v1/cli-state\u0000${username}`;
}

async function decryptState(bytes: Uint8Array, opts: FileClientStoreOptions): Promise<Snapshot> {
  if (bytes.length < MAGIC.length + 1 || !bytesEqual(bytes.subarray(0, MAGIC.length), MAGIC)) {
    throw new StateFileError(`${opts.path} is not a qpq state file`);
  }
  const version = bytes[MAGIC.length];
  if (version !== FORMAT_VERSION) {
    throw new StateFileError(`${opts.path} was written by another version of qpq (format ${version})`);
  }
  const plaintext = await open(opts.key, bytes.subarray(MAGIC.length + 1), aad(opts.username));
  return decodeRecord<Snapshot>(plaintext);
}
