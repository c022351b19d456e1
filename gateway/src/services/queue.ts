/**
 * Store-and-forward of opaque ciphertexts: enqueue into a channel, fetch and acknowledge your own
 * queue, subscribe to pushes. The gateway reads only a payload's MLS framing
 * (channels/groupDelivery.ts), never its content.
 */
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { enqueueToGroup } from "../channels/groupDelivery.ts";
import type { ChannelRecord } from "../store/types.ts";
import { CHANNEL_ID_BYTES } from "../delivery/frameBudget.ts";
import { checkPayloadSize } from "./channels.ts";
import type { Handler, Services } from "./context.ts";
import { requireDevice } from "./devices.ts";
import { IDENTITY_KEY_BYTES, requireLength } from "./guards.ts";

/**
 * The channel named by a request, after the authorization check. Unknown and foreign channels get the
 * same answer, so the caller learns nothing about who talks to whom.
 */
async function authorizeChannel(
  services: Services,
  channelId: Uint8Array,
  caller: Uint8Array,
): Promise<ChannelRecord> {
  requireLength("channelId", channelId, CHANNEL_ID_BYTES);
  const channel = await services.store.getChannel(channelId);
  if (!channel || !(await services.store.isChannelMember(channelId, caller))) {
    throw new QpqError(ErrorCode.ChannelForbidden, "not a member of this channel");
  }
  return channel;
}

export const enqueue: Handler<"enqueue"> = async (req, conn, services) => {
  const session = await requireDevice(conn, services);
  checkPayloadSize(req.payload, services.config.limits);
  const channel = await authorizeChannel(services, req.channelId, session.identityKey);
  if (req.recipientKey.length !== 0) requireLength("recipientKey", req.recipientKey, IDENTITY_KEY_BYTES);
  const sender = { account: session.identityKey, device: session.deviceKey };
  const seq = await enqueueToGroup(services, channel, sender, req.recipientKey, req.payload, {
    add: req.commit?.addMembers ?? [],
    remove: req.commit?.removeMembers ?? [],
    nextTokenHash: req.commit?.nextTokenHash ?? new Uint8Array(0),
  });
  return { seq };
};

// The queue read, acknowledged and subscribed to is the session's device's own.

export const fetch: Handler<"fetch"> = async (req, conn, services) => {
  const session = await requireDevice(conn, services);
  const channelId = await channelFilter(services, req.channelId, session.identityKey);
  const page = services.config.limits.maxFetchPage;
  const limit = req.limit === 0 ? page : Math.min(req.limit, page);
  return services.delivery.fetchPage(session.deviceKey, req.afterSeq, limit, channelId);
};

export const ack: Handler<"ack"> = async (req, conn, services) => {
  const session = await requireDevice(conn, services);
  const removed = await services.delivery.ack(session.deviceKey, req.upToSeq);
  return { removed };
};

export const subscribe: Handler<"subscribe"> = async (req, conn, services) => {
  const session = await requireDevice(conn, services);
  const channelId = await channelFilter(services, req.channelId, session.identityKey);
  const headSeq = await services.delivery.headSeq(session.deviceKey);
  conn.subscribe(session.deviceKey, req.afterSeq, channelId);
  await services.store.touchDevice(session.deviceKey, services.now());
  return { headSeq };
};

/** A fetch or subscribe narrowed to one channel: only a member may ask (it is still their own queue). */
async function channelFilter(
  services: Services,
  channelId: Uint8Array,
  caller: Uint8Array,
): Promise<Uint8Array | undefined> {
  if (channelId.length === 0) return undefined;
  await authorizeChannel(services, channelId, caller);
  return channelId;
}
