/**
 * Keeps a stock of single-use KeyPackages published, plus one last-resort KeyPackage, so others can
 * add this user to groups while they are offline (RFC 9750 section 5.1). Private halves are stored on
 * the device before the public halves are published: a Welcome can never name a KeyPackage whose keys
 * this device has lost.
 */
import { generateKeyPackage } from "../mls/index.ts";
import type { ClientSession } from "./session.ts";
import type { KeyPackageRecord } from "./storage.ts";

export class KeyPackageStock {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly session: ClientSession,
    private readonly size: number,
  ) {}

  /** Tops the stock up now; concurrent calls share one run. */
  replenish(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Background top-up after a KeyPackage was used; failures are reported, not thrown. */
  replenishSoon(): void {
    this.replenish().catch((error: unknown) => this.session.emit("error", error));
  }

  /** Resolves once a top-up under way (if any) has finished; failures were already reported. */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      if (this.stopped || !this.session.connected) return;
      await this.topUp();
    } while (this.again);
  }

  private async topUp(): Promise<void> {
    const { gw, store, identity, impl } = this.session;
    // Publishing an empty batch answers how many of ours the gateway still holds.
    const available = await gw.publishKeyPackages([]);
    const hasLastResort = (await store.listKeyPackages()).some((k) => k.lastResort);
    const missing = Math.max(0, this.size - available);
    if (missing === 0 && hasLastResort) return;

    const fresh = [];
    for (let i = 0; i < missing; i++) fresh.push(await generateKeyPackage(identity, impl));
    const lastResort = hasLastResort ? undefined : await generateKeyPackage(identity, impl, true);
    const now = this.session.now();
    const records: KeyPackageRecord[] = [...fresh, ...(lastResort ? [lastResort] : [])].map((kp) => ({
      ref: kp.ref,
      encoded: kp.encoded,
      initPrivateKey: kp.privatePackage.initPrivateKey,
      hpkePrivateKey: kp.privatePackage.hpkePrivateKey,
      lastResort: kp.lastResort,
      createdAtMs: now,
    }));
    await store.putKeyPackages(records);
    await gw.publishKeyPackages(
      fresh.map((kp) => kp.encoded),
      lastResort?.encoded,
    );
  }
}
