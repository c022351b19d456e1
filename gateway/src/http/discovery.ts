import { PROTOCOL_VERSION } from "@qpq/shared/protocol";
import { toBase64 } from "@qpq/shared/bytes";

/** GET /.well-known/qpq.json: how browsers and tools find and pin the WebTransport endpoint. */
export interface DiscoveryDocument {
  protocolVersion: number;
  webtransport: string;
  /** base64 SHA-256 of the DER certificate(s) to pin; empty with a CA-issued certificate. */
  certificateHashes: string[];
}

export function discoveryDocument(
  publicHost: string,
  wtPort: number,
  wtPath: string,
  certificateHashes: Uint8Array[],
): DiscoveryDocument {
  const host = publicHost.includes(":") ? `[${publicHost}]` : publicHost;
  return {
    protocolVersion: PROTOCOL_VERSION,
    webtransport: `https://${host}:${wtPort}${wtPath}`,
    certificateHashes: certificateHashes.map(toBase64),
  };
}
