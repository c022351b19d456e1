/**
 * Store-and-forward of opaque ciphertexts: enqueue to a recipient or into a channel, fetch and
 * acknowledge your own queue, subscribe to pushes. The gateway never looks inside a direct payload;
 * for group channels it reads only the MLS framing (channels/groupDelivery.ts).
 */
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { bytesEqual } from "@qpq/shared/bytes";
import { enqueueToGroup } from "../channels/groupDelivery.ts";
import type { ChannelRecord } from "../store/types.ts";
import { CHANNEL_ID_BYTES, checkPayloadSize } from "./channels.ts";
import type { Handler, Services } from "./context.ts";
import { IDENTITY_KEY_BYTES, requireLength, requireSession } from "./guards.ts";

/**
 * The channel named by a request, after the authorization check: undefined for the legacy path
 * (empty id, or with QPQ_REQUIRE_CHANNEL_AUTHZ=off an id that names no channel: an unchecked label).
 */
async function authorizeChannel(
  services: Services,
  channelId: Uint8Array,
  caller: Uint8Array,
): Promise<ChannelRecord | undefined> {
  const policy = services.config.channels;
  if (channelId.length === 0) {
    if (policy.requireChannels)
      throw new QpqError(ErrorCode.ChannelForbidden, "this gateway requires a channel");
    return undefined;
  }
  if (channelId.length !== CHANNEL_ID_BYTES) {
    throw new QpqError(ErrorCode.InvalidArgument, `channelId must be empty or ${CHANNEL_ID_BYTES} bytes`);
  }
  const channel = await services.store.getChannel(channelId);
  // Off only turns direct channel ids back into unchecked labels: old clients never used group
  // channels, and without this check anyone could commit into one and add themselves.
  if (!policy.requireAuthz && channel?.kind !== "group") return channel;
  // Unknown and foreign channels get the same answer: the caller learns nothing about who talks.
  if (!channel || !(await services.store.isChannelMember(channelId, caller))) {
    throw new QpqError(ErrorCode.ChannelForbidden, "not a member of this channel");
  }
  return channel;
}

export const enqueue: Handler<"enqueue"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  checkPayloadSize(req.payload, services.config.limits.maxPayloadBytes);
  const channel = await authorizeChannel(services, req.channelId, session.identityKey);
  if (channel?.kind === "group") {
    const recipientKey = req.recipientKey;
    if (recipientKey.length !== 0) requireLength("recipientKey", recipientKey, IDENTITY_KEY_BYTES);
    const seq = await enqueueToGroup(services, channel, session.identityKey, recipientKey, req.payload, {
      add: req.addMembers ?? [],
      remove: req.removeMembers ?? [],
      nextTokenHash: req.nextTokenHash ?? new Uint8Array(0),
    });
    return { seq };
  }
  if (req.addMembers?.length || req.removeMembers?.length || req.nextTokenHash?.length) {
    throw new QpqError(ErrorCode.InvalidArgument, "membership changes belong to group channels");
  }
  const recipientKey = requireLength("recipientKey", req.recipientKey, IDENTITY_KEY_BYTES);
  if (channel && services.config.channels.requireAuthz) {
    const members = await services.store.getChannelMembers(channel.channelId);
    const other = members.find((m) => !bytesEqual(m, session.identityKey));
    if (!other || !bytesEqual(other, recipientKey)) {
      throw new QpqError(ErrorCode.ChannelForbidden, "the recipient is not the other member of this channel");
    }
  }
  if (!(await services.store.getUserByIdentity(recipientKey))) {
    throw new QpqError(ErrorCode.UnknownRecipient, "no user has this identity key");
  }
  const seq = await services.delivery.enqueue(recipientKey, req.channelId, req.payload);
  return { seq };
};

export const fetch: Handler<"fetch"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  const channelId = await channelFilter(services, req.channelId, session.identityKey);
  const page = services.config.limits.maxFetchPage;
  const limit = req.limit === 0 ? page : Math.min(req.limit, page);
  // One extra row tells whether more wait, without a second query.
  const rows = await services.delivery.fetch(session.identityKey, req.afterSeq, limit + 1, channelId);
  const more = rows.length > limit;
  return { envelopes: more ? rows.slice(0, limit) : rows, more };
};

export const ack: Handler<"ack"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  const removed = await services.delivery.ack(session.identityKey, req.upToSeq);
  return { removed };
};

export const subscribe: Handler<"subscribe"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  const channelId = await channelFilter(services, req.channelId, session.identityKey);
  const headSeq = await services.delivery.headSeq(session.identityKey);
  conn.subscribe(session.identityKey, req.afterSeq, channelId);
  return { headSeq };
};

/** A fetch or subscribe narrowed to one channel: only a member may ask (it is still their own queue). */
async function channelFilter(
  services: Services,
  channelId: Uint8Array | undefined,
  caller: Uint8Array,
): Promise<Uint8Array | undefined> {
  if (channelId === undefined || channelId.length === 0) return undefined;
  await authorizeChannel(services, channelId, caller);
  return channelId;
}
