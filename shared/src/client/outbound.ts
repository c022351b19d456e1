/**
 * The send path of application messages: encrypt (padded to a size bucket) and persist the advanced
 * ratchet, optionally wait a random moment (jitter), then upload once into the conversation's group
 * channel, where the gateway fans it out. With sealed sender configured the upload goes through a
 * separate connection that never logged in, authorized by the epoch's delivery token instead of our
 * identity (docs/security/sealed-sender.md says what that does and does not hide).
 */
import type { ClientState } from "ts-mls";
import { DEFAULT_PADDING, deliveryToken, encryptApplication, type PaddingScheme } from "../mls/index.ts";
import { ErrorCode, QpqError } from "../protocol/index.ts";
import { fromHex } from "../util/bytes.ts";
import type { GatewayClient } from "./gatewayClient.ts";
import type { ClientSession } from "./session.ts";

export interface OutboundOptions {
  /** Size buckets for application messages (on by default: 256-byte blocks, Padmé above 4 KiB). */
  padding?: PaddingScheme;
  /** Upper bound of a uniformly random delay before each upload, in ms. 0 (default) = none. */
  sendJitterMs?: number;
  /** Opens the anonymous connection for sealed sending; undefined (default) = identity-bound uploads. */
  sealedConnection?: () => Promise<GatewayClient>;
  random?: () => number;
}

export interface SealedMessage {
  message: Uint8Array;
  channelId: string;
  /** The delivery token of the epoch the message was encrypted in (sealed sending only). */
  token: Uint8Array | undefined;
  /** Legacy conversations without a channel: the members to send one copy each. */
  state: ClientState;
}

export class Outbound {
  private anonymous: Promise<GatewayClient> | undefined;
  /** With jitter, uploads wait in turn so a short delay cannot overtake a long one: order is kept. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly session: ClientSession,
    private readonly options: OutboundOptions = {},
  ) {}

  /** Encrypts for the group and persists the advanced ratchet; the caller holds the session lock. */
  async seal(groupId: string, plaintext: Uint8Array): Promise<SealedMessage> {
    const current = await this.session.groupState(groupId);
    if (!current) throw new QpqError(ErrorCode.InvalidArgument, "no such conversation");
    const padding = this.options.padding ?? DEFAULT_PADDING;
    const sealed = await encryptApplication(current.state, this.session.impl, plaintext, padding);
    // The ratchet moved: persist before sending, so a crash cannot make us reuse a message key.
    await this.session.store.putGroup(this.session.groupRecord(current.record, groupId, sealed.state));
    const sealedSending = this.options.sealedConnection !== undefined;
    return {
      message: sealed.message,
      channelId: current.record.channelId,
      token: sealedSending ? await deliveryToken(sealed.state, this.session.impl) : undefined,
      state: sealed.state,
    };
  }

  send(sealed: SealedMessage): Promise<void> {
    if ((this.options.sendJitterMs ?? 0) <= 0) return this.upload(sealed);
    const run = this.queue.then(async () => {
      await this.jitter();
      await this.upload(sealed);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async upload(sealed: SealedMessage): Promise<void> {
    const { gw } = this.session;
    const channelId = fromHex(sealed.channelId);
    if (sealed.token !== undefined) {
      await (await this.anonymousConnection()).sealedEnqueue(channelId, sealed.token, sealed.message);
      return;
    }
    await gw.enqueueToChannel(channelId, sealed.message);
  }

  close(): void {
    const anonymous = this.anonymous;
    this.anonymous = undefined;
    void anonymous?.then((c) => c.close()).catch(() => undefined);
  }

  private anonymousConnection(): Promise<GatewayClient> {
    const open = this.options.sealedConnection;
    if (!open) throw new QpqError(ErrorCode.InvalidArgument, "sealed sending is not configured");
    if (!this.anonymous) {
      const connecting = open();
      this.anonymous = connecting;
      // A dead connection is replaced at the next send.
      connecting
        .then((c) => c.ended)
        .catch(() => undefined)
        .finally(() => {
          if (this.anonymous === connecting) this.anonymous = undefined;
        });
    }
    return this.anonymous;
  }

  private async jitter(): Promise<void> {
    const max = this.options.sendJitterMs ?? 0;
    if (max <= 0) return;
    const ms = Math.floor((this.options.random ?? Math.random)() * max);
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
}
