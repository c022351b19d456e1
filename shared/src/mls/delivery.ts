/**
 * Sealed-sender helpers. The delivery token of an epoch is an MLS exporter secret (RFC 9420 section
 * 8.5): every member of that epoch can derive it, nobody else can, and it changes with every commit, so
 * a removed member's token dies with the epoch that removed them. The gateway stores only its SHA-256.
 */
import { mlsExporter, type CiphersuiteImpl, type ClientState, type MLSMessage } from "ts-mls";
import { decryptSenderData } from "ts-mls/privateMessage.js";
import { sha256 } from "@noble/hashes/sha2.js";

const LABEL = "qpq delivery token";
export const DELIVERY_TOKEN_BYTES = 32;

export function deliveryToken(state: ClientState, impl: CiphersuiteImpl): Promise<Uint8Array> {
  return mlsExporter(state.keySchedule.exporterSecret, LABEL, new Uint8Array(0), DELIVERY_TOKEN_BYTES, impl);
}

export function deliveryTokenHash(token: Uint8Array): Uint8Array {
  return sha256(token);
}

/**
 * True when an application message was sent by this member: a sealed message is fanned out to every
 * member, the sender included, because the gateway does not know who sent it. The sender data is
 * encrypted under the epoch's sender-data secret, which we hold for the current epoch and the
 * retained past ones.
 */
export async function isOwnApplicationMessage(
  state: ClientState,
  impl: CiphersuiteImpl,
  message: MLSMessage,
): Promise<boolean> {
  if (message.wireformat !== "mls_private_message") return false;
  const pm = message.privateMessage;
  if (pm.contentType !== "application") return false;
  const secret =
    pm.epoch === state.groupContext.epoch
      ? state.keySchedule.senderDataSecret
      : state.historicalReceiverData.get(pm.epoch)?.senderDataSecret;
  if (!secret) return false;
  try {
    const sender = await decryptSenderData(pm, secret, impl);
    return sender?.leafIndex === state.privatePath.leafIndex;
  } catch {
    return false;
  }
}
