/**
 * The server endpoint's door for Initial packets that would open a connection: checks a Retry token
 * if there is one, asks Admission, answers with a Retry, and keeps each accepted connection's
 * handshake deadline. Everything it does before accepting is stateless, so a flood of forged
 * Initials costs the server one HMAC (and at most one small Retry packet) each.
 */
import { randomBytes } from "node:crypto";
import { quiche } from "@matrixai/quic/native/index.js";
import type { Header, Host } from "@matrixai/quic/native/types.js";
import {
  Admission,
  addressBucket,
  type AdmissionLimits,
  type AdmissionStats,
  type Ticket,
} from "./admission.ts";
import { RetryTokens } from "./retryToken.ts";

const CID_LEN = 20;
const INITIAL = 0; // quiche.Type.Initial
/** A flood counts as over once this long passes without a drop or a Retry. */
const QUIET_MS = 10_000;

export interface Admitted {
  bucket: string;
  dcid: Uint8Array;
  /** The client's original DCID, from its Retry token; null when it came without one. */
  odcid: Uint8Array | null;
}

export type Notice = (msg: string, fields: Record<string, unknown>) => void;

export class InitialGate {
  readonly admission: Admission;
  private readonly tokens = new RetryTokens();
  private episode: { since: number; start: AdmissionStats; last: number; timer: NodeJS.Timeout } | null =
    null;

  constructor(
    private readonly limits: AdmissionLimits & { handshakeTimeoutMs: number },
    private readonly maxUdpPayload: number,
    private readonly send: (packet: Uint8Array, to: Host) => void,
    private readonly notice?: Notice,
  ) {
    this.admission = new Admission(limits);
  }

  /** A packet for no known connection: null unless it is an Initial that may open one. */
  screen(msg: Buffer, remote: Host): Admitted | null {
    // Client Initials are padded to 1200 bytes (RFC 9000 §14.1): smaller packets cannot open one.
    if (msg.length < 1200) return null;
    let header: Header;
    try {
      header = quiche.Header.fromSlice(msg, CID_LEN);
    } catch {
      return null; // not QUIC: dropped silently
    }
    if (header.ty !== INITIAL) return null;
    if (!quiche.versionIsSupported(header.version)) {
      const out = Buffer.allocUnsafe(this.maxUdpPayload);
      this.send(out.subarray(0, quiche.negotiateVersion(header.scid, header.dcid, out)), remote);
      return null;
    }
    return this.admit(header, remote);
  }

  /** Null when the Initial was dropped or answered with a Retry. */
  private admit(header: Header, remote: Host): Admitted | null {
    const bucket = addressBucket(remote.host);
    // Header fields are native getters that copy (a few µs each): read once, this runs per Initial.
    const dcid = header.dcid;
    const token = this.tokens.check(header.token, remote.host, dcid);
    // An invalid token is dropped, not refused with INVALID_TOKEN (RFC 9000 §8.1.3 allows either):
    // a close would need connection state for an address that is likely forged.
    const verdict =
      token.kind === "invalid"
        ? ({ kind: "drop", reason: "badToken" } as const)
        : this.admission.decide(bucket, token.kind === "valid");
    if (verdict.kind === "accept") {
      return { bucket, dcid, odcid: token.kind === "valid" ? token.odcid : null };
    }
    const counters = this.admission.counters;
    if (verdict.kind === "drop") {
      counters.dropped[verdict.reason]++;
    } else {
      const newScid = this.randomCid();
      const retryToken = this.tokens.mint(remote.host, dcid, newScid);
      const out = Buffer.allocUnsafe(this.maxUdpPayload);
      const n = quiche.retry(header.scid, dcid, newScid, retryToken, header.version, out);
      this.send(out.subarray(0, n), remote);
      counters.retriesSent++;
    }
    this.pressure(verdict.kind === "drop" ? verdict.reason : "retry");
    return null;
  }

  /** Counts an accepted connection; `expire` runs at the handshake deadline and says if it reaped. */
  take(admitted: Admitted, expire: () => boolean): Ticket {
    const ticket = this.admission.take(admitted.bucket, admitted.odcid !== null);
    ticket.timer = setTimeout(() => {
      ticket.timer = null;
      if (ticket.handshaking && !ticket.released && expire()) this.admission.counters.handshakeTimeouts++;
    }, this.limits.handshakeTimeoutMs);
    ticket.timer.unref();
    return ticket;
  }

  established(ticket: Ticket): void {
    this.clearTimer(ticket);
    this.admission.established(ticket);
  }

  release(ticket: Ticket): void {
    this.clearTimer(ticket);
    this.admission.release(ticket);
  }

  stats(): AdmissionStats {
    return this.admission.stats();
  }

  stop(): void {
    if (this.episode) clearInterval(this.episode.timer);
    this.episode = null;
  }

  private cidPool = Buffer.alloc(0);

  /** randomBytes costs about as much per call for 20 bytes as for 1280; a flood needs many. */
  private randomCid(): Buffer {
    if (this.cidPool.length < CID_LEN) this.cidPool = randomBytes(CID_LEN * 64);
    const cid = this.cidPool.subarray(0, CID_LEN);
    this.cidPool = this.cidPool.subarray(CID_LEN);
    return cid;
  }

  private clearTimer(ticket: Ticket): void {
    if (ticket.timer) clearTimeout(ticket.timer);
    ticket.timer = null;
  }

  /** One line when a flood starts and one when it is over, with what it cost, never one per packet. */
  private pressure(reason: string): void {
    const now = performance.now();
    if (this.episode) {
      this.episode.last = now;
      return;
    }
    if (!this.notice) return;
    const start = this.stats();
    this.notice("quic admission under pressure", { first: reason, ...gauges(start) });
    const timer = setInterval(() => {
      const episode = this.episode;
      if (!episode || performance.now() - episode.last < QUIET_MS) return;
      this.stop();
      const end = this.stats();
      this.notice?.("quic admission pressure over", {
        durationMs: Math.round(episode.last - episode.since),
        retriesSent: end.retriesSent - episode.start.retriesSent,
        dropped: Object.fromEntries(
          Object.entries(end.dropped).map(([k, v]) => [
            k,
            v - episode.start.dropped[k as keyof typeof end.dropped],
          ]),
        ),
      });
    }, QUIET_MS / 2);
    timer.unref();
    this.episode = { since: now, start, last: now, timer };
  }
}

function gauges(s: AdmissionStats): Record<string, number> {
  return { connections: s.connections, unvalidated: s.unvalidated };
}
