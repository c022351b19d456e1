/**
 * Which queues receive for an account: one per unrevoked device (docs/cryptography/devices.md). Every
 * fan-out asks, so the answer is cached per account and dropped when the account attaches or revokes
 * a device. An account that never attached a device receives on its account key, the queue of its
 * original device.
 */
import { bytesEqual, toHex } from "@qpq/shared/bytes";
import type { Store } from "../store/types.ts";

export class DeviceDirectory {
  private readonly cache = new Map<string, Uint8Array[]>();

  constructor(
    private readonly store: Store,
    private readonly maxCached = 100_000,
  ) {}

  async devicesOf(accountKey: Uint8Array): Promise<Uint8Array[]> {
    const key = toHex(accountKey);
    const cached = this.cache.get(key);
    if (cached) return cached;
    const { devices, everAttached } = await this.store.listDeviceKeys(accountKey);
    const list = everAttached ? devices : [accountKey];
    // A crude bound: clearing everything now and then costs one store read per account afterwards.
    if (this.cache.size >= this.maxCached) this.cache.clear();
    this.cache.set(key, list);
    return list;
  }

  /** Every device of these accounts, except one (the sending device: it has what it sent). */
  async recipients(accounts: Uint8Array[], except?: Uint8Array): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (const account of accounts) {
      for (const device of await this.devicesOf(account)) {
        if (!except || !bytesEqual(device, except)) out.push(device);
      }
    }
    return out;
  }

  invalidate(accountKey: Uint8Array): void {
    this.cache.delete(toHex(accountKey));
  }
}
