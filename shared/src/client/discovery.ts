/**
 * Finds the gateway from its web address: GET /.well-known/qpq.json names the WebTransport URL and,
 * for a development certificate, the SHA-256 hashes to pin (WebTransport's serverCertificateHashes).
 */
import { ErrorCode, PROTOCOL_VERSION, QpqError } from "../protocol/index.ts";
import type { CertificateHash } from "../transport/webtransport.ts";
import { fromBase64Url } from "../util/bytes.ts";

export interface GatewayLocation {
  protocolVersion: number;
  webtransportUrl: string;
  certificateHashes: CertificateHash[];
}

export function parseDiscovery(json: unknown): GatewayLocation {
  const doc = json as { protocolVersion?: unknown; webtransport?: unknown; certificateHashes?: unknown };
  if (typeof doc?.webtransport !== "string" || !/^https:\/\//.test(doc.webtransport)) {
    throw new QpqError(ErrorCode.Unavailable, "discovery document has no https WebTransport URL");
  }
  const hashes = Array.isArray(doc.certificateHashes) ? doc.certificateHashes : [];
  return {
    protocolVersion: typeof doc.protocolVersion === "number" ? doc.protocolVersion : PROTOCOL_VERSION,
    webtransportUrl: doc.webtransport,
    certificateHashes: hashes
      .filter((h): h is string => typeof h === "string")
      .map((h) => ({ algorithm: "sha-256" as const, value: fromBase64Url(h) })),
  };
}

export async function discoverGateway(
  baseUrl: string,
  fetchImpl: typeof fetch = fetch,
): Promise<GatewayLocation> {
  const url = new URL("/.well-known/qpq.json", baseUrl);
  const response = await fetchImpl(url, { cache: "no-store" });
  if (!response.ok) {
    throw new QpqError(ErrorCode.Unavailable, `discovery failed: HTTP ${response.status} from ${url.href}`);
  }
  return parseDiscovery(await response.json());
}
