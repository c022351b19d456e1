/**
 * `npm start` and the test harness run this file. It prints one machine-readable line with the bound
 * ports ("QPQ_READY {...}") so wrappers using port 0 learn where the gateway listens.
 */
import { loadConfig } from "./config.ts";
import { startGateway } from "./gateway.ts";
import { errorFields, log } from "./log.ts";

async function main(): Promise<void> {
  const config = loadConfig();
  const gateway = await startGateway(config);
  process.stdout.write(
    `QPQ_READY ${JSON.stringify({ httpPort: gateway.httpPort, wtPort: gateway.wtPort, host: config.host })}\n`,
  );
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) process.exit(1);
    log.info("shutting down", { signal });
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error("shutdown failed", errorFields(error));
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  // Operators (and the ACME tests) force a renewal with SIGHUP, e.g. after a suspected key leak.
  process.on("SIGHUP", () => {
    log.info("renewing the certificate on SIGHUP");
    void gateway.renewCertificate();
  });
}

process.on("unhandledRejection", (reason) => log.error("unhandled rejection", errorFields(reason)));

main().catch((error: unknown) => {
  log.error("gateway failed to start", errorFields(error));
  process.exit(1);
});
