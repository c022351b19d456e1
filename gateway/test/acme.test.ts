/**
 * ACME end to end against Pebble on loopback: the real gateway process obtains its certificate,
 * renews it on SIGHUP without dropping sessions, and keeps serving the old one when renewal fails.
 */
import { X509Certificate, createHash } from "node:crypto";
import { readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatewayClient } from "@qpq/shared/client";
import { directorySlug } from "../src/tls/acmeStore.ts";
import { connectWebTransport } from "@qpq/transport/client";
import { startGatewayProcess, type GatewayProcess } from "./helpers.ts";
import { findPebble, freePort, startPebble, type Pebble } from "./pebble.ts";

const DOMAIN = "localhost";
const pebbleBinary = findPebble();
if (!pebbleBinary) {
  console.warn(
    "ACME tests skipped: pebble not found (Debian: apt-get install pebble; `npm test` does it as root)",
  );
}

interface CertificateHealth {
  mode: string;
  sha256: string;
  acme: { state: string; failures: number; lastError?: string; lastErrorAt?: string; nextAttemptAt?: string };
}

let pebble: Pebble | undefined;
let gw: GatewayProcess | undefined;
const open: GatewayClient[] = [];

async function certificateHealth(): Promise<CertificateHealth> {
  const health = (await (await fetch(`${gw!.baseUrl}/healthz`)).json()) as { certificate: CertificateHealth };
  return health.certificate;
}

/** Polls /healthz (bounded) until the condition holds: a renewal has no event a test could await. */
async function waitForCertificate(cond: (c: CertificateHealth) => boolean): Promise<CertificateHealth> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const current = await certificateHealth();
    if (cond(current)) return current;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`certificate state never reached the expected one:\n${gw!.logs()}`);
}

/** Verifies the chain against Pebble's root, as a browser verifies a Let's Encrypt certificate. */
async function connectVerified(): Promise<GatewayClient> {
  const wt = connectWebTransport(`https://${DOMAIN}:${gw!.wtPort}/wt`, { ca: await pebble!.issuingRoot() });
  const client = await GatewayClient.connect(wt, "acme-test");
  open.push(client);
  return client;
}

/** Accepts only the leaf with this SHA-256: shows exactly which certificate a new connection gets. */
async function connectPinned(sha256Hex: string): Promise<GatewayClient> {
  const wt = connectWebTransport(`https://${DOMAIN}:${gw!.wtPort}/wt`, {
    serverCertificateHashes: [{ algorithm: "sha-256", value: Buffer.from(sha256Hex, "hex") }],
  });
  const client = await GatewayClient.connect(wt, "acme-test");
  open.push(client);
  return client;
}

function storedLeaf(): X509Certificate {
  const dir = join(gw!.dataDir, "acme", directorySlug(pebble!.directoryUrl), DOMAIN);
  return new X509Certificate(readFileSync(join(dir, "cert.pem")));
}

describe.skipIf(!pebbleBinary)("ACME certificates (Pebble)", () => {
  let first: CertificateHealth;
  let oldSession: GatewayClient;
  let acmeEnv: Record<string, string>;

  beforeAll(async () => {
    const httpPort = await freePort();
    pebble = await startPebble(pebbleBinary!, httpPort);
    acmeEnv = {
      QPQ_ACME_DOMAIN: DOMAIN,
      QPQ_ACME_DIRECTORY: pebble.directoryUrl,
      QPQ_ACME_CA_FILE: pebble.caFile,
      QPQ_ACME_RETRY_MS: "200",
      QPQ_ACME_CHECK_MS: "2000",
      QPQ_LOG_LEVEL: "info",
    };
    gw = await startGatewayProcess({ httpPort, timeoutMs: 60_000, env: acmeEnv });
  });

  afterAll(async () => {
    for (const client of open) client.close();
    await gw?.kill();
    if (gw) rmSync(gw.dataDir, { recursive: true, force: true });
    await pebble?.stop();
    pebble?.cleanup();
  });

  it("obtains a certificate from the CA on first start and serves it with its chain", async () => {
    first = await certificateHealth();
    expect(first.mode).toBe("acme");
    expect(first.acme.state).toBe("valid");

    const intermediate = new X509Certificate(await pebble!.issuingIntermediate());
    const leaf = storedLeaf();
    expect(leaf.checkIssued(intermediate)).toBe(true);
    expect(leaf.verify(intermediate.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toContain(`DNS:${DOMAIN}`);
    expect(createHash("sha256").update(leaf.raw).digest("hex")).toBe(first.sha256);

    const discovery = (await (await fetch(`${gw!.baseUrl}/.well-known/qpq.json`)).json()) as {
      webtransport: string;
      certificateHashes: string[];
    };
    expect(discovery.certificateHashes).toEqual([]);
    expect(discovery.webtransport).toBe(`https://${DOMAIN}:${gw!.wtPort}/wt`);

    oldSession = await connectVerified();
    expect((await oldSession.health()).status).toBe("ok");
    expect((await (await connectPinned(first.sha256)).health()).status).toBe("ok");

    const accountDir = join(gw!.dataDir, "acme", directorySlug(pebble!.directoryUrl));
    for (const file of [
      "account-key.pem",
      "account-url.txt",
      join(DOMAIN, "cert.pem"),
      join(DOMAIN, "key.pem"),
    ]) {
      expect(statSync(join(accountDir, file)).mode & 0o777, file).toBe(0o600);
    }
    for (const dir of [join(gw!.dataDir, "acme"), accountDir, join(accountDir, DOMAIN)]) {
      expect(statSync(dir).mode & 0o777, dir).toBe(0o700);
    }
  });

  it("a forced renewal serves the new certificate to new connections; the old session keeps working", async () => {
    gw!.child.kill("SIGHUP");
    const renewed = await waitForCertificate((c) => c.sha256 !== first.sha256 && c.acme.state === "valid");

    expect(storedLeaf().checkIssued(new X509Certificate(await pebble!.issuingIntermediate()))).toBe(true);
    expect((await (await connectPinned(renewed.sha256)).health()).status).toBe("ok");
    expect((await (await connectVerified()).health()).status).toBe("ok");
    await expect(connectPinned(first.sha256)).rejects.toThrow();
    expect((await oldSession.health()).status).toBe("ok");
    first = renewed;
  });

  it("a failed renewal keeps the current certificate serving, reports the error and retries", async () => {
    await pebble!.stop();
    gw!.child.kill("SIGHUP");
    // Two failures: the first attempt and at least one retry from the backoff.
    const failing = await waitForCertificate((c) => c.acme.failures >= 2 && c.acme.state === "failing");

    expect(failing.acme.state).toBe("failing");
    expect(failing.acme.lastErrorAt).toBeTruthy();
    // The message goes to the log only: /healthz is public.
    expect(failing.acme.lastError).toBeUndefined();
    expect(failing.acme.nextAttemptAt).toBeTruthy();
    expect(failing.sha256).toBe(first.sha256);
    expect(gw!.logs()).toContain("ACME renewal failed; the current certificate stays in service");
    expect((await (await connectPinned(first.sha256)).health()).status).toBe("ok");
    expect((await oldSession.health()).status).toBe("ok");
  });

  it("a restart serves the stored certificate without asking the CA (which is down)", async () => {
    const { dataDir, httpPort } = gw!;
    await gw!.kill();
    gw = await startGatewayProcess({ dataDir, httpPort, env: acmeEnv });
    const restarted = await certificateHealth();
    expect(restarted).toMatchObject({ sha256: first.sha256, acme: { state: "valid", failures: 0 } });
    expect((await (await connectPinned(first.sha256)).health()).status).toBe("ok");
  });
});
