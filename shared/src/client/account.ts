/**
 * An account's keys on this device (docs/cryptography/devices.md): registering makes the account key
 * and this device's own key; logging in on a device that holds nothing opens the account bundle with
 * the password's export key and makes a new, certified device. The account key is what the directory
 * and safety numbers know; each device's own key is its MLS leaf.
 */
import type { CiphersuiteImpl, CiphersuiteName } from "ts-mls";
import { DEFAULT_SUITE, suiteImpl } from "../mls/index.ts";
import { openAccountBundle, sealAccountBundle } from "../crypto/accountBundle.ts";
import { signDeviceCertificate } from "../crypto/deviceCertificate.ts";
import { createIdentity, encodeDeviceCredentialIdentity, type Identity } from "../mls/index.ts";
import { ErrorCode, QpqError } from "../protocol/index.ts";
import { bytesEqual } from "../util/bytes.ts";
import type { GatewayClient, KeyStretching, LoginResult } from "./gatewayClient.ts";
import type { AccountKeys } from "./session.ts";
import type { AccountRecord, ClientStore } from "./storage.ts";

export const DEFAULT_DEVICE_NAME = "this device";

/** A new device of the account: its own key pair, certified by the account key. */
export async function newDeviceRecord(
  username: string,
  account: AccountKeys,
  impl: CiphersuiteImpl,
  suite: CiphersuiteName,
  nowMs: number,
  deviceName = DEFAULT_DEVICE_NAME,
): Promise<AccountRecord> {
  const device = await createIdentity(username, impl);
  const certificate = await signDeviceCertificate(
    (message) => impl.signature.sign(account.privateKey, message),
    username,
    device.signaturePublicKey,
    nowMs,
  );
  return {
    username,
    signaturePublicKey: device.signaturePublicKey,
    signaturePrivateKey: device.signaturePrivateKey,
    accountPublicKey: account.publicKey,
    accountPrivateKey: account.privateKey,
    deviceCertificate: { issuedAtMs: certificate.issuedAtMs, signature: certificate.signature },
    deviceName,
    suite,
    createdAtMs: nowMs,
  };
}

/** The account key pair a device record holds (an original device's is its own leaf key pair). */
export function accountKeysOf(record: AccountRecord): AccountKeys {
  return {
    publicKey: record.accountPublicKey ?? record.signaturePublicKey,
    privateKey: record.accountPrivateKey ?? record.signaturePrivateKey,
  };
}

/** The MLS identity of the device a record describes, with its certified credential when it has one. */
export function deviceIdentity(record: AccountRecord): Identity {
  const identity: Identity = {
    username: record.username,
    signaturePublicKey: record.signaturePublicKey,
    signaturePrivateKey: record.signaturePrivateKey,
  };
  const certificate = record.deviceCertificate;
  if (certificate) {
    identity.credentialIdentity = encodeDeviceCredentialIdentity(
      record.username,
      accountKeysOf(record).publicKey,
      certificate.issuedAtMs,
      certificate.signature,
    );
  }
  return identity;
}

/** Seals the account key pair under the login's export key and stores it at the gateway. */
export async function uploadAccountBundle(
  gw: GatewayClient,
  login: LoginResult,
  account: AccountKeys,
): Promise<void> {
  await gw.putAccountBundle(await sealAccountBundle(login.exportKey, login.session.username, account));
}

/**
 * The account key pair from the gateway's bundle, for a device that holds no keys yet. E007 when the
 * account has no bundle (registered before devices existed: its one device must log in once first),
 * E030 when it does not open or is not the account's key.
 */
export async function fetchAccountKeys(gw: GatewayClient, login: LoginResult): Promise<AccountKeys> {
  const bundle = await gw.getAccountBundle();
  if (!bundle) {
    throw new QpqError(
      ErrorCode.InvalidArgument,
      "this account's keys are only on the device where it was registered: log in there once, then this device can join",
    );
  }
  const account = await openAccountBundle(login.exportKey, login.session.username, bundle);
  if (!bytesEqual(account.publicKey, login.session.identityKey)) {
    throw new QpqError(
      ErrorCode.StorageUnreadable,
      "the account bundle holds another key than the account's",
    );
  }
  return account;
}

/** A device store, or how to open it once the OPAQUE export key is known (encrypted stores). */
export type StoreSource = ClientStore | ((login: LoginResult) => Promise<ClientStore>);

export interface AccountOptions {
  store: StoreSource;
  suite?: CiphersuiteName;
  keyStretching?: KeyStretching;
  now?: () => number;
  deviceName?: string;
}

function openStore(source: StoreSource, login: LoginResult): Promise<ClientStore> {
  return typeof source === "function" ? source(login) : Promise.resolve(source);
}

/**
 * Registers the account (its key made here, the password through OPAQUE), logs in, leaves the
 * account key sealed under the password at the gateway, and makes this device its first device.
 * The store opens only after login: its at-rest key derives from the export key.
 */
export async function registerAccount(
  gw: GatewayClient,
  username: string,
  password: string,
  opts: AccountOptions,
): Promise<{ login: LoginResult; store: ClientStore }> {
  const suite = opts.suite ?? DEFAULT_SUITE;
  const impl = await suiteImpl(suite);
  const made = await createIdentity(username, impl);
  const account = { publicKey: made.signaturePublicKey, privateKey: made.signaturePrivateKey };
  await gw.register(username, password, account.publicKey, opts.keyStretching);
  const login = await gw.login(username, password, opts.keyStretching);
  await uploadAccountBundle(gw, login, account);
  const store = await openStore(opts.store, login);
  if (!(await store.getAccount())) {
    const now = (opts.now ?? Date.now)();
    await store.putAccount(await newDeviceRecord(username, account, impl, suite, now, opts.deviceName));
  }
  return { login, store };
}

/**
 * Logs in. On a device that holds nothing for the account yet, the account key comes from the bundle
 * and this device becomes a new device of the account (isNew). An account from before devices has
 * no bundle: its one device seals the account key at this login, so a second device can join later.
 */
export async function loginAccount(
  gw: GatewayClient,
  username: string,
  password: string,
  opts: AccountOptions,
): Promise<{ login: LoginResult; store: ClientStore; isNew: boolean }> {
  const login = await gw.login(username, password, opts.keyStretching);
  const store = await openStore(opts.store, login);
  const existing = await store.getAccount();
  if (!existing) {
    const account = await fetchAccountKeys(gw, login);
    const suite = opts.suite ?? DEFAULT_SUITE;
    const now = (opts.now ?? Date.now)();
    const impl = await suiteImpl(suite);
    const name = login.session.username;
    await store.putAccount(await newDeviceRecord(name, account, impl, suite, now, opts.deviceName));
    return { login, store, isNew: true };
  }
  if (login.exportKey.length > 0 && !(await gw.getAccountBundle())) {
    await uploadAccountBundle(gw, login, accountKeysOf(existing));
  }
  return { login, store, isNew: false };
}
