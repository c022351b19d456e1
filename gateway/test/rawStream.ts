import { FrameDecoder } from "@qpq/shared/protocol";
import { discoverGateway } from "@qpq/shared/client";
import { connectWebTransport } from "@qpq/transport/client";

/**
 * One request stream to the gateway spoken raw: write any bytes, read back whole frames. For tests that
 * send malformed input or need the exact bytes of each response.
 */
export async function openRawStream(baseUrl: string) {
  const location = await discoverGateway(baseUrl);
  const wt = connectWebTransport(location.webtransportUrl, {
    serverCertificateHashes: location.certificateHashes,
  });
  await wt.ready;
  const stream = await wt.createBidirectionalStream();
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const decoder = new FrameDecoder();
  const queued: Uint8Array[] = [];
  return {
    wt,
    write: (bytes: Uint8Array) => writer.write(bytes),
    end: () => writer.close(),
    close: () => wt.close(),
    /** The next response frame's message bytes (no length prefix), or undefined when the stream ended. */
    async nextFrame(): Promise<Uint8Array | undefined> {
      while (queued.length === 0) {
        const { value, done } = await reader.read();
        if (done) return undefined;
        queued.push(...decoder.push(value));
      }
      return queued.shift();
    },
  };
}
