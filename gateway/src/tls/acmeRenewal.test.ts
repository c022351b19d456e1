import { describe, expect, it } from "vitest";
import { AcmeRenewal, renewalDueAt, retryDelay, type InstalledCertificate } from "./acmeRenewal.ts";
import type { CertificatePair } from "./acmeStore.ts";

const DAY = 24 * 3600 * 1000;
const policy = { renewWhenLeft: 1 / 3, checkEveryMs: DAY / 2, retryMinMs: 60_000, retryMaxMs: DAY / 2 };

function lifetime(startMs: number, days: number): InstalledCertificate {
  return { notBefore: new Date(startMs), notAfter: new Date(startMs + days * DAY) };
}

describe("ACME renewal timing", () => {
  it("renews a 90-day certificate when 30 days are left", () => {
    expect(renewalDueAt(lifetime(0, 90), 1 / 3)).toBe(60 * DAY);
  });

  it("backs off from the minimum, doubling, up to the maximum", () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, policy))).toEqual([60_000, 120_000, 240_000, 480_000]);
    expect(retryDelay(40, policy)).toBe(DAY / 2);
  });
});

describe("AcmeRenewal", () => {
  const pair: CertificatePair = { certPem: "cert", keyPem: "key" };

  it("serves a usable stored certificate without contacting the CA", async () => {
    let obtained = 0;
    const renewal = new AcmeRenewal(
      async () => (obtained++, pair),
      () => lifetime(Date.now(), 90),
      policy,
    );
    await renewal.start(pair);
    renewal.stop();
    expect(obtained).toBe(0);
    expect(renewal.status()).toMatchObject({ state: "valid", failures: 0 });
  });

  it("keeps the installed certificate when a renewal fails, and reports when it retries", async () => {
    const installed: string[] = [];
    let fail = false;
    let now = 1_000_000;
    const renewal = new AcmeRenewal(
      async () => {
        if (fail) throw new Error("CA unreachable");
        return { certPem: `cert${installed.length}`, keyPem: "key" };
      },
      (p) => (installed.push(p.certPem), lifetime(now, 90)),
      policy,
      () => now,
    );
    await renewal.start(undefined);
    expect(installed).toEqual(["cert0"]);

    fail = true;
    now += DAY;
    expect(await renewal.renewNow()).toBe(false);
    expect(await renewal.renewNow()).toBe(false);
    renewal.stop();
    expect(installed).toEqual(["cert0"]);
    expect(renewal.status()).toMatchObject({
      state: "failing",
      failures: 2,
      lastError: "CA unreachable",
      nextAttemptAt: new Date(now + 120_000).toISOString(),
    });
  });

  it("refuses an unusable stored certificate and obtains a new one", async () => {
    const installed: string[] = [];
    const renewal = new AcmeRenewal(
      async () => ({ certPem: "fresh", keyPem: "key" }),
      (p) => {
        if (p.certPem === "broken") throw new Error("the private key does not match the certificate");
        installed.push(p.certPem);
        return lifetime(Date.now(), 90);
      },
      policy,
    );
    await renewal.start({ certPem: "broken", keyPem: "key" });
    renewal.stop();
    expect(installed).toEqual(["fresh"]);
  });
});
