/**
 * The devices of accounts, as this device sees and checks them (docs/cryptography/devices.md): the
 * gateway serves device lists and KeyPackages, and every one is checked against the account key here
 * before it is used. Also the rule that keeps groups' leaves in step with those lists: any member
 * device adds the certified devices of member accounts that have no leaf yet, and removes the leaves
 * of revoked ones. The gateway's device notices (deviceNotice.ts) say when to look.
 */
import type { ClientState, KeyPackage } from "ts-mls";
import { sha256 } from "../crypto/atRest.ts";
import { verifyDeviceCertificate } from "../crypto/deviceCertificate.ts";
import {
  commit as commitProposals,
  decodeKeyPackage,
  inspectKeyPackage,
  members,
  parseCredentialIdentity,
  type GroupMember,
} from "../mls/index.ts";
import type { DeviceInfo } from "../protocol/index.ts";
import { ErrorCode, QpqError } from "../protocol/index.ts";
import { bytesEqual, toHex } from "../util/bytes.ts";
import type { GroupCommits } from "./groupCommits.ts";
import type { ClientSession } from "./session.ts";
import type { WelcomeRecipient } from "./storage.ts";

/** A device of an account whose certificate verified (or the account's original device). */
export interface VerifiedDevice {
  deviceKey: Uint8Array;
  revoked: boolean;
  /** Only for this account's own devices (the gateway tells names to their owner only). */
  name: string;
  createdAtMs: number;
  lastSeenMs: number;
  revokedAtMs: number;
}

/** The account's devices that the account key vouches for; anything else the gateway lists is dropped. */
export function verifiedDevices(
  accountKey: Uint8Array,
  username: string,
  list: DeviceInfo[],
): VerifiedDevice[] {
  return list
    .filter((d) =>
      d.certificate.length === 0
        ? bytesEqual(d.deviceKey, accountKey)
        : verifyDeviceCertificate(accountKey, username, {
            deviceKey: d.deviceKey,
            issuedAtMs: d.issuedAtMs,
            signature: d.certificate,
          }),
    )
    .map((d) => ({
      deviceKey: d.deviceKey,
      revoked: d.revokedAtMs !== 0,
      name: d.name,
      createdAtMs: d.createdAtMs,
      lastSeenMs: d.lastSeenMs,
      revokedAtMs: d.revokedAtMs,
    }));
}

/**
 * The device a served KeyPackage belongs to, when it is a device of this account: its credential
 * names the user and carries the account key's certificate for the leaf key (or the leaf key is the
 * account key itself, for the original device). Undefined for anything else.
 */
export function keyPackageDevice(
  keyPackage: Uint8Array,
  username: string,
  accountKey: Uint8Array,
): Uint8Array | undefined {
  const info = inspectKeyPackage(keyPackage);
  const claims = info?.credentialIdentity && parseCredentialIdentity(info.credentialIdentity);
  if (!info || !claims || claims.username !== username) return undefined;
  if (!claims.device) return bytesEqual(info.signatureKey, accountKey) ? info.signatureKey : undefined;
  const { device } = claims;
  const certified =
    bytesEqual(device.accountKey, accountKey) &&
    verifyDeviceCertificate(accountKey, username, {
      deviceKey: info.signatureKey,
      issuedAtMs: device.issuedAtMs,
      signature: device.signature,
    });
  return certified ? info.signatureKey : undefined;
}

export interface AccountKeyPackages {
  keyPackages: KeyPackage[];
  welcomeTo: WelcomeRecipient[];
}

/**
 * Claims and checks one KeyPackage per device of a user (only of `deviceKeys` when given). A package
 * that is not the user's is a lie of the gateway's: the whole call fails rather than add a stranger.
 */
export async function claimAccountKeyPackages(
  session: ClientSession,
  username: string,
  accountKey: Uint8Array,
  deviceKeys: Uint8Array[] = [],
): Promise<AccountKeyPackages> {
  const served = await session.gw.fetchKeyPackages(accountKey, deviceKeys);
  const out: AccountKeyPackages = { keyPackages: [], welcomeTo: [] };
  for (const item of served) {
    const deviceKey = keyPackageDevice(item.keyPackage, username, accountKey);
    if (!deviceKey || !bytesEqual(deviceKey, item.deviceKey)) {
      throw new QpqError(
        ErrorCode.InvalidArgument,
        `the gateway served a KeyPackage that is not ${username}'s`,
      );
    }
    out.keyPackages.push(decodeKeyPackage(item.keyPackage));
    out.welcomeTo.push({ deviceKey, accountKey });
  }
  return out;
}

/** Accounts of a group's members by hex account key, with the username their leaves claim. */
function memberAccounts(leaves: GroupMember[]): Map<string, { accountKey: Uint8Array; username: string }> {
  const out = new Map<string, { accountKey: Uint8Array; username: string }>();
  for (const leaf of leaves) {
    if (!leaf.accountKey || !leaf.username) continue;
    out.set(toHex(leaf.accountKey), { accountKey: leaf.accountKey, username: leaf.username });
  }
  return out;
}

/** What a group lacks: devices of its member accounts without a leaf, leaves of revoked devices. */
export interface DeviceDrift {
  missing: { username: string; accountKey: Uint8Array; deviceKeys: Uint8Array[] }[];
  revokedLeaves: number[];
}

class NothingToDo extends Error {}

/** Retries of a pass whose devices had no KeyPackage yet: 0.5 s, doubling, 6 times (about 30 s). */
const RETRY_BASE_MS = 500;
const RETRY_ATTEMPTS = 6;
/** Device notices come in bursts (one per account and change): reconciled together, shortly after. */
const NOTICE_DELAY_MS = 100;

export class DeviceSync {
  /** Verified device lists by hex account key, for one reconciliation pass. */
  private lists = new Map<string, Promise<VerifiedDevice[]>>();
  private running: Promise<void> = Promise.resolve();
  /** Accounts whose devices had no KeyPackage yet: attempts so far, and the pending retry. */
  private readonly retries = new Map<string, { attempts: number; timer?: ReturnType<typeof setTimeout> }>();
  private stopped = false;
  private readonly noticedAccounts = new Map<string, Uint8Array>();
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly session: ClientSession,
    private readonly commits: Pick<GroupCommits, "commitChange">,
    /** After devices were added to a group (the messenger tells them the conversation's name). */
    private readonly onAdded: (groupId: string) => Promise<void> = async () => {},
  ) {}

  /** The gateway's hint that an account's devices changed: reconciles its groups shortly. */
  noticed(accountKey: Uint8Array): void {
    this.noticedAccounts.set(toHex(accountKey), accountKey);
    if (this.noticeTimer !== undefined) return;
    this.noticeTimer = setTimeout(() => void this.reconcileNoticed(), NOTICE_DELAY_MS);
  }

  /**
   * Reconciles the accounts noticed so far now instead of when the timer fires (a one-shot client
   * about to close: Messenger.flush()).
   */
  async reconcileNoticed(): Promise<void> {
    if (this.noticeTimer !== undefined) clearTimeout(this.noticeTimer);
    this.noticeTimer = undefined;
    const accounts = [...this.noticedAccounts.values()];
    this.noticedAccounts.clear();
    for (const account of accounts) await this.reconcile(account);
  }

  /** The verified devices of an account (this device's own account included). */
  async devicesOf(accountKey: Uint8Array, username: string): Promise<VerifiedDevice[]> {
    return verifiedDevices(accountKey, username, await this.session.gw.listDevices(accountKey));
  }

  /**
   * Brings the groups up to date with their members' device lists: every group when no account is
   * named, else the groups that account is in. Runs one pass at a time; failures are reported as
   * "error" events and the next pass tries again.
   */
  reconcile(accountKey?: Uint8Array): Promise<void> {
    const run = this.running.then(() => this.pass(accountKey));
    this.running = run.catch((error: unknown) => this.session.emit("error", error));
    return this.running;
  }

  /**
   * Schedules another pass for an account when fewer of its missing devices had a KeyPackage than
   * were missing (a new device publishes its KeyPackages just after the gateway announced it), with
   * backoff and a bounded number of attempts; forgets the account once all were claimed.
   */
  private retryIfShort(accountKey: Uint8Array, claimed: number, wanted: number): void {
    const hex = toHex(accountKey);
    const entry = this.retries.get(hex);
    if (claimed >= wanted) {
      if (entry?.timer === undefined) this.retries.delete(hex);
      return;
    }
    const attempts = entry?.attempts ?? 0;
    if (this.stopped || entry?.timer !== undefined || attempts >= RETRY_ATTEMPTS) return;
    const next: { attempts: number; timer?: ReturnType<typeof setTimeout> } = { attempts: attempts + 1 };
    next.timer = setTimeout(
      () => {
        next.timer = undefined;
        void this.reconcile(accountKey);
      },
      RETRY_BASE_MS * 2 ** attempts,
    );
    this.retries.set(hex, next);
  }

  /** Cancels the notice timer and scheduled retries (the messenger is closing). */
  stop(): void {
    this.stopped = true;
    if (this.noticeTimer !== undefined) clearTimeout(this.noticeTimer);
    this.noticeTimer = undefined;
    for (const entry of this.retries.values()) clearTimeout(entry.timer);
    this.retries.clear();
  }

  /** Resolves once the passes started so far are done (their failures were reported as events). */
  idle(): Promise<void> {
    return this.running;
  }

  private async pass(accountKey?: Uint8Array): Promise<void> {
    if (!this.session.connected) return;
    this.lists = new Map();
    for (const group of await this.session.store.listGroups()) {
      if (group.leftAtMs !== undefined) continue;
      const state = this.session.stateOf(group);
      if (state.groupActiveState.kind !== "active") continue;
      if (accountKey && !members(state).some((m) => m.accountKey && bytesEqual(m.accountKey, accountKey))) {
        continue;
      }
      await this.reconcileGroup(group.id);
    }
  }

  async drift(state: ClientState): Promise<DeviceDrift> {
    const leaves = members(state);
    const drift: DeviceDrift = { missing: [], revokedLeaves: [] };
    for (const [hex, { accountKey, username }] of memberAccounts(leaves)) {
      let list = this.lists.get(hex);
      if (!list) this.lists.set(hex, (list = this.devicesOf(accountKey, username)));
      const devices = await list;
      const present = new Set(leaves.map((l) => toHex(l.signatureKey)));
      const missing = devices.filter((d) => !d.revoked && !present.has(toHex(d.deviceKey)));
      if (missing.length > 0)
        drift.missing.push({ username, accountKey, deviceKeys: missing.map((d) => d.deviceKey) });
      const revoked = new Set(devices.filter((d) => d.revoked).map((d) => toHex(d.deviceKey)));
      for (const leaf of leaves)
        if (revoked.has(toHex(leaf.signatureKey))) drift.revokedLeaves.push(leaf.leafIndex);
    }
    return drift;
  }

  /** One commit that adds the missing devices and removes revoked ones; nothing when there is neither. */
  async reconcileGroup(groupId: string): Promise<void> {
    const current = await this.session.groupState(groupId);
    if (!current) return;
    const before = await this.drift(current.state);
    if (before.missing.length === 0 && before.revokedLeaves.length === 0) return;
    // Claimed once: a rebuild after a lost epoch reuses them, and a device added meanwhile by someone
    // else is simply left out of the rebuilt commit.
    const claimed = new Map<string, { keyPackage: KeyPackage; recipient: WelcomeRecipient }>();
    for (const { username, accountKey, deviceKeys } of before.missing) {
      const got = await claimAccountKeyPackages(this.session, username, accountKey, deviceKeys).catch(
        (error: unknown) => {
          if (error instanceof QpqError && error.code === ErrorCode.NoKeyPackage) return undefined;
          throw error;
        },
      );
      // A device announces itself before its first KeyPackages are up: try it again shortly.
      this.retryIfShort(accountKey, got?.keyPackages.length ?? 0, deviceKeys.length);
      if (!got) continue;
      got.keyPackages.forEach((keyPackage, i) => {
        const recipient = got.welcomeTo[i]!;
        claimed.set(toHex(recipient.deviceKey), { keyPackage, recipient });
      });
    }
    const own = this.session.identity.signaturePublicKey;
    let added = false;
    try {
      await this.commits.commitChange(groupId, async (state) => {
        const drift = await this.drift(state);
        const wanted = new Set(drift.missing.flatMap((m) => m.deviceKeys.map(toHex)));
        const adds = [...claimed.entries()].filter(([hex]) => wanted.has(hex)).map(([, v]) => v);
        const ownLeaf = members(state).find((m) => bytesEqual(m.signatureKey, own))?.leafIndex;
        // A committer cannot remove its own leaf (RFC 9420 12.2); another member will.
        const removes = drift.revokedLeaves.filter((leaf) => leaf !== ownLeaf);
        if (adds.length === 0 && removes.length === 0) throw new NothingToDo();
        added = adds.length > 0;
        const out = await commitProposals(state, this.session.impl, [
          ...adds.map((a) => ({ proposalType: "add" as const, add: { keyPackage: a.keyPackage } })),
          ...removes.map((leaf) => ({ proposalType: "remove" as const, remove: { removed: leaf } })),
        ]);
        return {
          commit: out.commit,
          welcome: out.welcome,
          newState: out.state,
          // Devices of accounts already in the channel: its membership does not change.
          added: [],
          removed: [],
          welcomeTo: adds.map((a) => a.recipient),
        };
      });
    } catch (error) {
      if (error instanceof NothingToDo) return;
      throw error;
    }
    if (added) await this.onAdded(groupId);
  }
}

/** This account's devices, for the device list of the app and the CLI. */
export interface OwnDevice extends VerifiedDevice {
  /** The device this messenger runs on. */
  current: boolean;
  /** SHA-256 of the device key, for comparing device by device (the safety number covers the account). */
  fingerprint: string;
}

export class AccountDevices {
  constructor(
    private readonly session: ClientSession,
    private readonly sync: DeviceSync,
  ) {}

  async list(): Promise<OwnDevice[]> {
    const { account, identity } = this.session;
    const devices = await this.sync.devicesOf(account.publicKey, identity.username);
    return Promise.all(
      devices.map(async (d) => ({
        ...d,
        current: bytesEqual(d.deviceKey, identity.signaturePublicKey),
        fingerprint: await deviceFingerprint(d.deviceKey),
      })),
    );
  }

  /** Another user's devices that their account key vouches for (the per-device detail of a contact). */
  async of(username: string, accountKey: Uint8Array): Promise<(VerifiedDevice & { fingerprint: string })[]> {
    const devices = await this.sync.devicesOf(accountKey, username);
    return Promise.all(
      devices.map(async (d) => ({ ...d, fingerprint: await deviceFingerprint(d.deviceKey) })),
    );
  }

  async rename(deviceKey: Uint8Array, name: string): Promise<void> {
    await this.session.gw.renameDevice(deviceKey, name);
  }

  /**
   * Revokes a device: the gateway ends its sessions and deletes its queue at once, and this device
   * removes its leaves from every group right away rather than wait for another member to notice.
   */
  async revoke(deviceKey: Uint8Array): Promise<void> {
    if (bytesEqual(deviceKey, this.session.identity.signaturePublicKey)) {
      throw new QpqError(
        ErrorCode.InvalidArgument,
        "this is the device you are using: log out instead, or revoke it from another",
      );
    }
    await this.session.gw.revokeDevice(deviceKey);
    await this.sync.reconcile(this.session.account.publicKey);
  }
}

/** Hex SHA-256 of a device key in groups of four, as the device list shows it. */
export async function deviceFingerprint(deviceKey: Uint8Array): Promise<string> {
  const digest = toHex(await sha256(deviceKey)).slice(0, 32);
  return digest.match(/.{4}/g)!.join(" ");
}
