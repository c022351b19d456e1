/**
 * Where ACME state lives under QPQ_DATA_DIR:
 *
 *   acme/                                  0700
 *     <directory slug>/                    0700  one per ACME server (staging and production differ)
 *       account-key.pem                    0600  the ACME account's private key
 *       account-url.txt                    0600  the account's URL at that server
 *       <domain>/                          0700
 *         cert.pem                         0600  leaf followed by the chain, as the CA sent it
 *         key.pem                          0600  the certificate's private key
 *
 * The account key is per ACME server because an account exists at one server only. Files are written
 * to a temporary name and renamed, so a crash never leaves a half-written certificate behind.
 */
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface CertificatePair {
  certPem: string;
  keyPem: string;
}

/** A file-system-safe name for a directory URL: host, port and path, nothing else. */
export function directorySlug(directoryUrl: string): string {
  const url = new URL(directoryUrl);
  return `${url.host}${url.pathname}`.replace(/[^A-Za-z0-9.-]+/g, "_").replace(/_+$/, "");
}

async function privateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask and ignored for existing directories.
  await chmod(path, 0o700);
}

async function writePrivate(path: string, content: string): Promise<void> {
  const temporary = `${path}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

export class AcmeStore {
  readonly accountDir: string;
  readonly domainDir: string;

  constructor(dataDir: string, directoryUrl: string, domain: string) {
    this.accountDir = join(dataDir, "acme", directorySlug(directoryUrl));
    this.domainDir = join(this.accountDir, domain);
  }

  async prepare(): Promise<void> {
    await privateDir(join(this.accountDir, ".."));
    await privateDir(this.accountDir);
    await privateDir(this.domainDir);
  }

  /** The stored account key, or a new one from `create` that is stored before it is used. */
  async accountKey(create: () => Promise<string>): Promise<string> {
    const path = join(this.accountDir, "account-key.pem");
    const stored = await readIfPresent(path);
    if (stored) return stored;
    const key = await create();
    await writePrivate(path, key);
    return key;
  }

  /** Without it, acme-client would look the account up by key and send an update Pebble refuses. */
  async accountUrl(): Promise<string | undefined> {
    return (await readIfPresent(join(this.accountDir, "account-url.txt")))?.trim() || undefined;
  }

  async saveAccountUrl(url: string | undefined): Promise<void> {
    const path = join(this.accountDir, "account-url.txt");
    if (url) await writePrivate(path, url);
    else await rm(path, { force: true });
  }

  async loadCertificate(): Promise<CertificatePair | undefined> {
    const certPem = await readIfPresent(join(this.domainDir, "cert.pem"));
    const keyPem = await readIfPresent(join(this.domainDir, "key.pem"));
    return certPem && keyPem ? { certPem, keyPem } : undefined;
  }

  /** Key first: a reader that sees the new certificate also finds its key. */
  async saveCertificate(pair: CertificatePair): Promise<void> {
    await writePrivate(join(this.domainDir, "key.pem"), pair.keyPem);
    await writePrivate(join(this.domainDir, "cert.pem"), pair.certPem);
  }
}
