import { describe, expect, it } from "vitest";
import { createHash, X509Certificate } from "node:crypto";
import { generateSelfSigned } from "./selfSigned.ts";

describe("self-signed certificates", () => {
  it("builds an ECDSA P-256 certificate that node parses and verifies", async () => {
    const now = new Date("2030-01-01T00:00:00Z");
    const c = await generateSelfSigned({
      hostnames: ["gw.example", "127.0.0.1", "::1"],
      validityDays: 10,
      now,
    });
    const x = new X509Certificate(c.certPem);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(x.subject).toBe("CN=gw.example");
    expect(x.subjectAltName).toBe("DNS:gw.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    expect(x.checkHost("gw.example")).toBe("gw.example");
    expect(x.checkIP("::1")).toBe("::1");
    expect(x.ca).toBe(false);
    // Chromium's serverCertificateHashes: at most 14 days of validity.
    const days = (Date.parse(x.validTo) - Date.parse(x.validFrom)) / 86_400_000;
    expect(days).toBeLessThanOrEqual(10);
    expect(new Date(x.validTo).getTime()).toBe(c.notAfter.getTime());
    expect(Buffer.from(c.sha256)).toEqual(createHash("sha256").update(x.raw).digest());
    expect(Buffer.from(c.der)).toEqual(x.raw);
    expect(c.keyPem).toContain("BEGIN PRIVATE KEY");
  });

  it("refuses validity above 10 days and empty names", async () => {
    await expect(generateSelfSigned({ hostnames: ["a"], validityDays: 11 })).rejects.toThrow(RangeError);
    await expect(generateSelfSigned({ hostnames: [] })).rejects.toThrow(RangeError);
  });

  it("can be its own trust anchor when asked", async () => {
    const c = await generateSelfSigned({ hostnames: ["localhost"], selfTrusted: true });
    expect(new X509Certificate(c.certPem).ca).toBe(true);
  });
});
