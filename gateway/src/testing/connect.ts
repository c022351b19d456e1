import { GatewayClient, discoverGateway } from "@qpq/shared/client";
import { connectWebTransport } from "@qpq/transport/client";

/** Discovers the gateway at baseUrl and opens a client connection pinned to its certificate hash. */
export async function connectGateway(baseUrl: string, clientName = "qpq-test"): Promise<GatewayClient> {
  const location = await discoverGateway(baseUrl);
  const wt = connectWebTransport(location.webtransportUrl, {
    serverCertificateHashes: location.certificateHashes,
  });
  return GatewayClient.connect(wt, clientName);
}
