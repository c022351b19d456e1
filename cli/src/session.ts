/**
 * Getting a ready messenger for a command: from the saved session (every command but register and
 * login), or from a password login. Either way the state directory is locked first and the messenger
 * has processed everything queued at the gateway before the command runs.
 */
import { hostname } from "node:os";
import type { GatewayClient } from "@qpq/shared/client";
import { canonicalUsername, ConnectionManager, Messenger } from "@qpq/shared/client";
import { deriveStateKeyBytes, importStateKey } from "@qpq/shared/crypto";
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { CliError, ExitCode } from "./exitCodes.ts";
import type { Context } from "./context.ts";
import { FileClientStore } from "./fileClientStore.ts";
import { acquireStateLock, type StateLock } from "./lock.ts";
import { readPassword } from "./password.ts";
import { transportOpener } from "./transport.ts";

export const CLIENT_NAME = "qpq-cli";

export interface Session {
  messenger: Messenger;
  gw: GatewayClient;
  store: FileClientStore;
  connection: ConnectionManager;
  gateway: string;
  /** Acknowledges what was processed, closes the connection and releases the state directory. */
  close(): Promise<void>;
}

function connectionFor(ctx: Context, gateway: string): ConnectionManager {
  return new ConnectionManager({
    baseUrl: gateway,
    openTransport: transportOpener(ctx.options.ca),
    clientName: CLIENT_NAME,
  });
}

/** Runs fn holding the state directory's lock; the lock is released when fn fails. */
async function locked<T>(ctx: Context, fn: (lock: StateLock) => Promise<T>): Promise<T> {
  await ctx.state.ensure();
  const lock = await acquireStateLock(ctx.state.path);
  try {
    return await fn(lock);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

export function resumeSession(ctx: Context): Promise<Session> {
  return locked(ctx, async (lock) => {
    const saved = await ctx.state.readSession();
    if (!saved) throw new CliError(ExitCode.NoSession, "not logged in: run `qpq login`");
    const store = await FileClientStore.open({
      path: ctx.state.stateFile,
      key: await importStateKey(saved.stateKey),
      username: saved.username,
    });
    const connection = connectionFor(ctx, saved.gateway);
    const gw = await connection.connect();
    let messenger: Messenger;
    try {
      messenger = await Messenger.resume(gw, saved.sessionToken, store, {});
    } catch (error) {
      gw.close();
      if (error instanceof QpqError && error.code === ErrorCode.SessionInvalid) {
        await ctx.state.deleteSession();
        throw new CliError(
          ExitCode.NoSession,
          "the session has ended (expired, logged out, or this device was revoked): run `qpq login`",
          ErrorCode.SessionInvalid,
        );
      }
      throw revokedExplained(ctx, error);
    }
    return ready(messenger, gw, store, connection, saved.gateway, lock);
  });
}

export function passwordSession(ctx: Context, mode: "register" | "login"): Promise<Session> {
  return locked(ctx, async (lock) => {
    const profile = await ctx.state.readProfile();
    const typed = ctx.args[0];
    // Canonical before it is compared with the profile's: `qpq login Bob` is bob's login.
    const username = typed === undefined ? profile?.username : canonicalUsername(typed);
    const gateway = ctx.options.gateway ?? process.env.QPQ_GATEWAY ?? profile?.gateway;
    if (!username) throw new CliError(ExitCode.Usage, "which account? usage: qpq login USERNAME");
    if (!gateway)
      throw new CliError(ExitCode.Usage, "which gateway? give --gateway URL (or set QPQ_GATEWAY)");
    const hasState = await FileClientStore.exists(ctx.state.stateFile);
    if (hasState && profile && profile.username !== username) {
      throw new CliError(
        ExitCode.State,
        `${ctx.state.path} holds the account ${profile.username}; use another --state directory for ${username}`,
      );
    }
    if (mode === "register" && hasState) {
      throw new CliError(
        ExitCode.State,
        `${ctx.state.path} already holds an account; use another --state directory`,
      );
    }
    const password = await readPassword({
      passwordStdin: ctx.options["password-stdin"] === true,
      confirm: mode === "register",
    });
    const connection = connectionFor(ctx, gateway);
    const gw = await connection.connect();
    let stateKey: Uint8Array | undefined;
    let store: FileClientStore | undefined;
    const opts = {
      // Used when this login makes a new device of the account (a state directory without its keys).
      deviceName: deviceNameFor(ctx),
      store: async (login: { session: { username: string }; exportKey: Uint8Array }) => {
        const name = login.session.username;
        stateKey = await deriveStateKeyBytes(login.exportKey, name);
        store = await FileClientStore.open({
          path: ctx.state.stateFile,
          key: await importStateKey(stateKey),
          username: name,
        });
        return store;
      },
    };
    let messenger: Messenger;
    try {
      messenger =
        mode === "register"
          ? await Messenger.register(gw, username, password, opts)
          : await Messenger.login(gw, username, password, opts);
    } catch (error) {
      gw.close();
      throw revokedExplained(ctx, error);
    }
    const name = messenger.username;
    await ctx.state.writeProfile({ gateway, username: name });
    await ctx.state.writeSession({
      gateway,
      username: name,
      sessionToken: messenger.login.sessionToken,
      stateKey: stateKey!,
    });
    return ready(messenger, gw, store!, connection, gateway, lock);
  });
}

/** The longest device name the gateway takes. */
const MAX_DEVICE_NAME = 64;

/** `--device-name`, else "qpq on HOSTNAME": how the account's device lists show a new device. */
function deviceNameFor(ctx: Context): string {
  const given = ctx.options["device-name"]?.trim();
  if (given !== undefined && given.length === 0) throw new CliError(ExitCode.Usage, "--device-name is empty");
  return [...(given ?? `qpq on ${hostname()}`)].slice(0, MAX_DEVICE_NAME).join("");
}

/** A revoked device's state can never attach again: say what to do instead. */
function revokedExplained(ctx: Context, error: unknown): unknown {
  if (!(error instanceof QpqError) || error.code !== ErrorCode.DeviceRevoked) return error;
  return new CliError(
    ExitCode.State,
    `the device in ${ctx.state.path} was revoked from the account and cannot be used again; ` +
      "log in with another --state directory to make a new device",
    ErrorCode.DeviceRevoked,
  );
}

async function ready(
  messenger: Messenger,
  gw: GatewayClient,
  store: FileClientStore,
  connection: ConnectionManager,
  gateway: string,
  lock: StateLock,
): Promise<Session> {
  await messenger.sync();
  await messenger.settled();
  let closed = false;
  return {
    messenger,
    gw,
    store,
    connection,
    gateway,
    async close() {
      if (closed) return;
      closed = true;
      try {
        // The core's timers (commits, key rotation, batched acks) would not outlive a one-shot command.
        await messenger.flush().catch(() => undefined);
      } finally {
        connection.stop();
        messenger.close();
        await store.flush().catch(() => undefined);
        await lock.release();
      }
    },
  };
}
