import { QpqError, type ErrorCode } from "./errors.ts";

/**
 * A frame or message that could not be decoded. `requestId` is set once the request id could be read, so
 * the gateway can answer that very request (E003 UnknownRequest for a newer client's request, E001
 * MalformedFrame or E007 InvalidArgument for a broken one), and the client can fail that call only.
 */
export class DecodeError extends QpqError {
  readonly requestId: number | undefined;

  constructor(code: ErrorCode, message: string, requestId?: number) {
    super(code, message);
    this.name = "DecodeError";
    this.requestId = requestId;
  }
}
