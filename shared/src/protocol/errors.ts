/**
 * The one registry of error codes shared by the gateway and every client. The wire carries the
 * number; people and logs see "E0xx". Codes are stable: never reuse or renumber one, only append.
 * docs/protocol.md documents each code; a test keeps the two in step, and another that the codes run
 * from 1 without holes.
 */
export const ErrorCode = {
  /** A frame could not be decoded: truncated, bad segment table, or not a ClientFrame. */
  MalformedFrame: 1,
  /** A frame's declared length or segment count exceeds the configured limits. */
  FrameTooLarge: 2,
  /** A frame names a union member this build does not know (a newer peer). */
  UnknownRequest: 3,
  /** hello found no protocol version both sides speak. */
  VersionIncompatible: 4,
  /** A request other than hello or health arrived before hello. */
  HelloRequired: 5,
  /** The operation needs a logged-in session on this connection. */
  Unauthenticated: 6,
  /** A field is missing, of the wrong size, or otherwise invalid. */
  InvalidArgument: 7,
  /** Login failed: wrong password or unknown user (deliberately indistinguishable). */
  AuthFailed: 8,
  /** Registration: the username is taken. */
  UsernameTaken: 9,
  /** loginFinish named a login that does not exist or took too long. */
  LoginExpired: 10,
  /** The session token is unknown, revoked or expired. */
  SessionInvalid: 11,
  /** resolveUser: no such user. */
  UserNotFound: 12,
  /** fetchKeyPackage: the user has no KeyPackage left, not even a last-resort one. */
  NoKeyPackage: 13,
  /** The payload exceeds the configured maximum. */
  PayloadTooLarge: 14,
  /** The recipient's queue is full. */
  QueueFull: 15,
  /** Too many attempts; retryAfterMs says when to try again. */
  RateLimited: 16,
  /** Registration: the identity key is already bound to another username. */
  IdentityTaken: 17,
  /** The gateway failed while handling a valid request; nothing was applied. */
  Internal: 18,
  /** The gateway is shutting down; reconnect later. */
  Unavailable: 19,
  /** The client has too many requests in flight on this connection. */
  TooManyInFlight: 20,
  /** The connection is already bound to a session. */
  AlreadyAuthenticated: 21,
  /**
   * The caller may not use this channel: unknown channel, not a member, recipient outside the channel,
   * or a wrong delivery token (all one answer, so a stranger learns nothing about a channel).
   */
  ChannelForbidden: 22,
  /** The recipient identity is not registered. */
  UnknownRecipient: 23,
  /** One commit per epoch (RFC 9750): another commit for this group's epoch was accepted first. */
  CommitConflict: 24,
  /**
   * A group channel payload for an epoch the gateway will not carry: older than the window behind the
   * last accepted commit, newer than the channel's epoch, or of another group.
   */
  StaleEpoch: 25,
  /** The group's cipher suite is weaker than this client's post-quantum policy; it will not join. */
  SuiteBelowPolicy: 26,
  /** fetchHybridKey: the user has not published a hybrid (X-Wing) public key. */
  NoHybridKey: 27,
  /** This member was removed from the group: it can no longer send or read new messages there. */
  RemovedFromGroup: 28,
  /** An MLS proposal was refused: an unsupported type, a non-member target, or a wrong suite. */
  ProposalRejected: 29,
  /** Data sealed on this device does not open: a wrong key, or it was tampered with or moved. */
  StorageUnreadable: 30,
  /** An MLS message, Welcome or group state that does not decode, or does not belong where it came. */
  MlsMessageInvalid: 31,
  /** An invitation that is malformed, not signed by the inviter it names, or not meant for us. */
  InvitationInvalid: 32,
  /** A hybrid (X-Wing) envelope that is malformed or does not open: wrong key, context, or tampering. */
  SealedEnvelopeInvalid: 33,
  /** A frame stayed incomplete, or hello did not come, within the gateway's deadline. */
  DeadlineExceeded: 34,
  /** The device was revoked by its account: it can never attach again (make a new one by logging in). */
  DeviceRevoked: 35,
  /** The account has as many devices as the gateway allows: revoke one first. */
  DeviceLimit: 36,
  /** A device certificate that the account key did not sign for that device and username. */
  DeviceCertificateInvalid: 37,
  /** The account's history backup is at the gateway's size limit; nothing of this upload was kept. */
  BackupFull: 38,
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const names = new Map<number, string>(Object.entries(ErrorCode).map(([name, code]) => [code, name]));

/** "E007" for 7. */
export function formatErrorCode(code: number): string {
  return `E${String(code).padStart(3, "0")}`;
}

export function errorCodeName(code: number): string {
  return names.get(code) ?? "Unknown";
}

export function isKnownErrorCode(code: number): code is ErrorCode {
  return names.has(code);
}

/** An error with a registry code: thrown by the gateway's services, raised by the client core. */
export class QpqError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterMs: number;
  /** The message without the code prefix: what travels on the wire. */
  readonly detail: string;

  constructor(code: ErrorCode, detail: string, retryAfterMs = 0) {
    super(`${formatErrorCode(code)} ${errorCodeName(code)}: ${detail}`);
    this.name = "QpqError";
    this.code = code;
    this.detail = detail;
    this.retryAfterMs = retryAfterMs;
  }

  /** The short form used on the wire and in logs. */
  get codeString(): string {
    return formatErrorCode(this.code);
  }
}
