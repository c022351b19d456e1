/**
 * Automatic certificates (QPQ_ACME_DOMAIN), as Caddy does them: the gateway obtains its certificate
 * from an ACME CA, answers HTTP-01 on its HTTP server, keeps account key and certificate under
 * QPQ_DATA_DIR, renews in the background and swaps the new certificate in for new connections
 * through the CertificateManager, so established sessions are not dropped.
 */
import { readFile } from "node:fs/promises";
import type { AcmeConfig } from "../config.ts";
import { AcmeIssuer } from "./acmeIssuer.ts";
import { AcmeRenewal, type InstalledCertificate, type RenewalStatus } from "./acmeRenewal.ts";
import { AcmeStore, type CertificatePair } from "./acmeStore.ts";
import { CertificateManager } from "./certManager.ts";

export class AcmeCertificates {
  private readonly issuer: AcmeIssuer;
  private readonly store: AcmeStore;
  private readonly renewal: AcmeRenewal;
  private manager: CertificateManager | undefined;

  private constructor(
    config: AcmeConfig,
    dataDir: string,
    directoryCaPem: string | undefined,
    now: () => number,
  ) {
    this.store = new AcmeStore(dataDir, config.directoryUrl, config.domain);
    this.issuer = new AcmeIssuer({
      domain: config.domain,
      email: config.email,
      directoryUrl: config.directoryUrl,
      directoryCaPem,
      store: this.store,
    });
    this.renewal = new AcmeRenewal(
      () => this.issuer.obtain(),
      (pair) => this.install(pair, now()),
      config,
      now,
    );
  }

  static async create(config: AcmeConfig, dataDir: string, now = Date.now): Promise<AcmeCertificates> {
    const caPem = config.directoryCaFile ? await readFile(config.directoryCaFile, "utf8") : undefined;
    return new AcmeCertificates(config, dataDir, caPem, now);
  }

  /** For GET /.well-known/acme-challenge/<token> on the HTTP server. */
  challengeResponse(token: string): string | undefined {
    return this.issuer.challengeResponse(token);
  }

  /** Resolves once a certificate is in service: the stored one, or a newly obtained one. */
  async start(): Promise<CertificateManager> {
    await this.store.prepare();
    await this.renewal.start(await this.store.loadCertificate());
    return this.manager!;
  }

  renewNow(): Promise<boolean> {
    return this.renewal.renewNow();
  }

  status(): RenewalStatus {
    return this.renewal.status();
  }

  stop(): void {
    this.renewal.stop();
  }

  private install(pair: CertificatePair, now: number): InstalledCertificate {
    if (!this.manager) {
      const manager = CertificateManager.fromPair(pair.certPem, pair.keyPem);
      if (manager.certificate.notAfter.getTime() <= now) throw new Error("the certificate has expired");
      this.manager = manager;
      return manager.certificate;
    }
    return this.manager.replace(pair.certPem, pair.keyPem);
  }
}
