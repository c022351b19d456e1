/**
 * Store-and-forward of opaque ciphertexts: enqueue to a recipient, fetch and acknowledge your own
 * queue, subscribe to pushes. The gateway never looks inside a payload.
 */
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import type { Handler } from "./context.ts";
import { IDENTITY_KEY_BYTES, requireLength, requireSession } from "./guards.ts";

/** Channel ids are empty (no channel) or 16 random bytes (DM channels, a later protocol step). */
const CHANNEL_ID_BYTES = 16;

export const enqueue: Handler<"enqueue"> = async (req, conn, services) => {
  requireSession(conn, services);
  const recipientKey = requireLength("recipientKey", req.recipientKey, IDENTITY_KEY_BYTES);
  if (req.channelId.length !== 0 && req.channelId.length !== CHANNEL_ID_BYTES) {
    throw new QpqError(ErrorCode.InvalidArgument, `channelId must be empty or ${CHANNEL_ID_BYTES} bytes`);
  }
  const max = services.config.limits.maxPayloadBytes;
  if (req.payload.length === 0) throw new QpqError(ErrorCode.InvalidArgument, "payload is empty");
  if (req.payload.length > max) {
    throw new QpqError(
      ErrorCode.PayloadTooLarge,
      `payload is ${req.payload.length} bytes; the limit is ${max}`,
    );
  }
  if (!(await services.store.getUserByIdentity(recipientKey))) {
    throw new QpqError(ErrorCode.UnknownRecipient, "no user has this identity key");
  }
  const seq = await services.delivery.enqueue(recipientKey, req.channelId, req.payload);
  return { seq };
};

export const fetch: Handler<"fetch"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  const page = services.config.limits.maxFetchPage;
  const limit = req.limit === 0 ? page : Math.min(req.limit, page);
  // One extra row tells whether more wait, without a second query.
  const rows = await services.delivery.fetch(session.identityKey, req.afterSeq, limit + 1);
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
  const headSeq = await services.delivery.headSeq(session.identityKey);
  conn.subscribe(session.identityKey, req.afterSeq);
  return { headSeq };
};
