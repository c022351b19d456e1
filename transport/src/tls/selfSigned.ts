/**
 * Self-signed ECDSA P-256 certificates for development and for browsers that pin the certificate by
 * hash (WebTransport serverCertificateHashes: Chromium accepts only ECDSA and at most 14 days of
 * validity; we stay at or below 10). The DER is built by ./der.ts and signed with node:crypto.
 */
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { isIP } from "node:net";
import * as der from "./der.ts";

export interface SelfSignedOptions {
  /** DNS names and IP addresses for the subjectAltName; the first is also the subject CN. */
  hostnames: string[];
  /** At most 10. */
  validityDays?: number;
  /** Defaults to now; notBefore is set a minute earlier to absorb small clock differences. */
  now?: Date;
  /**
   * Also mark it as a CA (basicConstraints CA, keyCertSign), so that it can be its own trust anchor
   * for clients that verify against a CA file (BoringSSL refuses a non-CA self-signed anchor).
   * Not for browsers' serverCertificateHashes.
   */
  selfTrusted?: boolean;
}

export interface SelfSignedCertificate {
  certPem: string;
  keyPem: string;
  /** The certificate's DER encoding. */
  der: Uint8Array;
  /** SHA-256 of `der`: the value for serverCertificateHashes. */
  sha256: Uint8Array;
  notAfter: Date;
}

const MAX_DAYS = 10;
const DAY_MS = 24 * 3600 * 1000;

function ipBytes(ip: string): Uint8Array {
  if (isIP(ip) === 4) return Uint8Array.from(ip.split(".").map(Number));
  const [head = "", tail] = ip.split("::");
  const groups = (s: string): number[] => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  if (all.length !== 8 || all.some((g) => !(g >= 0 && g <= 0xffff))) throw new Error(`unsupported IP ${ip}`);
  return Uint8Array.from(all.flatMap((g) => [g >> 8, g & 0xff]));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? der.sequence(der.oid(id), der.booleanTrue(), der.octetString(value))
    : der.sequence(der.oid(id), der.octetString(value));
}

function pem(label: string, bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n");
  return `-----BEGIN ${label}-----\n${b64.trimEnd()}\n-----END ${label}-----\n`;
}

export async function generateSelfSigned(opts: SelfSignedOptions): Promise<SelfSignedCertificate> {
  const days = opts.validityDays ?? MAX_DAYS;
  if (!(days > 0 && days <= MAX_DAYS)) throw new RangeError(`validityDays must be in (0, ${MAX_DAYS}]`);
  if (opts.hostnames.length === 0) throw new RangeError("at least one hostname is required");
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
  const now = opts.now ?? new Date();
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 60_000);
  const notAfter = new Date(notBefore.getTime() + days * DAY_MS);

  const ecdsaWithSha256 = der.sequence(der.oid("1.2.840.10045.4.3.2"));
  const name = der.sequence(
    der.set(der.sequence(der.oid("2.5.4.3"), der.utf8String(opts.hostnames[0] ?? ""))),
  );
  const san = der.sequence(
    ...opts.hostnames.map((h) =>
      isIP(h) ? der.implicitPrimitive(7, ipBytes(h)) : der.implicitPrimitive(2, new TextEncoder().encode(h)),
    ),
  );
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f; // positive, and 16 bytes stay within RFC 5280's 20
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)), // v3
    der.unsignedInteger(serial),
    ecdsaWithSha256,
    name,
    der.sequence(der.time(notBefore), der.time(notAfter)),
    name,
    spki,
    der.explicit(
      3,
      der.sequence(
        // basicConstraints (cA) and keyUsage (digitalSignature, plus keyCertSign for a CA)
        extension("2.5.29.19", true, opts.selfTrusted ? der.sequence(der.booleanTrue()) : der.sequence()),
        extension(
          "2.5.29.15",
          true,
          opts.selfTrusted ? der.bitString(Uint8Array.of(0x84), 2) : der.bitString(Uint8Array.of(0x80), 7),
        ),
        extension("2.5.29.37", false, der.sequence(der.oid("1.3.6.1.5.5.7.3.1"))), // extKeyUsage: serverAuth
        extension("2.5.29.17", false, san),
      ),
    ),
  );
  const signature = sign("sha256", tbs, { key: privateKey, dsaEncoding: "der" });
  const cert = der.sequence(tbs, ecdsaWithSha256, der.bitString(new Uint8Array(signature)));
  return {
    certPem: pem("CERTIFICATE", cert),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    der: cert,
    sha256: new Uint8Array(createHash("sha256").update(cert).digest()),
    notAfter,
  };
}
