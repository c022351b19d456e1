/**
 * The gateway's side of OPAQUE (RFC 9807) through @serenity-kit/opaque. The server setup (the
 * gateway's long-term OPAQUE key pair and OPRF seed) is created once and kept in the store: losing or
 * changing it would lock every user out, because registration records are bound to it.
 *
 * Every OPAQUE message comes from a peer that need not have logged in, so one that does not parse is
 * bad input (E007, counted as opaqueMalformed), never a gateway failure: the library throws a plain
 * Error for it, which would otherwise be answered E018 and logged with a stack trace each time.
 */
import * as opaque from "@serenity-kit/opaque";
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { log } from "../log.ts";
import type { Store } from "../store/types.ts";
import type { Metrics } from "./metrics.ts";

const SETUP_KEY = "opaque.serverSetup";

export interface OpaqueServer {
  /** Throws InvalidArgument when the request does not parse. */
  createRegistrationResponse(username: string, registrationRequest: string): string;
  /**
   * With record undefined (unknown user) serenity-kit answers from a fake record of the same size,
   * so the reply does not tell a stranger whether the username exists. Throws InvalidArgument when
   * the request does not parse.
   */
  startLogin(
    username: string,
    record: string | undefined,
    startLoginRequest: string,
  ): { serverLoginState: string; loginResponse: string };
  /**
   * Throws AuthFailed when the client did not prove knowledge of the password, InvalidArgument when
   * its message does not parse.
   */
  finishLogin(serverLoginState: string, finishLoginRequest: string): void;
  /**
   * Throws InvalidArgument unless the record parses: stored unchecked, a junk record would make every
   * later login of that user fail inside the gateway.
   */
  checkRecord(username: string, record: string): void;
}

/** The stage serenity-kit names in its errors ('opaque protocol error at "deserialize X"; ...'). */
function failedStage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /at "([^"]*)"/.exec(message)?.[1] ?? "unknown";
}

export async function createOpaqueServer(store: Store, metrics: Metrics): Promise<OpaqueServer> {
  await opaque.ready;
  const serverSetup = await store.initSetting(SETUP_KEY, opaque.server.createSetup());
  // Any well-formed login request will do to make the library parse a record.
  const probeRequest = opaque.client.startLogin({ password: "record check" }).startLoginRequest;

  /** Runs one OPAQUE step; an error is the peer's bad message unless `ours` says the stage is ours. */
  function step<T>(message: string, run: () => T, ours: (stage: string) => boolean = () => false): T {
    try {
      return run();
    } catch (error) {
      const stage = failedStage(error);
      if (ours(stage)) throw error;
      metrics.count("opaqueMalformed");
      // One line, no stack: a peer can send these at will, and the counter is what operators watch.
      log.debug("malformed OPAQUE message", { message, stage });
      throw new QpqError(ErrorCode.InvalidArgument, `${message} is not a valid OPAQUE message`);
    }
  }

  return {
    createRegistrationResponse(username, registrationRequest) {
      return step("registrationRequest", () =>
        opaque.server.createRegistrationResponse({
          serverSetup,
          userIdentifier: username,
          registrationRequest,
        }),
      ).registrationResponse;
    },
    startLogin(username, record, startLoginRequest) {
      return step(
        "startLoginRequest",
        () =>
          opaque.server.startLogin({
            serverSetup,
            userIdentifier: username,
            registrationRecord: record ?? null,
            startLoginRequest,
          }),
        // A stored record that does not parse is the gateway's fault, not the caller's: E018, logged.
        (stage) => stage.includes("registrationRecord"),
      );
    },
    finishLogin(serverLoginState, finishLoginRequest) {
      try {
        opaque.server.finishLogin({ serverLoginState, finishLoginRequest });
      } catch (error) {
        // Only a message that does not parse is malformed; a well-formed wrong proof is a wrong password.
        if (failedStage(error) !== "deserialize finishLoginRequest") {
          throw new QpqError(ErrorCode.AuthFailed, "wrong username or password");
        }
        step("finishLoginRequest", () => {
          throw error;
        });
      }
    },
    checkRecord(username, record) {
      step("registrationRecord", () =>
        opaque.server.startLogin({
          serverSetup,
          userIdentifier: username,
          registrationRecord: record,
          startLoginRequest: probeRequest,
        }),
      );
    },
  };
}
