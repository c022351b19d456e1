/**
 * Obtains a certificate for one domain over ACME (RFC 8555) with acme-client, answering the HTTP-01
 * challenge from the gateway's own HTTP server: the CA fetches
 * http://<domain>/.well-known/acme-challenge/<token> and the HTTP server asks challengeResponse().
 */
import { Agent } from "node:https";
import * as acme from "acme-client";
import { log } from "../log.ts";
import type { AcmeStore, CertificatePair } from "./acmeStore.ts";

export interface AcmeIssuerOptions {
  domain: string;
  email: string | undefined;
  directoryUrl: string;
  /**
   * PEM roots trusted for the connection to the ACME server instead of Node's bundled ones: for a
   * private CA (step-ca, Pebble in tests). Verification stays on either way.
   */
  directoryCaPem: string | undefined;
  store: AcmeStore;
}

// acme-client retries failed requests itself with waits of up to a minute; the renewal scheduler
// already retries with its own backoff, and one policy is easier to reason about than two nested ones.
// acmeSettings is acme-client's own addition to its axios defaults, absent from the axios types.
const acmeDefaults = acme.axios.defaults as unknown as { acmeSettings: Record<string, unknown> };
acmeDefaults.acmeSettings = { ...acmeDefaults.acmeSettings, retryMaxAttempts: 0 };

export class AcmeIssuer {
  private readonly pending = new Map<string, string>();

  constructor(private readonly opts: AcmeIssuerOptions) {}

  /** The key authorization for a token while its challenge is open; undefined otherwise. */
  challengeResponse(token: string): string | undefined {
    return this.pending.get(token);
  }

  async obtain(): Promise<CertificatePair> {
    const { domain, store } = this.opts;
    await store.prepare();
    const accountKey = await store.accountKey(async () =>
      (await acme.crypto.createPrivateEcdsaKey("P-256")).toString(),
    );
    const accountUrl = await store.accountUrl();
    const client = new acme.Client({
      directoryUrl: this.opts.directoryUrl,
      accountKey,
      accountUrl,
      // Order and challenge status polls: start quickly, back off to a polite interval.
      backoffMin: 500,
      backoffMax: 10_000,
    });
    this.applyTrust();
    // A fresh key per certificate: a leaked old key stops mattering once its certificate expires.
    // ECDSA P-256 is what browsers and quiche handle best.
    const [keyPem, csr] = await acme.crypto.createCsr(
      { commonName: domain, altNames: [domain] },
      await acme.crypto.createPrivateEcdsaKey("P-256"),
    );
    const certPem = await client
      .auto({
        csr,
        email: this.opts.email,
        termsOfServiceAgreed: true,
        challengePriority: ["http-01"],
        // The self-check would fetch the challenge from the domain's port 80 from inside the server,
        // which fails behind NAT without hairpinning; the CA's own validation is what counts.
        skipChallengeVerification: true,
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
          this.pending.set(challenge.token, keyAuthorization);
        },
        challengeRemoveFn: async (_authz, challenge) => {
          this.pending.delete(challenge.token);
        },
      })
      .catch(async (error: unknown) => {
        // The CA forgot the account (a test CA restarted, staging was reset): register anew next time.
        if (accountUrl && /accountDoesNotExist|account does not exist/i.test(String(error))) {
          await store.saveAccountUrl(undefined);
        }
        throw error;
      });
    if (!accountUrl) await store.saveAccountUrl(client.getAccountUrl());
    const pair = { certPem, keyPem: keyPem.toString() };
    await store.saveCertificate(pair);
    log.info("obtained a certificate over ACME", { domain, directory: this.opts.directoryUrl });
    return pair;
  }

  /** acme-client has one shared HTTP client; this gateway runs one issuer, so setting it here is scoped enough. */
  private applyTrust(): void {
    acme.axios.defaults.httpsAgent = this.opts.directoryCaPem
      ? new Agent({ ca: this.opts.directoryCaPem })
      : undefined;
  }
}
