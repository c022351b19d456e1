/**
 * Delivery into a group channel: the gateway reads the MLS framing (group id, epoch, content type),
 * never the content, and enforces what it can check from there:
 *  - payloads of another group are refused (StaleEpoch),
 *  - one commit per epoch (RFC 9750): the first commit of the channel's epoch is accepted together
 *    with the membership change it claims, any other one is CommitConflict, the same one again is a
 *    harmless duplicate,
 *  - application messages and proposals may lag the channel's epoch by a small window (messages sent
 *    just before a commit was accepted) but never lead it.
 * Membership claims are trusted from members: a PrivateMessage commit is encrypted, so the gateway
 * cannot check them against the commit's proposals (docs/protocol.md explains why that is safe).
 */
import { createHash } from "node:crypto";
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { bytesEqual, toHex } from "@qpq/shared/bytes";
import { isInvitationPayload } from "@qpq/shared/invitations";
import type { Services } from "../services/context.ts";
import type { ChannelRecord } from "../store/types.ts";
import { FramingError, parseMlsFraming, type MlsFraming } from "./mlsFraming.ts";

const KEY_BYTES = 32;
const TOKEN_HASH_BYTES = 32;

export interface MembershipClaims {
  add: Uint8Array[];
  remove: Uint8Array[];
  nextTokenHash: Uint8Array;
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/** The framing of a group message of this channel's group, or the registry error. */
export function groupFraming(
  channel: ChannelRecord,
  payload: Uint8Array,
): Extract<MlsFraming, { kind: "group" }> {
  let framing: MlsFraming;
  try {
    framing = parseMlsFraming(payload);
  } catch (error) {
    const reason = error instanceof FramingError ? error.message : "unreadable";
    throw new QpqError(ErrorCode.InvalidArgument, `payload is not an MLS message: ${reason}`);
  }
  if (framing.kind !== "group") {
    throw new QpqError(ErrorCode.InvalidArgument, "a group channel fans out only group messages");
  }
  if (!bytesEqual(framing.groupId, channel.groupId)) {
    throw new QpqError(ErrorCode.StaleEpoch, "the payload belongs to another group than the channel's");
  }
  return framing;
}

/** Application messages and proposals: at most `window` epochs behind the channel, never ahead. */
export function checkEpoch(channel: ChannelRecord, epoch: number, window: number): void {
  if (epoch > channel.epoch) {
    throw new QpqError(ErrorCode.StaleEpoch, `epoch ${epoch} is ahead of the group's epoch ${channel.epoch}`);
  }
  if (epoch < channel.epoch - window) {
    throw new QpqError(
      ErrorCode.StaleEpoch,
      `epoch ${epoch} is too old (the group is at ${channel.epoch}); process your queue first`,
    );
  }
}

/** Who sent: the member account, and the device whose queue does not get its own message back. */
export interface Sender {
  account: Uint8Array;
  device: Uint8Array;
}

/**
 * An identity-bound upload into a group channel by a member: a Welcome (today sealed as an invitation,
 * which the gateway cannot open and only recognises by its type byte) to one device of a member, or a
 * group message fanned out to every device of every member but the sending device. Returns the first
 * recipient's seq (0 when there was none or for a duplicate commit).
 */
export async function enqueueToGroup(
  services: Services,
  channel: ChannelRecord,
  sender: Sender,
  recipientKey: Uint8Array,
  payload: Uint8Array,
  claims: MembershipClaims,
): Promise<number> {
  const hasClaims = claims.add.length > 0 || claims.remove.length > 0 || claims.nextTokenHash.length > 0;
  if (recipientKey.length > 0) {
    // Directed: only a Welcome or an invitation, to a member (a joiner becomes one with the commit that
    // adds them). Group messages never start with the invitation type byte, so none slips through here.
    if (!(parseWelcome(payload) || isInvitationPayload(payload)) || hasClaims) {
      throw new QpqError(ErrorCode.InvalidArgument, "a group channel takes only Welcomes for one member");
    }
    if (!(await isMemberDevice(services, channel, recipientKey))) {
      throw new QpqError(ErrorCode.ChannelForbidden, "the recipient is not a member of this channel");
    }
    // One recipient: a full queue is an error for the sender (E015), unlike a fan-out's skipped copy.
    return services.delivery.enqueue(recipientKey, channel.channelId, payload);
  }
  const framing = groupFraming(channel, payload);
  const members = await services.store.getChannelMembers(channel.channelId);
  // The sender's other devices get it too: they show what this device sent.
  const others = await services.devices.recipients(members, sender.device);
  if (framing.contentType === "commit") {
    // The caller's membership and `members` were read at channel.epoch. Only a commit for that epoch
    // may go on: the store accepts it only if no commit came in between, so those reads still hold.
    // A commit for a later epoch could otherwise be accepted from someone removed in the meantime.
    if (framing.epoch > channel.epoch) {
      throw new QpqError(
        ErrorCode.CommitConflict,
        `the group's epoch is ${channel.epoch}: a commit for epoch ${framing.epoch} cannot be accepted`,
      );
    }
    await checkClaims(services, members, claims);
    const outcome = await services.delivery.commit({
      channelId: channel.channelId,
      epoch: framing.epoch,
      commitHash: sha256(payload),
      add: claims.add,
      remove: claims.remove,
      nextTokenHash: claims.nextTokenHash,
      envelopes: others.map((recipientKey) => ({
        recipientKey,
        channelId: channel.channelId,
        payload,
        enqueuedAtMs: services.now(),
      })),
    });
    if (outcome.status === "conflict") {
      throw new QpqError(
        ErrorCode.CommitConflict,
        `the group's epoch is ${outcome.epoch}: another commit was accepted first; process it and redo yours`,
      );
    }
    return outcome.status === "accepted" ? (outcome.seqs[0] ?? 0) : 0;
  }
  if (hasClaims) throw new QpqError(ErrorCode.InvalidArgument, "only a commit changes membership");
  checkEpoch(channel, framing.epoch, services.config.channels.epochWindow);
  const seqs = await services.delivery.fanOut(others, channel.channelId, payload);
  return seqs[0] ?? 0;
}

/** A device (in use) of a member account; an account that never attached one is its own device. */
async function isMemberDevice(services: Services, channel: ChannelRecord, key: Uint8Array): Promise<boolean> {
  const device = await services.store.getDevice(key);
  if (device) {
    if (device.revokedAtMs !== undefined) return false;
    const owner = await services.store.getUserByName(device.username);
    return (
      owner !== undefined && (await services.store.isChannelMember(channel.channelId, owner.identityKey))
    );
  }
  if (!(await services.store.isChannelMember(channel.channelId, key))) return false;
  return (await services.devices.devicesOf(key)).some((d) => bytesEqual(d, key));
}

function parseWelcome(payload: Uint8Array): boolean {
  try {
    return parseMlsFraming(payload).kind === "welcome";
  } catch {
    return false;
  }
}

async function checkClaims(
  services: Services,
  members: Uint8Array[],
  claims: MembershipClaims,
): Promise<void> {
  const current = new Set(members.map(toHex));
  // A key named twice would be counted twice against the member limit below but applied once.
  if (new Set(claims.add.map(toHex)).size !== claims.add.length) {
    throw new QpqError(ErrorCode.InvalidArgument, "addMembers: a key is listed twice");
  }
  if (new Set(claims.remove.map(toHex)).size !== claims.remove.length) {
    throw new QpqError(ErrorCode.InvalidArgument, "removeMembers: a key is listed twice");
  }
  for (const key of claims.add) {
    if (key.length !== KEY_BYTES) throw new QpqError(ErrorCode.InvalidArgument, "addMembers: 32-byte keys");
    if (current.has(toHex(key)))
      throw new QpqError(ErrorCode.InvalidArgument, "addMembers: already a member");
    if (!(await services.store.getUserByIdentity(key))) {
      throw new QpqError(ErrorCode.UnknownRecipient, "addMembers: no user has this identity key");
    }
  }
  for (const key of claims.remove) {
    if (!current.has(toHex(key)))
      throw new QpqError(ErrorCode.InvalidArgument, "removeMembers: not a member");
  }
  if (claims.nextTokenHash.length !== 0 && claims.nextTokenHash.length !== TOKEN_HASH_BYTES) {
    throw new QpqError(ErrorCode.InvalidArgument, `nextTokenHash must be empty or ${TOKEN_HASH_BYTES} bytes`);
  }
  const limit = services.config.limits.maxGroupMembers;
  if (current.size + claims.add.length - claims.remove.length > limit) {
    throw new QpqError(ErrorCode.InvalidArgument, `a group channel has at most ${limit} members`);
  }
}
