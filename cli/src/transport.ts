/**
 * How the CLI reaches a gateway: the Node WebTransport client of @qpq/transport (client side only; the
 * server is not loaded). A development gateway publishes its self-signed certificate's hash in
 * /.well-known/qpq.json and the connection is pinned to it, as browsers do with
 * serverCertificateHashes. Otherwise the certificate is verified normally against Node's bundled
 * roots, the system store where this Node has one, NODE_EXTRA_CA_CERTS and a --ca file.
 */
import { readFileSync } from "node:fs";
import * as tls from "node:tls";
import { connectWebTransport } from "@qpq/transport/client";
import type { CertificateHash, WebTransportLike } from "@qpq/shared/transport";

export function trustedRoots(caFile?: string): string {
  const roots = [...tls.rootCertificates];
  // tls.getCACertificates arrived in Node 22.15; on older Node the bundled roots are what there is.
  const getCa = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  if (getCa) roots.push(...getCa("system"));
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra) roots.push(readFileSync(extra, "utf8"));
  if (caFile) roots.push(readFileSync(caFile, "utf8"));
  return roots.join("\n");
}

export function transportOpener(
  caFile?: string,
): (url: string, certificateHashes: CertificateHash[]) => WebTransportLike {
  let roots: string | undefined;
  return (url, certificateHashes) => {
    if (certificateHashes.length > 0)
      return connectWebTransport(url, { serverCertificateHashes: certificateHashes });
    roots ??= trustedRoots(caFile);
    return connectWebTransport(url, { ca: roots });
  };
}
