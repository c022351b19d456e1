/**
 * The multi-device half of MemoryStore (its base class): devices, sealed account bundles and history
 * backups. Kept apart so each file stays readable; MemoryStore supplies the user lookups and deletes a
 * revoked device's sessions, queue and KeyPackages, since it owns those maps.
 */
import type {
  AddDeviceOutcome,
  DeviceStore,
  BackupEntry,
  BackupPage,
  BackupPutOutcome,
  DeviceRecord,
  NewDevice,
  StoredBackupEntry,
} from "./types.ts";

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

function copy(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

function copyDevice(d: DeviceRecord): DeviceRecord {
  return { ...d, deviceKey: copy(d.deviceKey), certificate: copy(d.certificate) };
}

interface Backup {
  entries: StoredBackupEntry[];
  keys: Set<string>;
  bytes: number;
}

export abstract class MemoryDeviceStore implements DeviceStore {
  /** device key hex -> device, in insertion order (Map keeps it). */
  private readonly devices = new Map<string, DeviceRecord>();
  private readonly bundles = new Map<string, Uint8Array>();
  private readonly backups = new Map<string, Backup>();

  protected abstract live(): void;
  protected abstract userExists(username: string): boolean;
  protected abstract usernameOfIdentity(identityKey: Uint8Array): string | undefined;
  /** Deletes the device's sessions, queue and KeyPackages; returns the deleted sessions' token hashes. */
  protected abstract dropDeviceData(deviceKey: Uint8Array): Uint8Array[];

  protected isDevice(key: Uint8Array): boolean {
    return this.devices.has(hex(key));
  }

  async addDevice(device: NewDevice, maxDevices: number): Promise<AddDeviceOutcome> {
    this.live();
    if (!this.userExists(device.username)) throw new Error(`unknown user ${device.username}`);
    const existing = this.devices.get(hex(device.deviceKey));
    if (existing) {
      if (existing.username !== device.username) return "taken";
      return existing.revokedAtMs === undefined ? "exists" : "revoked";
    }
    const owner = this.usernameOfIdentity(device.deviceKey);
    if (owner !== undefined && owner !== device.username) return "taken";
    if (this.active(device.username).length >= maxDevices) return "full";
    this.devices.set(hex(device.deviceKey), copyDevice(device));
    return "added";
  }

  async getDevice(deviceKey: Uint8Array): Promise<DeviceRecord | undefined> {
    this.live();
    const d = this.devices.get(hex(deviceKey));
    return d && copyDevice(d);
  }

  async listDevices(username: string): Promise<DeviceRecord[]> {
    this.live();
    return [...this.devices.values()].filter((d) => d.username === username).map(copyDevice);
  }

  async listDeviceKeys(identityKey: Uint8Array): Promise<{ devices: Uint8Array[]; everAttached: boolean }> {
    this.live();
    const username = this.usernameOfIdentity(identityKey);
    if (username === undefined) return { devices: [], everAttached: false };
    const all = [...this.devices.values()].filter((d) => d.username === username);
    return {
      devices: all.filter((d) => d.revokedAtMs === undefined).map((d) => copy(d.deviceKey)),
      everAttached: all.length > 0,
    };
  }

  async renameDevice(username: string, deviceKey: Uint8Array, name: string): Promise<boolean> {
    this.live();
    const d = this.owned(username, deviceKey);
    if (!d) return false;
    d.name = name;
    return true;
  }

  async touchDevice(deviceKey: Uint8Array, nowMs: number): Promise<void> {
    this.live();
    const d = this.devices.get(hex(deviceKey));
    if (d) d.lastSeenMs = Math.max(d.lastSeenMs, nowMs);
  }

  async revokeDevice(
    username: string,
    deviceKey: Uint8Array,
    nowMs: number,
  ): Promise<Uint8Array[] | undefined> {
    this.live();
    const d = this.owned(username, deviceKey);
    if (!d) return undefined;
    d.revokedAtMs = nowMs;
    return this.dropDeviceData(deviceKey);
  }

  async setAccountBundle(username: string, bundle: Uint8Array): Promise<void> {
    this.live();
    if (!this.userExists(username)) throw new Error(`unknown user ${username}`);
    this.bundles.set(username, copy(bundle));
  }

  async getAccountBundle(username: string): Promise<Uint8Array | undefined> {
    this.live();
    const b = this.bundles.get(username);
    return b && copy(b);
  }

  async putBackupEntries(
    username: string,
    entries: BackupEntry[],
    maxBytes: number,
  ): Promise<BackupPutOutcome> {
    this.live();
    if (!this.userExists(username)) throw new Error(`unknown user ${username}`);
    let backup = this.backups.get(username);
    if (!backup) this.backups.set(username, (backup = { entries: [], keys: new Set(), bytes: 0 }));
    const fresh = new Map<string, BackupEntry>();
    for (const e of entries) {
      const k = hex(e.key);
      if (!backup.keys.has(k) && !fresh.has(k)) fresh.set(k, e);
    }
    let added = 0;
    for (const e of fresh.values()) added += e.key.length + e.ciphertext.length;
    if (backup.bytes + added > maxBytes) return { status: "full", usedBytes: backup.bytes };
    for (const [k, e] of fresh) {
      backup.keys.add(k);
      backup.entries.push({
        seq: backup.entries.length + 1,
        key: copy(e.key),
        ciphertext: copy(e.ciphertext),
      });
    }
    backup.bytes += added;
    return { status: "stored", stored: fresh.size, usedBytes: backup.bytes };
  }

  async fetchBackupEntries(
    username: string,
    afterSeq: number,
    page: { limit: number; maxBytes: number },
  ): Promise<BackupPage> {
    this.live();
    if (!Number.isSafeInteger(page.limit) || page.limit < 1) {
      throw new RangeError(`invalid page limit: ${page.limit}`);
    }
    const all = this.backups.get(username)?.entries ?? [];
    const rest = all.filter((e) => e.seq > afterSeq);
    const out: StoredBackupEntry[] = [];
    let used = 0;
    for (const e of rest) {
      used += e.key.length + e.ciphertext.length;
      if (out.length === page.limit || (out.length > 0 && used > page.maxBytes)) break;
      out.push({ seq: e.seq, key: copy(e.key), ciphertext: copy(e.ciphertext) });
    }
    return { entries: out, more: rest.length > out.length };
  }

  async backupBytes(username: string): Promise<number> {
    this.live();
    return this.backups.get(username)?.bytes ?? 0;
  }

  private active(username: string): DeviceRecord[] {
    return [...this.devices.values()].filter((d) => d.username === username && d.revokedAtMs === undefined);
  }

  private owned(username: string, deviceKey: Uint8Array): DeviceRecord | undefined {
    const d = this.devices.get(hex(deviceKey));
    return d && d.username === username && d.revokedAtMs === undefined ? d : undefined;
  }
}
