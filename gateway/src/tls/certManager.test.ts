import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CertificateManager } from "./certManager.ts";

const DAY = 24 * 3600 * 1000;
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "qpq-certmgr-"));
  dirs.push(dir);
  return dir;
}

describe("development certificate lifecycle", () => {
  it("creates a short-lived certificate, keeps it across restarts, and stores the key 0600", async () => {
    const dir = tempDir();
    const first = await CertificateManager.selfSigned(dir, ["127.0.0.1"]);
    const lifetime = first.certificate.notAfter.getTime() - Date.now();
    expect(lifetime).toBeLessThanOrEqual(10 * DAY + 60_000);
    expect(statSync(join(dir, "tls", "dev-key.pem")).mode & 0o777).toBe(0o600);
    const again = await CertificateManager.selfSigned(dir, ["127.0.0.1"]);
    expect(again.certificate.sha256).toEqual(first.certificate.sha256);
    expect(again.publishedHashes()).toEqual([first.certificate.sha256]);
  });

  it("renews before expiry and publishes old and new hashes during the overlap", async () => {
    const dir = tempDir();
    const manager = await CertificateManager.selfSigned(dir, ["127.0.0.1"]);
    const old = manager.certificate;
    const seen: Uint8Array[] = [];
    manager.onChange((cert) => seen.push(cert.sha256));

    expect(await manager.renewIfDue(Date.now() + 2 * DAY)).toBe(false);
    expect(await manager.renewIfDue(Date.now() + 8 * DAY)).toBe(true);
    expect(seen).toEqual([manager.certificate.sha256]);
    expect(manager.publishedHashes()).toEqual([manager.certificate.sha256, old.sha256]);
    // Once the old certificate has expired, only the new hash is published.
    expect(manager.publishedHashes(old.notAfter.getTime() + 1)).toEqual([manager.certificate.sha256]);
    // A restart loads the renewed certificate.
    const restarted = await CertificateManager.selfSigned(dir, ["127.0.0.1"]);
    expect(restarted.certificate.sha256).toEqual(manager.certificate.sha256);
  });
});
