/**
 * Runs Pebble (Let's Encrypt's test ACME server, Debian package `pebble`) on loopback for the ACME
 * tests. Its HTTPS listener gets a certificate made here (the Debian package ships none); the tests
 * trust that certificate explicitly through QPQ_ACME_CA_FILE. Pebble's issuing CA is generated at
 * every start and read from its management interface.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import { generateSelfSigned } from "@qpq/transport/certificates";

export interface Pebble {
  directoryUrl: string;
  /** The PEM file to trust for Pebble's HTTPS listener (directory and management). */
  caFile: string;
  /** PEM of the root that signs Pebble's intermediate, which issues the leaves. */
  issuingRoot(): Promise<string>;
  issuingIntermediate(): Promise<string>;
  /** Stops the server; its files (the CA file above) stay until cleanup(). */
  stop(): Promise<void>;
  cleanup(): void;
}

export function findPebble(): string | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter).concat(["/usr/bin", "/usr/local/bin"]);
  return dirs.map((dir) => join(dir, "pebble")).find((path) => existsSync(path));
}

/** A port that was free a moment ago (Pebble needs the gateway's HTTP port before either starts). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

function fetchPem(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode}`)),
      );
    }).on("error", reject);
  });
}

/** Starts Pebble; it validates HTTP-01 challenges by fetching from `validationHttpPort` on loopback. */
export async function startPebble(binary: string, validationHttpPort: number): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), "qpq-pebble-"));
  const tls = await generateSelfSigned({ hostnames: ["127.0.0.1", "localhost"], selfTrusted: true });
  writeFileSync(join(dir, "cert.pem"), tls.certPem);
  writeFileSync(join(dir, "key.pem"), tls.keyPem, { mode: 0o600 });
  const [listenPort, managementPort, tlsPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listenPort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: join(dir, "cert.pem"),
        privateKey: join(dir, "key.pem"),
        httpPort: validationHttpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
      },
    }),
  );
  const child: ChildProcess = spawn(binary, ["-config", join(dir, "config.json")], {
    env: {
      ...process.env,
      // No random validation delays; the real validation still happens.
      PEBBLE_VA_NOSLEEP: "1",
      // Pebble rejects 5% of valid nonces by default to exercise client retries; acme-client's
      // retries are switched off in the gateway (its own backoff covers failures), so without this
      // the test would fail at random.
      PEBBLE_WFE_NONCEREJECT: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const onLine = (line: string) => {
      output += line + "\n";
      if (line.includes("Listening on") && !line.includes("management")) resolve();
    };
    createInterface({ input: child.stdout! }).on("line", onLine);
    createInterface({ input: child.stderr! }).on("line", onLine);
    child.once("exit", (code) => reject(new Error(`pebble exited with ${code}:\n${output}`)));
  });
  const caFile = join(dir, "cert.pem");
  const management = `https://127.0.0.1:${managementPort}`;
  return {
    directoryUrl: `https://127.0.0.1:${listenPort}/dir`,
    caFile,
    issuingRoot: () => fetchPem(`${management}/roots/0`, tls.certPem),
    issuingIntermediate: () => fetchPem(`${management}/intermediates/0`, tls.certPem),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
