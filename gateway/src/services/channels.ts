/**
 * Channels, each following one MLS group (a conversation of two is a group of two), and sealed-sender
 * delivery into a channel (authorized by the epoch's delivery token instead of a session).
 */
import { randomBytes } from "node:crypto";
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { constantTimeEqual, toHex } from "@qpq/shared/bytes";
import { checkEpoch, groupFraming, sha256 } from "../channels/groupDelivery.ts";
import { FramingError, parseMlsFraming, WireFormat, type MlsFraming } from "../channels/mlsFraming.ts";
import type { AuthenticatedSession, Handler, Services } from "./context.ts";
import { IDENTITY_KEY_BYTES, requireLength, requireSession } from "./guards.ts";
import { addressKey, sessionKey } from "./throttle.ts";
import { CHANNEL_ID_BYTES, maxDeliverablePayload } from "../delivery/frameBudget.ts";
import type { Limits } from "../config.ts";

const TOKEN_BYTES = 32;
const MAX_GROUP_ID_BYTES = 255;

function newChannelId(): Uint8Array {
  return new Uint8Array(randomBytes(CHANNEL_ID_BYTES));
}

/** Channels are never deleted: without a limit one session could grow the store without bound. */
function throttleCreate(services: Services, session: AuthenticatedSession): void {
  services.throttle.take(
    [
      {
        key: `channel-create:${sessionKey(session.tokenHash)}`,
        rule: services.config.limits.channelCreatePerSession,
      },
    ],
    "channel creation",
  );
}

export const createChannel: Handler<"createChannel"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  if (req.groupId.length === 0 || req.groupId.length > MAX_GROUP_ID_BYTES) {
    throw new QpqError(ErrorCode.InvalidArgument, `groupId must be 1-${MAX_GROUP_ID_BYTES} bytes`);
  }
  if (req.tokenHash.length !== 0 && req.tokenHash.length !== TOKEN_BYTES) {
    throw new QpqError(ErrorCode.InvalidArgument, `tokenHash must be empty or ${TOKEN_BYTES} bytes`);
  }
  const limit = services.config.limits.maxGroupMembers;
  // Before any lookup: a long list would otherwise cost one store query per entry.
  if (req.members.length > limit) {
    throw new QpqError(ErrorCode.InvalidArgument, `a group channel has at most ${limit} members`);
  }
  throttleCreate(services, session);
  const members = new Map<string, Uint8Array>([[toHex(session.identityKey), session.identityKey]]);
  for (const key of req.members) {
    requireLength("member", key, IDENTITY_KEY_BYTES);
    if (!(await services.store.getUserByIdentity(key))) {
      throw new QpqError(ErrorCode.UnknownRecipient, "a member's identity key belongs to no user");
    }
    members.set(toHex(key), key);
  }
  if (members.size > limit) {
    throw new QpqError(ErrorCode.InvalidArgument, `a group channel has at most ${limit} members`);
  }
  const channelId = newChannelId();
  const created = await services.store.createChannel({
    channelId,
    groupId: req.groupId,
    members: [...members.values()],
    epoch: req.epoch,
    tokenHash: req.tokenHash,
    createdAtMs: services.now(),
  });
  if (!created) throw new QpqError(ErrorCode.ChannelForbidden, "this group already has a channel");
  return { channelId };
};

/**
 * Needs no session: the delivery token proves membership of the channel for the payload's epoch
 * without saying which member sent. Nothing about the sender is looked up or stored.
 */
export const sealedEnqueue: Handler<"sealedEnqueue"> = async (req, conn, services) => {
  // Charged for refused attempts too: probing channel ids and tokens costs the same as sending.
  services.throttle.take(
    [{ key: `sealed:${addressKey(conn.remoteAddress)}`, rule: services.config.limits.sealedPerAddress }],
    "sealed enqueue",
  );
  const channelId = requireLength("channelId", req.channelId, CHANNEL_ID_BYTES);
  const token = requireLength("deliveryToken", req.deliveryToken, TOKEN_BYTES);
  checkPayloadSize(req.payload, services.config.limits);
  // Everything about the channel (whether it exists, its group, its epoch) is checked only after the
  // token: until then the caller is a stranger and gets the same answer for any refused channel.
  const framing = sealedFraming(req.payload);
  // Both lookups every time, so the work done does not depend on which check fails either.
  const expected = await services.store.getTokenHash(channelId, framing.epoch);
  const channel = await services.store.getChannel(channelId);
  const tokenOk = constantTimeEqual(expected ?? new Uint8Array(TOKEN_BYTES), sha256(token));
  if (!expected || !channel || !tokenOk) {
    throw new QpqError(ErrorCode.ChannelForbidden, "no group channel with this id and delivery token");
  }
  groupFraming(channel, req.payload);
  checkEpoch(channel, framing.epoch, services.config.channels.epochWindow);
  const members = await services.store.getChannelMembers(channelId);
  // Every device, the sender's included: leaving the sender out would tell the gateway who sent.
  const devices = await services.devices.recipients(members);
  await services.delivery.fanOut(devices, channelId, req.payload);
  return { recipients: devices.length };
};

/** The epoch of a sealed payload, refusing (from the payload alone) anything but an application PrivateMessage. */
function sealedFraming(payload: Uint8Array): { epoch: number } {
  let framing: MlsFraming;
  try {
    framing = parseMlsFraming(payload);
  } catch (error) {
    const reason = error instanceof FramingError ? error.message : "unreadable";
    throw new QpqError(ErrorCode.InvalidArgument, `payload is not an MLS message: ${reason}`);
  }
  if (
    framing.kind !== "group" ||
    framing.contentType !== "application" ||
    framing.wireFormat !== WireFormat.privateMessage
  ) {
    // Commits change membership and must be attributable to a member; proposals likewise.
    throw new QpqError(ErrorCode.InvalidArgument, "only application messages may be sent sealed");
  }
  return framing;
}

/**
 * Refuses a payload that is empty, above the configured maximum, or too large to ever be delivered in
 * one frame (loadConfig keeps the maximum below that, but limits built in code skip loadConfig).
 */
export function checkPayloadSize(
  payload: Uint8Array,
  limits: Pick<Limits, "maxPayloadBytes" | "maxFrameBytes">,
): void {
  const max = Math.min(limits.maxPayloadBytes, maxDeliverablePayload(limits.maxFrameBytes));
  if (payload.length === 0) throw new QpqError(ErrorCode.InvalidArgument, "payload is empty");
  if (payload.length > max) {
    throw new QpqError(ErrorCode.PayloadTooLarge, `payload is ${payload.length} bytes; the limit is ${max}`);
  }
}
