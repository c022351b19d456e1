/**
 * MLS group operations (RFC 9420) over ts-mls, as pure functions from one ClientState to the next.
 * Nothing here touches the network or storage: the messenger decides when to send and persist.
 */
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import {
  createApplicationMessage,
  createCommit,
  createGroup as mlsCreateGroup,
  decodeGroupState,
  decodeMlsMessage,
  emptyPskIndex,
  encodeGroupState,
  encodeMlsMessage,
  joinGroup,
  processPrivateMessage,
  processPublicMessage,
  zeroOutUint8Array,
  type CiphersuiteImpl,
  type ClientState,
  type KeyPackage,
  type MLSMessage,
  type PrivateMessage,
  type Proposal,
} from "ts-mls";
import { unprotectPrivateMessage } from "ts-mls/messageProtection.js";
import { getSenderLeafNodeIndex } from "ts-mls/sender.js";
import type { RatchetTree } from "ts-mls";
import { defaultClientConfig } from "ts-mls/clientConfig.js";
import { bytesEqual, toHex } from "../util/bytes.ts";
import { accountKeyOf, usernameOf, type Identity } from "./identity.ts";
import { generateKeyPackage, type OwnKeyPackage } from "./keyPackages.ts";
import { DEFAULT_PADDING, paddingFor, type PaddingScheme } from "./padding.ts";
import { assertSuiteAllowed, DEFAULT_SUITE_POLICY, type SuitePolicy } from "./policy.ts";
import { proposalGate } from "./proposalRules.ts";

export interface GroupMember {
  leafIndex: number;
  username: string | undefined;
  /** The leaf's key: the device's own (an original device's is its account key). */
  signatureKey: Uint8Array;
  /** The account the leaf is a device of, when its credential proves it (identity.ts: accountKeyOf). */
  accountKey: Uint8Array | undefined;
}

export type Incoming =
  | {
      kind: "application";
      state: ClientState;
      plaintext: Uint8Array;
      sender: GroupMember;
      epoch: bigint;
    }
  | { kind: "handshake"; state: ClientState; commit: boolean };

export class GroupFormatError extends QpqError {
  override readonly name: string = "GroupFormatError";

  constructor(detail: string) {
    super(ErrorCode.MlsMessageInvalid, detail);
  }
}

/**
 * An application message from an earlier epoch whose sender is not a member of the current epoch.
 * ts-mls keeps old epochs' keys for a while so late messages still open; without this check a removed
 * member could keep talking into the group through an epoch it still holds.
 */
export class StaleSenderError extends GroupFormatError {
  override readonly name: string = "StaleSenderError";
}

/** Members in leaf order, from a ratchet tree (leaves sit at even node indices). */
export function membersOf(tree: RatchetTree): GroupMember[] {
  const out: GroupMember[] = [];
  for (let nodeIndex = 0; nodeIndex < tree.length; nodeIndex += 2) {
    const node = tree[nodeIndex];
    if (node?.nodeType !== "leaf") continue;
    out.push({
      leafIndex: nodeIndex / 2,
      username: usernameOf(node.leaf.credential),
      signatureKey: node.leaf.signaturePublicKey,
      accountKey: accountKeyOf(node.leaf.credential, node.leaf.signaturePublicKey),
    });
  }
  return out;
}

export function members(state: ClientState): GroupMember[] {
  return membersOf(state.ratchetTree);
}

export function groupIdHex(state: ClientState): string {
  return toHex(state.groupContext.groupId);
}

export async function createGroup(
  identity: Identity,
  impl: CiphersuiteImpl,
  groupId?: Uint8Array,
): Promise<ClientState> {
  const own = await generateKeyPackage(identity, impl);
  const id = groupId ?? impl.rng.randomBytes(16);
  return mlsCreateGroup(id, own.publicPackage, own.privatePackage, [], impl);
}

export interface CommitOutput {
  state: ClientState;
  commit: Uint8Array;
  welcome: Uint8Array | undefined;
}

/**
 * Adds members from their KeyPackages in one commit. The Welcome carries the ratchet tree (the
 * ratchet_tree extension) so a joiner needs nothing but the Welcome.
 */
export async function addMembers(
  state: ClientState,
  impl: CiphersuiteImpl,
  keyPackages: KeyPackage[],
): Promise<CommitOutput> {
  const proposals: Proposal[] = keyPackages.map((keyPackage) => ({
    proposalType: "add",
    add: { keyPackage },
  }));
  return commit(state, impl, proposals);
}

/** Commits the given proposals (none: an empty commit, which rotates the committer's leaf key). */
export async function commit(
  state: ClientState,
  impl: CiphersuiteImpl,
  proposals: Proposal[] = [],
): Promise<CommitOutput> {
  const result = await createCommit(
    { state, cipherSuite: impl },
    { extraProposals: proposals, ratchetTreeExtension: true },
  );
  result.consumed.forEach(zeroOutUint8Array);
  return {
    state: result.newState,
    commit: encodeMlsMessage(result.commit),
    welcome: result.welcome
      ? encodeMlsMessage({ welcome: result.welcome, wireformat: "mls_welcome", version: "mls10" })
      : undefined,
  };
}

/** The KeyPackageRefs a Welcome is addressed to (hex), to find our matching private keys. */
export function welcomeRecipients(message: MLSMessage): string[] {
  if (message.wireformat !== "mls_welcome") return [];
  return message.welcome.secrets.map((s) => toHex(s.newMember));
}

/** Joins from a Welcome, refusing (E026) a group whose cipher suite is below the policy. */
export async function joinFromWelcome(
  message: MLSMessage,
  findKeyPackage: (ref: string) => OwnKeyPackage | undefined,
  impl: CiphersuiteImpl,
  policy: SuitePolicy = DEFAULT_SUITE_POLICY,
): Promise<{ state: ClientState; usedKeyPackage: OwnKeyPackage }> {
  if (message.wireformat !== "mls_welcome") throw new GroupFormatError("not a Welcome");
  assertSuiteAllowed(message.welcome.cipherSuite, policy);
  for (const ref of welcomeRecipients(message)) {
    const own = findKeyPackage(ref);
    if (!own) continue;
    const state = await joinGroup(
      message.welcome,
      own.publicPackage,
      own.privatePackage,
      emptyPskIndex,
      impl,
    );
    return { state, usedKeyPackage: own };
  }
  throw new GroupFormatError("the Welcome is not addressed to any of our KeyPackages");
}

/** Encrypts for the group, padded to the scheme's bucket (padding.ts); default 256-byte blocks. */
export async function encryptApplication(
  state: ClientState,
  impl: CiphersuiteImpl,
  plaintext: Uint8Array,
  padding: PaddingScheme = DEFAULT_PADDING,
): Promise<{ state: ClientState; message: Uint8Array }> {
  const padded: ClientState = {
    ...state,
    clientConfig: { ...state.clientConfig, paddingConfig: paddingFor(plaintext.length, padding) },
  };
  const result = await createApplicationMessage(padded, plaintext, impl);
  result.consumed.forEach(zeroOutUint8Array);
  return {
    // The per-message padding must not stick to the state that is stored and used for commits.
    state: { ...result.newState, clientConfig: state.clientConfig },
    message: encodeMlsMessage({
      privateMessage: result.privateMessage,
      wireformat: "mls_private_message",
      version: "mls10",
    }),
  };
}

/** Decodes one MLSMessage; throws GroupFormatError on trailing bytes or garbage. */
export function decodeMessage(bytes: Uint8Array): MLSMessage {
  let decoded: ReturnType<typeof decodeMlsMessage>;
  try {
    decoded = decodeMlsMessage(bytes, 0);
  } catch (error) {
    throw new GroupFormatError(`undecodable MLS message: ${String(error)}`);
  }
  if (!decoded || decoded[1] !== bytes.length) throw new GroupFormatError("undecodable MLS message");
  return decoded[0];
}

/** The group a handshake or application message belongs to (undefined for Welcome, KeyPackage...). */
export function groupIdOfMessage(message: MLSMessage): { groupId: Uint8Array; epoch: bigint } | undefined {
  if (message.wireformat === "mls_private_message") {
    return { groupId: message.privateMessage.groupId, epoch: message.privateMessage.epoch };
  }
  if (message.wireformat === "mls_public_message") {
    return { groupId: message.publicMessage.content.groupId, epoch: message.publicMessage.content.epoch };
  }
  return undefined;
}

/**
 * Processes a handshake or application message. Application messages are opened here rather than
 * through processPrivateMessage because the application needs the authenticated sender (its leaf),
 * which ts-mls verifies but does not return.
 */
export async function processIncoming(
  state: ClientState,
  impl: CiphersuiteImpl,
  message: MLSMessage,
): Promise<Incoming> {
  if (message.wireformat === "mls_private_message") {
    const pm = message.privateMessage;
    if (pm.contentType === "application") return openApplication(state, impl, pm);
    const gate = proposalGate(state);
    const result = await processPrivateMessage(state, pm, emptyPskIndex, impl, gate.callback);
    result.consumed.forEach(zeroOutUint8Array);
    gate.throwIfRejected();
    return { kind: "handshake", state: result.newState, commit: pm.contentType === "commit" };
  }
  if (message.wireformat === "mls_public_message") {
    const gate = proposalGate(state);
    const result = await processPublicMessage(
      state,
      message.publicMessage,
      emptyPskIndex,
      impl,
      gate.callback,
    );
    result.consumed.forEach(zeroOutUint8Array);
    gate.throwIfRejected();
    return {
      kind: "handshake",
      state: result.newState,
      commit: message.publicMessage.content.contentType === "commit",
    };
  }
  throw new GroupFormatError(`unexpected ${message.wireformat} for a group`);
}

async function openApplication(
  state: ClientState,
  impl: CiphersuiteImpl,
  pm: PrivateMessage,
): Promise<Incoming> {
  const current = pm.epoch === state.groupContext.epoch;
  const past = current ? undefined : state.historicalReceiverData.get(pm.epoch);
  if (!current && !past) throw new GroupFormatError(`no keys for epoch ${pm.epoch}`);
  const epochData = past ?? {
    senderDataSecret: state.keySchedule.senderDataSecret,
    secretTree: state.secretTree,
    ratchetTree: state.ratchetTree,
    groupContext: state.groupContext,
  };
  const result = await unprotectPrivateMessage(
    epochData.senderDataSecret,
    pm,
    epochData.secretTree,
    epochData.ratchetTree,
    epochData.groupContext,
    state.clientConfig.keyRetentionConfig,
    impl,
  );
  result.consumed.forEach(zeroOutUint8Array);
  const content = result.content.content;
  if (content.contentType !== "application") throw new GroupFormatError("content type mismatch");
  const leafIndex = getSenderLeafNodeIndex(content.sender);
  const sender = membersOf(epochData.ratchetTree).find((m) => m.leafIndex === leafIndex);
  if (!sender) throw new GroupFormatError("sender is not a member");
  if (past && !stillMember(state, sender)) {
    throw new StaleSenderError(
      `dropped a message of epoch ${pm.epoch}: its sender is not a member of epoch ${state.groupContext.epoch}`,
    );
  }
  const newState: ClientState = past
    ? {
        ...state,
        historicalReceiverData: new Map(state.historicalReceiverData).set(pm.epoch, {
          ...past,
          secretTree: result.tree,
        }),
      }
    : { ...state, secretTree: result.tree };
  return {
    kind: "application",
    state: newState,
    plaintext: content.applicationData,
    sender,
    epoch: pm.epoch,
  };
}

/** Same leaf, same signature key: a removed member's leaf may be reused by someone who joined later. */
function stillMember(state: ClientState, sender: GroupMember): boolean {
  return members(state).some(
    (m) => m.leafIndex === sender.leafIndex && bytesEqual(m.signatureKey, sender.signatureKey),
  );
}

/**
 * Serialized group state. It contains the signature private key and the secrets of past epochs:
 * store it only encrypted.
 */
export function encodeState(state: ClientState): Uint8Array {
  return encodeGroupState(state);
}

export function decodeState(bytes: Uint8Array): ClientState {
  const decoded = decodeGroupState(bytes, 0);
  if (!decoded) throw new GroupFormatError("undecodable group state");
  return { ...decoded[0], clientConfig: defaultClientConfig };
}
