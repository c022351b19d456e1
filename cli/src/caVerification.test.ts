/**
 * A gateway with a certificate from a CA publishes no hashes to pin, so qpq verifies the certificate
 * the normal way: it connects when the CA is trusted (--ca) and refuses otherwise.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSelfSigned, startGatewayProcess, type GatewayProcess } from "@qpq/gateway/testing";
import { ExitCode } from "./exitCodes.ts";
import { runQpq } from "./testing/runQpq.ts";

const dir = mkdtempSync(join(tmpdir(), "qpq-cli-ca-"));
let gateway: GatewayProcess;

beforeAll(async () => {
  // Its own trust anchor: the CA file a client is given is the certificate itself.
  const pair = await generateSelfSigned({ hostnames: ["127.0.0.1"], selfTrusted: true });
  writeFileSync(join(dir, "cert.pem"), pair.certPem);
  writeFileSync(join(dir, "key.pem"), pair.keyPem, { mode: 0o600 });
  gateway = await startGatewayProcess({
    env: { QPQ_TLS_CERT: join(dir, "cert.pem"), QPQ_TLS_KEY: join(dir, "key.pem") },
  });
});

afterAll(async () => {
  await gateway?.kill();
  gateway?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe("qpq against a CA-certified gateway", { timeout: 120_000 }, () => {
  const register = (state: string, extra: string[]) =>
    runQpq(
      [
        "register",
        `ca${Date.now().toString(36)}`,
        "--gateway",
        gateway.baseUrl,
        "--state",
        state,
        "--password-stdin",
        ...extra,
      ],
      { stdin: "a password\n" },
    );

  it("refuses the certificate when its CA is not trusted", async () => {
    const result = await register(join(dir, "untrusted"), []);
    expect(result.code).toBe(ExitCode.Unreachable);
    expect(result.stderr).toContain("E019");
  });

  it("connects when the CA is given with --ca", async () => {
    const result = await register(join(dir, "trusted"), ["--ca", join(dir, "cert.pem")]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });
});
