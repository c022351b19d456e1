/**
 * The gateway's side of OPAQUE (RFC 9807) through @serenity-kit/opaque. The server setup (the
 * gateway's long-term OPAQUE key pair and OPRF seed) is created once and kept in the store: losing or
 * changing it would lock every user out, because registration records are bound to it.
 */
import * as opaque from "@serenity-kit/opaque";
import type { Store } from "../store/types.ts";

const SETUP_KEY = "opaque.serverSetup";

export interface OpaqueServer {
  createRegistrationResponse(username: string, registrationRequest: string): string;
  /**
   * With record undefined (unknown user) serenity-kit answers from a fake record of the same size,
   * so the reply does not tell a stranger whether the username exists.
   */
  startLogin(
    username: string,
    record: string | undefined,
    startLoginRequest: string,
  ): { serverLoginState: string; loginResponse: string };
  /** Throws when the client did not prove knowledge of the password. */
  finishLogin(serverLoginState: string, finishLoginRequest: string): void;
}

export async function createOpaqueServer(store: Store): Promise<OpaqueServer> {
  await opaque.ready;
  const serverSetup = await store.initSetting(SETUP_KEY, opaque.server.createSetup());
  return {
    createRegistrationResponse(username, registrationRequest) {
      return opaque.server.createRegistrationResponse({
        serverSetup,
        userIdentifier: username,
        registrationRequest,
      }).registrationResponse;
    },
    startLogin(username, record, startLoginRequest) {
      return opaque.server.startLogin({
        serverSetup,
        userIdentifier: username,
        registrationRecord: record ?? null,
        startLoginRequest,
      });
    },
    finishLogin(serverLoginState, finishLoginRequest) {
      opaque.server.finishLogin({ serverLoginState, finishLoginRequest });
    },
  };
}
