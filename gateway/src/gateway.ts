/**
 * Composes the gateway from its parts: store, OPAQUE, delivery, certificates, the WebTransport
 * endpoint and the HTTP server. main.ts runs it as a process; tests and benchmarks start it in a
 * child process through main.ts too, so they exercise exactly what operators run.
 */
import { isIP } from "node:net";
import type { GatewayConfig } from "./config.ts";
import { discoveryDocument } from "./http/discovery.ts";
import { startHttpServer } from "./http/httpServer.ts";
import { errorFields, log } from "./log.ts";
import { ClientConnection, totalBudget, type ServedSession } from "./rpc/connection.ts";
import { createServices } from "./services/createServices.ts";
import { openStore } from "./store/index.ts";
import { AcmeCertificates } from "./tls/acme.ts";
import { CertificateManager } from "./tls/certManager.ts";
import { startWebTransportServer, type WebTransportServer } from "@qpq/transport";

export interface RunningGateway {
  httpPort: number;
  wtPort: number;
  certificateHashes: () => Uint8Array[];
  /** Renews an ACME certificate now (operator signal); false when not in ACME mode or it failed. */
  renewCertificate(): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startGateway(config: GatewayConfig): Promise<RunningGateway> {
  const store = await openStore({
    kind: config.store,
    dataDir: config.dataDir,
    synchronous: config.sqliteSynchronous,
  });
  const services = await createServices(config, store);
  const now = services.now;

  const acme = config.acme ? await AcmeCertificates.create(config.acme, config.dataDir) : undefined;
  const connections = new Set<ClientConnection>();
  let wt: WebTransportServer | undefined;
  let certs: CertificateManager | undefined;

  // The HTTP server comes first: ACME validates over it before there is a certificate to serve.
  const http = await startHttpServer(config.host, config.httpPort, {
    webRoot: config.webRoot,
    discovery: () =>
      wt && certs
        ? discoveryDocument(config.publicHost, wt.port, config.wtPath, certs.publishedHashes())
        : undefined,
    health: () => ({
      status: "ok",
      uptimeMs: now() - services.startedAtMs,
      certificate: certificateHealth(certs, acme),
      ...(config.healthDetails
        ? {
            connections: connections.size,
            subscribers: services.delivery.subscriberCount,
            // What peers have not read yet, summed over connections (QPQ_TOTAL_BUFFER_BYTES bounds it).
            bufferedBytes: totalBudget(services).used,
            counters: services.metrics.snapshot(),
            ...(wt ? { quic: wt.stats } : {}),
          }
        : {}),
    }),
    acmeChallenge: acme ? (token) => acme.challengeResponse(token) : undefined,
  });

  try {
    certs = acme
      ? await acme.start()
      : config.tlsCertPath && config.tlsKeyPath
        ? await CertificateManager.fromFiles(config.tlsCertPath, config.tlsKeyPath, config.tlsPollMs)
        : await CertificateManager.selfSigned(config.dataDir, certificateNames(config));
    wt = await startWebTransportServer({
      host: config.host,
      port: config.wtPort,
      certPem: certs.certificate.certPem,
      keyPem: certs.certificate.keyPem,
      path: config.wtPath,
      limits: config.quic,
      onNotice: (msg, fields) => log.warn(msg, fields),
      onSession: (session: ServedSession) => {
        const connection = new ClientConnection(session, services);
        connections.add(connection);
        void connection.serve().finally(() => connections.delete(connection));
      },
    });
  } catch (error) {
    acme?.stop();
    http.server.close();
    await store.close();
    throw error;
  }
  const endpoint = wt;
  const served = certs;
  served.onChange((cert) => endpoint.setCertificate(cert.certPem, cert.keyPem));
  served.start();

  // Expired sessions are refused on use; this only keeps the table from growing forever.
  const sweep = setInterval(() => {
    store
      .deleteExpiredSessions(now())
      .catch((error: unknown) => log.warn("session sweep failed", errorFields(error)));
  }, 3600_000);
  sweep.unref();

  log.info("gateway listening", {
    http: `http://${hostForUrl(config.host)}:${http.port}`,
    webtransport: `https://${hostForUrl(config.publicHost)}:${endpoint.port}${config.wtPath}`,
    store: config.store === "sqlite" ? config.dataDir : "memory",
    tls: served.mode,
  });

  let stopping: Promise<void> | undefined;
  return {
    httpPort: http.port,
    wtPort: endpoint.port,
    certificateHashes: () => served.publishedHashes(),
    renewCertificate: async () => (acme ? await acme.renewNow() : false),
    stop() {
      stopping ??= (async () => {
        clearInterval(sweep);
        served.stop();
        acme?.stop();
        http.server.close();
        http.server.closeAllConnections();
        // Close-session capsules go out first so pages see a clean close, not "Connection lost".
        await endpoint.close();
        for (const connection of connections) connection.close();
        await services.delivery
          .drain()
          .catch((error: unknown) => log.error("drain failed", errorFields(error)));
        await store.close();
      })();
      return stopping;
    },
  };
}

function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** Names the development certificate covers: the public host plus the loopback names browsers use. */
function certificateNames(config: GatewayConfig): string[] {
  return [...new Set([config.publicHost, config.host, "localhost", "127.0.0.1", "::1"])].filter(
    (h) => h !== "0.0.0.0" && h !== "::",
  );
}

/** What /healthz says about the certificate: enough to alert on a renewal that keeps failing. */
function certificateHealth(
  certs: CertificateManager | undefined,
  acme: AcmeCertificates | undefined,
): Record<string, unknown> {
  const current = certs?.certificate;
  return {
    mode: certs?.mode ?? (acme ? "acme" : "starting"),
    notAfter: current?.notAfter.toISOString(),
    sha256: current && Buffer.from(current.sha256).toString("hex"),
    ...(acme ? { acme: publicRenewalStatus(acme.status()) } : {}),
  };
}

/**
 * /healthz is public: an ACME error message can name internal addresses, resolvers or account
 * details, so it stays in the log and only its time shows here.
 */
function publicRenewalStatus(status: ReturnType<AcmeCertificates["status"]>): Record<string, unknown> {
  const { lastError: _inLogOnly, ...rest } = status;
  return rest;
}
