/**
 * The gateway's operations as typed methods, including the client half of OPAQUE: the password stays
 * in this function's scope and only OPAQUE messages leave the device. UI-free: the same code runs in
 * the browser, the CLI and tests.
 */
import * as opaque from "@serenity-kit/opaque";
import {
  ErrorCode,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  QpqError,
  type BackupEntry,
  type CommitClaims,
  type DeviceInfo,
  type DeviceKeyPackage,
  type Envelope,
  type HelloOk,
  type Push,
  type SessionInfo,
} from "../protocol/index.ts";
import { RpcClient } from "../rpc/index.ts";
import type { WebTransportLike } from "../transport/webtransport.ts";
import { fromBase64Url, toBase64Url } from "../util/bytes.ts";

/**
 * Argon2id parameters for OPAQUE key stretching (serenity-kit presets). The default is
 * "memory-constrained": 64 MiB, 3 passes, 4 lanes, RFC 9106's recommendation for machines that cannot
 * spare gigabytes, which includes every phone and most browser tabs. "rfc-draft-recommended" is
 * RFC 9106's first choice (about 2 GiB, 1 pass): stronger, but seconds per login and too much memory
 * for a web page. Registration and login must use the same preset.
 */
export type KeyStretching = "rfc-draft-recommended" | "memory-constrained";

export interface LoginResult {
  session: SessionInfo;
  sessionToken: Uint8Array;
  /**
   * OPAQUE export key: a secret only the password holder can derive, identical at every login. The
   * client derives its at-rest encryption key from it; it never leaves the device.
   */
  exportKey: Uint8Array;
}

export class GatewayClient {
  private constructor(
    private readonly rpc: RpcClient,
    readonly hello: HelloOk,
    private readonly wt: WebTransportLike,
  ) {}

  /** Opens the RPC stream and negotiates the protocol version. */
  static async connect(wt: WebTransportLike, clientName = "qpq-core"): Promise<GatewayClient> {
    await wt.ready;
    const rpc = RpcClient.open(wt);
    try {
      const hello = await rpc.call("hello", {
        minVersion: MIN_PROTOCOL_VERSION,
        maxVersion: PROTOCOL_VERSION,
        client: clientName,
      });
      if (hello.type !== "ok") {
        const { reason, serverMinVersion, serverMaxVersion } = hello.incompatible;
        throw new QpqError(
          ErrorCode.VersionIncompatible,
          reason === "clientTooOld"
            ? `this app is too old for the gateway (it speaks ${serverMinVersion}-${serverMaxVersion}); reload to update`
            : `the gateway is too old for this app (it speaks ${serverMinVersion}-${serverMaxVersion})`,
        );
      }
      return new GatewayClient(rpc, hello.ok, wt);
    } catch (error) {
      rpc.close();
      wt.close();
      throw error;
    }
  }

  /** Resolves when the underlying session ends for any reason, with the transport's close info. */
  get closed(): Promise<unknown> {
    return this.wt.closed;
  }

  /**
   * Resolves once no more calls can succeed: the session closed, or the RPC layer ended (close(), a
   * failed request stream). A browser may leave WebTransport's `closed` pending for a long time after
   * close() on a session whose peer vanished; whoever waits to reconnect must not wait with it.
   */
  get ended(): Promise<unknown> {
    return Promise.race([this.wt.closed.catch(() => undefined), this.rpc.closed]);
  }

  async register(
    username: string,
    password: string,
    identityKey: Uint8Array,
    keyStretching: KeyStretching = "memory-constrained",
  ): Promise<void> {
    await opaque.ready;
    const start = opaque.client.startRegistration({ password });
    const { registrationResponse } = await this.rpc.call("registerStart", {
      username,
      registrationRequest: fromBase64Url(start.registrationRequest),
    });
    const finish = opaque.client.finishRegistration({
      password,
      clientRegistrationState: start.clientRegistrationState,
      registrationResponse: toBase64Url(registrationResponse),
      keyStretching,
    });
    await this.rpc.call("registerFinish", {
      username,
      registrationRecord: fromBase64Url(finish.registrationRecord),
      identityKey,
    });
  }

  /**
   * Wrong password and unknown user fail identically (E008): the gateway answers an unknown user
   * from a dummy record, so this side cannot tell them apart either.
   */
  async login(
    username: string,
    password: string,
    keyStretching: KeyStretching = "memory-constrained",
  ): Promise<LoginResult> {
    await opaque.ready;
    const start = opaque.client.startLogin({ password });
    const { loginId, loginResponse } = await this.rpc.call("loginStart", {
      username,
      startLoginRequest: fromBase64Url(start.startLoginRequest),
    });
    const finish = opaque.client.finishLogin({
      clientLoginState: start.clientLoginState,
      loginResponse: toBase64Url(loginResponse),
      password,
      keyStretching,
    });
    if (!finish) throw new QpqError(ErrorCode.AuthFailed, "wrong username or password");
    const { sessionToken, session } = await this.rpc.call("loginFinish", {
      loginId,
      finishLoginRequest: fromBase64Url(finish.finishLoginRequest),
    });
    if (!session) throw new QpqError(ErrorCode.MalformedFrame, "loginFinish answered without a session");
    return { session, sessionToken, exportKey: fromBase64Url(finish.exportKey) };
  }

  resumeSession(sessionToken: Uint8Array): Promise<SessionInfo> {
    return this.rpc.call("resumeSession", { sessionToken });
  }

  async logout(): Promise<void> {
    await this.rpc.call("logout", undefined);
  }

  async publishKeyPackages(keyPackages: Uint8Array[], lastResort?: Uint8Array): Promise<number> {
    const { available } = await this.rpc.call("publishKeyPackages", {
      keyPackages,
      lastResort: lastResort ?? new Uint8Array(0),
    });
    return available;
  }

  fetchKeyPackage(identityKey: Uint8Array): Promise<{ keyPackage: Uint8Array; lastResort: boolean }> {
    return this.rpc.call("fetchKeyPackage", { identityKey });
  }

  async publishHybridKey(publicKey: Uint8Array, signature: Uint8Array): Promise<void> {
    await this.rpc.call("publishHybridKey", { publicKey, signature });
  }

  fetchHybridKey(identityKey: Uint8Array): Promise<{ publicKey: Uint8Array; signature: Uint8Array }> {
    return this.rpc.call("fetchHybridKey", { identityKey });
  }

  async resolveUser(username: string): Promise<Uint8Array> {
    return (await this.rpc.call("resolveUser", { username })).identityKey;
  }

  /**
   * Uploads into a channel: with no recipient the gateway fans the payload out to every other member;
   * a commit carries the membership change it makes and the next epoch's token hash. Returns the first
   * recipient's seq (0 for a commit the gateway had already accepted).
   */
  async enqueueToChannel(
    channelId: Uint8Array,
    payload: Uint8Array,
    opts: { recipientKey?: Uint8Array; commit?: CommitClaims } = {},
  ): Promise<number> {
    const { recipientKey = new Uint8Array(0), commit } = opts;
    return (await this.rpc.call("enqueue", { channelId, payload, recipientKey, commit })).seq;
  }

  /** A channel for an MLS group, with the members besides the caller and the epoch's token hash. */
  async createChannel(
    groupId: Uint8Array,
    members: Uint8Array[],
    epoch: number,
    tokenHash: Uint8Array = new Uint8Array(0),
  ): Promise<Uint8Array> {
    return (await this.rpc.call("createChannel", { groupId, members, epoch, tokenHash })).channelId;
  }

  /**
   * Sends an application message without naming the sender: the delivery token proves membership.
   * Works on a connection that never logged in. Returns the number of queues written (every member's).
   */
  async sealedEnqueue(
    channelId: Uint8Array,
    deliveryToken: Uint8Array,
    payload: Uint8Array,
  ): Promise<number> {
    return (await this.rpc.call("sealedEnqueue", { channelId, deliveryToken, payload })).recipients;
  }

  /** The caller's queue after afterSeq (only one channel's envelopes when channelId is given). */
  fetch(
    afterSeq: number,
    limit = 0,
    channelId: Uint8Array = new Uint8Array(0),
  ): Promise<{ envelopes: Envelope[]; more: boolean }> {
    return this.rpc.call("fetch", { afterSeq, limit, channelId });
  }

  async ack(upToSeq: number): Promise<number> {
    return (await this.rpc.call("ack", { upToSeq })).removed;
  }

  /** Asks for pushes of envelopes after afterSeq; they arrive through onPush. */
  async subscribe(afterSeq: number, channelId: Uint8Array = new Uint8Array(0)): Promise<number> {
    return (await this.rpc.call("subscribe", { afterSeq, channelId })).headSeq;
  }

  /** Binds this session to a device of the account (docs/cryptography/devices.md); true when new. */
  async attachDevice(device: {
    deviceKey: Uint8Array;
    issuedAtMs: number;
    certificate: Uint8Array;
    name: string;
  }): Promise<boolean> {
    return (await this.rpc.call("attachDevice", device)).added;
  }

  async listDevices(identityKey: Uint8Array): Promise<DeviceInfo[]> {
    return (await this.rpc.call("listDevices", { identityKey })).devices;
  }

  async renameDevice(deviceKey: Uint8Array, name: string): Promise<void> {
    await this.rpc.call("renameDevice", { deviceKey, name });
  }

  async revokeDevice(deviceKey: Uint8Array): Promise<void> {
    await this.rpc.call("revokeDevice", { deviceKey });
  }

  async putAccountBundle(bundle: Uint8Array): Promise<void> {
    await this.rpc.call("putAccountBundle", { bundle });
  }

  /** The sealed account bundle, or undefined when the account stored none. */
  async getAccountBundle(): Promise<Uint8Array | undefined> {
    const { bundle } = await this.rpc.call("getAccountBundle", undefined);
    return bundle.length > 0 ? bundle : undefined;
  }

  putBackup(
    entries: { key: Uint8Array; ciphertext: Uint8Array }[],
  ): Promise<{ stored: number; usedBytes: number; limitBytes: number }> {
    return this.rpc.call("putBackup", { entries: entries.map((e) => ({ ...e, seq: 0 })) });
  }

  fetchBackup(afterSeq: number, limit = 0): Promise<{ entries: BackupEntry[]; more: boolean }> {
    return this.rpc.call("fetchBackup", { afterSeq, limit });
  }

  /** One KeyPackage per device of the account (only of deviceKeys when given), with certificates. */
  async fetchKeyPackages(
    identityKey: Uint8Array,
    deviceKeys: Uint8Array[] = [],
  ): Promise<DeviceKeyPackage[]> {
    return (await this.rpc.call("fetchKeyPackages", { identityKey, deviceKeys })).keyPackages;
  }

  onPush(handler: (push: Push) => void): void {
    this.rpc.onPush(handler);
  }

  health(timeoutMs?: number): Promise<{ status: string; version: number; uptimeMs: number }> {
    return this.rpc.call("health", undefined, timeoutMs === undefined ? undefined : { timeoutMs });
  }

  close(): void {
    this.rpc.close();
    this.wt.close({ closeCode: 0, reason: "client closed" });
  }
}
