/**
 * Which certificate the WebTransport endpoint presents, and which hashes the discovery document
 * publishes.
 *
 * - CA mode (QPQ_TLS_CERT / QPQ_TLS_KEY): the operator's certificate, no hashes published: browsers
 *   verify it the normal way.
 * - ACME mode (QPQ_ACME_DOMAIN): like CA mode, but the pair comes from ./acmeRenewal.ts through
 *   replace() instead of from files.
 * - Development mode: a self-signed ECDSA P-256 certificate valid for at most 10 days (Chromium's
 *   serverCertificateHashes accepts ECDSA certificates valid for at most 14 days), kept under
 *   QPQ_DATA_DIR so its hash survives restarts, renewed when 3 days remain. During a renewal both the
 *   new and the previous hash are published, so open pages that reconnect keep working.
 */
import { unwatchFile, watchFile } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { X509Certificate, createHash, createPrivateKey } from "node:crypto";
import { join } from "node:path";
import { log } from "../log.ts";
import { generateSelfSigned } from "@qpq/transport/certificates";

export interface ActiveCertificate {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the leaf's DER encoding. */
  sha256: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}

const VALIDITY_DAYS = 10;
const RENEW_BEFORE_MS = 3 * 24 * 3600 * 1000;
const CHECK_EVERY_MS = 3600 * 1000;

/** Parses and checks a certificate and key: they must belong together, or nothing changes. */
function describe(certPem: string, keyPem: string): ActiveCertificate {
  const x509 = new X509Certificate(certPem);
  if (!x509.checkPrivateKey(createPrivateKey(keyPem))) {
    throw new Error("the private key does not match the certificate");
  }
  return {
    certPem,
    keyPem,
    sha256: new Uint8Array(createHash("sha256").update(x509.raw).digest()),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
  };
}

export class CertificateManager {
  private current: ActiveCertificate;
  private previous: ActiveCertificate | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(cert: ActiveCertificate) => void>();

  private constructor(
    readonly mode: "ca" | "acme" | "self-signed",
    initial: ActiveCertificate,
    private readonly dir: string,
    private readonly hostnames: string[],
  ) {
    this.current = initial;
  }

  /**
   * A CA-issued certificate from files. start() then watches them: a renewal (certbot, lego, ACME)
   * replaces the files, and the new pair is loaded without a restart; established sessions keep the
   * certificate they were set up with. A half-written or mismatched pair is refused and the old one
   * stays in service.
   */
  static async fromFiles(certPath: string, keyPath: string, pollMs = 5000): Promise<CertificateManager> {
    const cert = describe(await readFile(certPath, "utf8"), await readFile(keyPath, "utf8"));
    const manager = new CertificateManager("ca", cert, "", []);
    manager.files = { certPath, keyPath, pollMs };
    return manager;
  }

  /** A pair obtained in-process (ACME); later ones arrive through replace(). */
  static fromPair(certPem: string, keyPem: string): CertificateManager {
    return new CertificateManager("acme", describe(certPem, keyPem), "", []);
  }

  /**
   * Serves a new pair to new connections; established sessions keep theirs. Throws, changing
   * nothing, when the pair is unusable.
   */
  replace(certPem: string, keyPem: string): ActiveCertificate {
    const fresh = describe(certPem, keyPem);
    if (Buffer.from(fresh.sha256).equals(Buffer.from(this.current.sha256))) return fresh;
    this.previous = this.current;
    this.current = fresh;
    for (const listener of this.listeners) listener(fresh);
    return fresh;
  }

  private files: { certPath: string; keyPath: string; pollMs: number } | undefined;

  private async reloadFiles(): Promise<void> {
    if (!this.files) return;
    let fresh: ActiveCertificate;
    try {
      fresh = describe(
        await readFile(this.files.certPath, "utf8"),
        await readFile(this.files.keyPath, "utf8"),
      );
    } catch (error) {
      log.error("certificate files changed but could not be loaded; keeping the current one", {
        error: String(error),
      });
      return;
    }
    if (Buffer.from(fresh.sha256).equals(Buffer.from(this.current.sha256))) return;
    this.previous = this.current;
    this.current = fresh;
    log.info("loaded a renewed certificate", { notAfter: fresh.notAfter.toISOString() });
    for (const listener of this.listeners) listener(fresh);
  }

  /** Loads the stored development certificate, or creates one when it is missing or about to expire. */
  static async selfSigned(
    dataDir: string,
    hostnames: string[],
    now = Date.now(),
  ): Promise<CertificateManager> {
    const dir = join(dataDir, "tls");
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let cert: ActiveCertificate | undefined;
    try {
      const stored = describe(
        await readFile(join(dir, "dev-cert.pem"), "utf8"),
        await readFile(join(dir, "dev-key.pem"), "utf8"),
      );
      if (stored.notAfter.getTime() - now > RENEW_BEFORE_MS) cert = stored;
    } catch {
      // None stored yet, or unreadable: make a new one.
    }
    const manager = new CertificateManager(
      "self-signed",
      cert ?? (await CertificateManager.create(dir, hostnames)),
      dir,
      hostnames,
    );
    return manager;
  }

  private static async create(dir: string, hostnames: string[]): Promise<ActiveCertificate> {
    const generated = await generateSelfSigned({ hostnames, validityDays: VALIDITY_DAYS });
    await writeFile(join(dir, "dev-key.pem"), generated.keyPem, { mode: 0o600 });
    await chmod(join(dir, "dev-key.pem"), 0o600);
    await writeFile(join(dir, "dev-cert.pem"), generated.certPem, { mode: 0o644 });
    log.info("created a self-signed development certificate", { notAfter: generated.notAfter.toISOString() });
    return describe(generated.certPem, generated.keyPem);
  }

  get certificate(): ActiveCertificate {
    return this.current;
  }

  /** Hashes browsers should pin: none for a CA certificate; the current and, while rotating, the previous. */
  publishedHashes(now = Date.now()): Uint8Array[] {
    if (this.mode !== "self-signed") return [];
    const stillValid = this.previous && this.previous.notAfter.getTime() > now;
    return stillValid ? [this.current.sha256, this.previous!.sha256] : [this.current.sha256];
  }

  onChange(listener: (cert: ActiveCertificate) => void): void {
    this.listeners.add(listener);
  }

  /** Starts watching the certificate files (CA mode) or the renewal check (development mode). */
  start(): void {
    if (this.files) {
      const { certPath, keyPath, pollMs } = this.files;
      // Polling stat() follows symlinks, so it also sees certbot's live/ links being repointed,
      // which fs.watch on the link itself can miss.
      const onChange = () => void this.reloadFiles();
      watchFile(certPath, { interval: pollMs }, onChange);
      watchFile(keyPath, { interval: pollMs }, onChange);
      return;
    }
    if (this.mode !== "self-signed" || this.timer) return;
    this.timer = setInterval(() => {
      this.renewIfDue().catch((error: unknown) =>
        log.error("certificate renewal failed", { error: String(error) }),
      );
    }, CHECK_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.files) {
      unwatchFile(this.files.certPath);
      unwatchFile(this.files.keyPath);
    }
  }

  async renewIfDue(now = Date.now(), force = false): Promise<boolean> {
    if (this.mode !== "self-signed") return false;
    if (!force && this.current.notAfter.getTime() - now > RENEW_BEFORE_MS) return false;
    const fresh = await CertificateManager.create(this.dir, this.hostnames);
    this.previous = this.current;
    this.current = fresh;
    for (const listener of this.listeners) listener(fresh);
    return true;
  }
}
