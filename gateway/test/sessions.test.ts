/**
 * Session abuse limits on the real gateway over real WebTransport: logout ends the session on its
 * other connections, the per-account session limit ends the oldest session, and directory lookups
 * and KeyPackage claims are rate limited per session.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, type Push } from "@qpq/shared/protocol";
import type { GatewayClient } from "./helpers.ts";
import { connectGateway, FAST, startGatewayProcess, uniqueName, type GatewayProcess } from "./helpers.ts";

let gw: GatewayProcess;
const open: GatewayClient[] = [];

beforeAll(async () => {
  gw = await startGatewayProcess({
    env: {
      QPQ_MAX_SESSIONS_PER_USER: "2",
      QPQ_RESOLVE_PER_SESSION: "3/1",
      QPQ_KP_FETCH_PER_SESSION: "2/1",
      QPQ_KP_PUBLISH_PER_SESSION: "2/1",
    },
  });
});

afterAll(async () => {
  for (const client of open) client.close();
  await gw?.kill();
  gw?.cleanup();
});

async function connect(): Promise<GatewayClient> {
  const client = await connectGateway(gw.baseUrl);
  open.push(client);
  return client;
}

async function registerUser(): Promise<{ username: string; password: string }> {
  const username = uniqueName("sess");
  const password = "session test password";
  const client = await connect();
  await client.register(username, password, crypto.getRandomValues(new Uint8Array(32)), FAST.keyStretching);
  client.close();
  return { username, password };
}

async function login(user: { username: string; password: string }): Promise<[GatewayClient, Uint8Array]> {
  const client = await connect();
  const { sessionToken } = await client.login(user.username, user.password, FAST.keyStretching);
  return [client, sessionToken];
}

function pushesOf(client: GatewayClient): Push[] {
  const pushes: Push[] = [];
  client.onPush((push) => pushes.push(push));
  return pushes;
}

async function expectCode(call: Promise<unknown>, code: ErrorCode): Promise<{ retryAfterMs: number }> {
  const error = (await call.then(
    () => undefined,
    (e: unknown) => e,
  )) as { code: number; retryAfterMs: number } | undefined;
  expect(error?.code, `expected E0${code}`).toBe(code);
  return error!;
}

describe("sessions", () => {
  it("logout ends the session on the other connections that use it", async () => {
    const user = await registerUser();
    const [first, token] = await login(user);
    const second = await connect();
    await second.resumeSession(token);
    const pushes = pushesOf(second);

    await first.logout();

    expect(await second.closed).toMatchObject({
      closeCode: ErrorCode.SessionInvalid,
      reason: expect.stringContaining("logged out on another connection"),
    });
    // The reason also comes as a push first (unless a very slow peer only saw the close).
    for (const push of pushes) {
      expect(push).toMatchObject({ type: "sessionEnded", sessionEnded: { code: ErrorCode.SessionInvalid } });
    }
    await expectCode((await connect()).resumeSession(token), ErrorCode.SessionInvalid);
    // The connection that logged out stays open, unauthenticated.
    expect((await first.health()).status).toBe("ok");
    await expectCode(first.resolveUser(user.username), ErrorCode.Unauthenticated);
  });

  it("a login beyond the per-account limit ends the oldest session", async () => {
    const user = await registerUser();
    const [oldest, oldestToken] = await login(user);
    const [, middleToken] = await login(user);
    const [newest] = await login(user);

    expect(await oldest.closed).toMatchObject({ closeCode: ErrorCode.SessionInvalid });
    await expectCode((await connect()).resumeSession(oldestToken), ErrorCode.SessionInvalid);
    expect((await (await connect()).resumeSession(middleToken)).username).toBe(user.username);
    expect((await newest.resolveUser(user.username)).length).toBe(32);
  });

  it("limits directory lookups per session with RateLimited and a retry-after, misses included", async () => {
    const user = await registerUser();
    const [client] = await login(user);
    await client.resolveUser(user.username);
    await expectCode(client.resolveUser(uniqueName("nobody")), ErrorCode.UserNotFound);
    await client.resolveUser(user.username);
    const limited = await expectCode(client.resolveUser(user.username), ErrorCode.RateLimited);
    expect(limited.retryAfterMs).toBeGreaterThan(0);

    // Another session has its own budget.
    const [other] = await login(user);
    expect((await other.resolveUser(user.username)).length).toBe(32);
  });

  it("limits KeyPackage claims per session", async () => {
    const user = await registerUser();
    const [client] = await login(user);
    const stranger = crypto.getRandomValues(new Uint8Array(32));
    for (let i = 0; i < 2; i++) await expectCode(client.fetchKeyPackage(stranger), ErrorCode.NoKeyPackage);
    const limited = await expectCode(client.fetchKeyPackage(stranger), ErrorCode.RateLimited);
    expect(limited.retryAfterMs).toBeGreaterThan(0);
  });

  it("limits KeyPackage uploads per session", async () => {
    const user = await registerUser();
    const [client] = await login(user);
    // An empty batch only reports the stock, and still counts: each call may carry 100 to check.
    for (let i = 0; i < 2; i++) expect(await client.publishKeyPackages([])).toBe(0);
    await expectCode(client.publishKeyPackages([]), ErrorCode.RateLimited);
  });
});
