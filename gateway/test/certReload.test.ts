import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GatewayClient } from "@qpq/shared/client";
import { generateSelfSigned } from "@qpq/transport/certificates";
import { connectWebTransport } from "@qpq/transport/client";
import { startGatewayProcess, type GatewayProcess } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "qpq-certs-"));
let gw: GatewayProcess | undefined;

afterAll(async () => {
  await gw?.kill();
  gw?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes the pair the way renewal tools do: new files renamed into place. */
function install(pair: { certPem: string; keyPem: string }): void {
  writeFileSync(join(dir, "key.tmp"), pair.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, "cert.tmp"), pair.certPem);
  renameSync(join(dir, "key.tmp"), join(dir, "key.pem"));
  renameSync(join(dir, "cert.tmp"), join(dir, "cert.pem"));
}

function connect(port: number, sha256: Uint8Array): Promise<GatewayClient> {
  const wt = connectWebTransport(`https://127.0.0.1:${port}/wt`, {
    serverCertificateHashes: [{ algorithm: "sha-256", value: sha256 }],
  });
  return GatewayClient.connect(wt, "cert-test");
}

describe("CA certificate files", () => {
  it("a renewed certificate is served to new connections while an old session keeps working", async () => {
    const first = await generateSelfSigned({ hostnames: ["127.0.0.1"] });
    const second = await generateSelfSigned({ hostnames: ["127.0.0.1"] });
    install(first);
    gw = await startGatewayProcess({
      env: { QPQ_TLS_CERT: join(dir, "cert.pem"), QPQ_TLS_KEY: join(dir, "key.pem"), QPQ_TLS_POLL_MS: "100" },
    });
    const discovery = (await (await fetch(`${gw.baseUrl}/.well-known/qpq.json`)).json()) as {
      certificateHashes: string[];
    };
    expect(discovery.certificateHashes).toEqual([]);

    const old = await connect(gw.wtPort, first.sha256);
    install(second);

    // Wait (bounded) until a connection pinned to the new certificate succeeds.
    let fresh: GatewayClient | undefined;
    for (let attempt = 0; attempt < 100 && !fresh; attempt++) {
      fresh = await connect(gw.wtPort, second.sha256).catch(() => undefined);
    }
    expect(fresh, "the renewed certificate was never served").toBeDefined();
    expect((await fresh!.health()).status).toBe("ok");
    // The session set up with the old certificate is untouched.
    expect((await old.health()).status).toBe("ok");
    await expect(connect(gw.wtPort, first.sha256)).rejects.toThrow();
    fresh!.close();
    old.close();
  });
});
