/**
 * qpq's exit codes, documented in docs/cli.md. Scripts branch on these; gateway and core errors keep
 * their registry code (E0xx) in the message and in --json output, and map to one of these classes.
 */
import { ErrorCode, QpqError, errorCodeName, formatErrorCode } from "@qpq/shared/protocol";
import { AtRestDecryptError } from "@qpq/shared/crypto";
import { StateLockedError } from "./lock.ts";
import { StateFileError } from "./fileClientStore.ts";

export const ExitCode = {
  Ok: 0,
  /** A bug or an unexpected failure. */
  Failure: 1,
  /** Bad command line: unknown command or option, missing argument. */
  Usage: 2,
  /** Wrong username or password (the gateway does not tell which). */
  AuthFailed: 3,
  /** Not logged in, or the session expired or was revoked: run `qpq login`. */
  NoSession: 4,
  /** No such user, conversation or contact. */
  NotFound: 5,
  /** The gateway could not be reached. */
  Unreachable: 6,
  /** Another qpq process is using the state directory. */
  Locked: 7,
  /**
   * The state directory cannot be used: unreadable, another account's, or its device was revoked
   * (E035: log in from a fresh state directory to make a new device).
   */
  State: 8,
  /** The gateway or the client core refused the request (another E0xx code, e.g. E009 UsernameTaken). */
  Rejected: 9,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the CLI itself detects, with the exit code it should end with. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    /** The registry code of the core's or gateway's error this one explains, if any. */
    readonly code?: ErrorCode,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export interface DescribedError {
  exitCode: ExitCode;
  message: string;
  /** Registry code ("E012") when the error has one. */
  code?: string;
  codeName?: string;
}

export function describeFailure(error: unknown): DescribedError {
  if (error instanceof CliError) {
    if (error.code === undefined) return { exitCode: error.exitCode, message: error.message };
    return {
      exitCode: error.exitCode,
      message: `${formatErrorCode(error.code)} ${errorCodeName(error.code)}: ${error.message}`,
      code: formatErrorCode(error.code),
      codeName: errorCodeName(error.code),
    };
  }
  if (error instanceof StateLockedError) return { exitCode: ExitCode.Locked, message: error.message };
  if (error instanceof StateFileError) return { exitCode: ExitCode.State, message: error.message };
  if (error instanceof AtRestDecryptError) {
    return { exitCode: ExitCode.State, message: "the state file does not decrypt with this account's key" };
  }
  if (error instanceof QpqError) {
    return {
      exitCode: exitCodeFor(error.code),
      message: error.message,
      code: formatErrorCode(error.code),
      codeName: errorCodeName(error.code),
    };
  }
  return { exitCode: ExitCode.Failure, message: error instanceof Error ? error.message : String(error) };
}

function exitCodeFor(code: ErrorCode): ExitCode {
  switch (code) {
    case ErrorCode.AuthFailed:
      return ExitCode.AuthFailed;
    case ErrorCode.SessionInvalid:
    case ErrorCode.Unauthenticated:
      return ExitCode.NoSession;
    case ErrorCode.UserNotFound:
    case ErrorCode.UnknownRecipient:
      return ExitCode.NotFound;
    case ErrorCode.Unavailable:
      return ExitCode.Unreachable;
    case ErrorCode.DeviceRevoked:
      return ExitCode.State;
    default:
      return ExitCode.Rejected;
  }
}
