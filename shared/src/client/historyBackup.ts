/**
 * The account's history backup (docs/cryptography/devices.md): every device appends the messages it
 * stores (sent or received, once final) as entries sealed under keys from the account key, which the
 * gateway never sees; a new device reads them back after its first login. Entry keys are an HMAC of
 * what the entry holds, so two devices backing up the same message send the same key and the gateway
 * keeps one: the backup grows with the history, not with the number of devices.
 *
 * Uploads are batched: entries wait at most `delayMs` (and are sent at once by flush()). A crash in
 * that window loses this device's copy of those entries; the account's other devices back up the same
 * messages, and a message this device sent is backed up again when its status next changes.
 */
import { deriveBackupKeys, type BackupKeys } from "../crypto/accountBundle.ts";
import { decodeRecord, encodeRecord, open, seal } from "../crypto/atRest.ts";
import { ErrorCode, QpqError } from "../protocol/index.ts";
import { toHex, utf8 } from "../util/bytes.ts";
import type { ClientSession } from "./session.ts";
import type { MessageRecord } from "./storage.ts";

const ENTRY_VERSION = 1;
/** Entries are padded to a multiple of this, so their sizes say little about the text's length. */
const PAD_BLOCK = 256;
const MAX_ENTRIES_PER_UPLOAD = 200;
const MAX_BYTES_PER_UPLOAD = 512 * 1024;

interface EntryBody {
  v: number;
  kind: "message";
  message: MessageRecord;
}

interface QueuedEntry {
  key: Uint8Array;
  ciphertext: Uint8Array;
}

export interface RestoreResult {
  entries: number;
  messages: number;
  /** Entries that did not open (another account's key, tampering): skipped and counted. */
  unreadable: number;
}

function pad(plaintext: Uint8Array): Uint8Array {
  const total = Math.ceil((plaintext.length + 4) / PAD_BLOCK) * PAD_BLOCK;
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, plaintext.length);
  out.set(plaintext, 4);
  return out;
}

function unpad(padded: Uint8Array): Uint8Array {
  if (padded.length < 4) throw new QpqError(ErrorCode.StorageUnreadable, "a backup entry is truncated");
  const length = new DataView(padded.buffer, padded.byteOffset, padded.byteLength).getUint32(0);
  if (length > padded.length - 4)
    throw new QpqError(ErrorCode.StorageUnreadable, "a backup entry is malformed");
  return padded.subarray(4, 4 + length);
}

export class HistoryBackup {
  private readonly keys: Promise<BackupKeys>;
  private readonly queued = new Map<string, QueuedEntry>();
  /** Entry keys this device read from the backup or uploaded: never sent again in this run. */
  private readonly known = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private uploading: Promise<void> = Promise.resolve();
  /** Entries being sealed: flush() waits for them, so a message stored before it is in the upload. */
  private readonly preparing = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly session: ClientSession,
    private readonly delayMs = 2000,
  ) {
    this.keys = deriveBackupKeys(session.account.privateKey, session.identity.username);
  }

  /** Queues a message for the backup once its status is final (sent or received). */
  note(message: MessageRecord): void {
    if (this.stopped || (message.status !== "sent" && message.status !== "received")) return;
    const prepared = this.enqueue(message).catch((error: unknown) => this.session.emit("error", error));
    this.preparing.add(prepared);
    void prepared.finally(() => this.preparing.delete(prepared));
  }

  private async enqueue(message: MessageRecord): Promise<void> {
    const key = await this.entryKey(message);
    const hex = toHex(key);
    if (this.known.has(hex) || this.queued.has(hex)) return;
    const body: EntryBody = { v: ENTRY_VERSION, kind: "message", message };
    const ciphertext = await seal((await this.keys).seal, pad(encodeRecord(body)), key);
    this.queued.set(hex, { key, ciphertext });
    this.schedule();
  }

  private async entryKey(message: MessageRecord): Promise<Uint8Array> {
    // JSON keeps the pair unambiguous whatever characters the ids contain.
    const name = new Uint8Array(utf8(`message\u0000${JSON.stringify([message.groupId, message.id])}`));
    return new Uint8Array(await crypto.subtle.sign("HMAC", (await this.keys).name, name));
  }

  private schedule(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((error: unknown) => this.session.emit("error", error));
    }, this.delayMs);
  }

  /** Uploads everything queued now; entries stay queued (and are retried) when the gateway is away. */
  flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const sealing = Promise.all(this.preparing);
    const run = this.uploading.then(async () => {
      await sealing;
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      await this.upload();
    });
    this.uploading = run.catch(() => undefined);
    return run;
  }

  private async upload(): Promise<void> {
    while (this.queued.size > 0 && this.session.connected) {
      const batch: [string, QueuedEntry][] = [];
      let bytes = 0;
      for (const item of this.queued) {
        const size = item[1].key.length + item[1].ciphertext.length;
        if (
          batch.length > 0 &&
          (batch.length >= MAX_ENTRIES_PER_UPLOAD || bytes + size > MAX_BYTES_PER_UPLOAD)
        )
          break;
        batch.push(item);
        bytes += size;
      }
      await this.session.gw.putBackup(batch.map(([, e]) => e));
      for (const [hex] of batch) {
        this.queued.delete(hex);
        this.known.add(hex);
      }
    }
  }

  /**
   * Reads the whole backup into this device's store (a new device, right after its first login).
   * A message already stored here keeps its record (the store's first-record rule).
   */
  async restore(): Promise<RestoreResult> {
    const result: RestoreResult = { entries: 0, messages: 0, unreadable: 0 };
    const { seal: sealKey } = await this.keys;
    let after = 0;
    for (;;) {
      const page = await this.session.gw.fetchBackup(after);
      for (const entry of page.entries) {
        after = Math.max(after, entry.seq);
        result.entries++;
        this.known.add(toHex(entry.key));
        let body: EntryBody;
        try {
          body = decodeRecord<EntryBody>(unpad(await open(sealKey, entry.ciphertext, entry.key)));
        } catch {
          result.unreadable++;
          continue;
        }
        if (body.v !== ENTRY_VERSION || body.kind !== "message") continue;
        const message = body.message;
        // The key binds the entry to the message it names: a moved entry would not open above, and a
        // record naming another message than its key is dropped here.
        if (toHex(await this.entryKey(message)) !== toHex(entry.key)) {
          result.unreadable++;
          continue;
        }
        if (!(await this.session.store.getMessage(message.groupId, message.id))) {
          await this.session.store.putMessage(message);
          result.messages++;
          this.session.emit("message", message);
        }
      }
      if (!page.more || page.entries.length === 0) return result;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
