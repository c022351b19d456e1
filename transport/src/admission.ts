/**
 * Which new QUIC connections the server takes on. A connection whose handshake has not completed
 * costs the server its whole first flight and TLS state, yet its source address may be forged: one
 * UDP socket can send Initials faster than a handshake timeout frees them. So connections are counted
 * by state and by source (IPv6 by /64, the block one subscriber gets), and once unvalidated ones pile
 * up the server answers with a stateless Retry (RFC 9000 §8.1.2) instead of state, which only a
 * client that receives packets at its address can answer.
 */
export type RetryMode = "auto" | "always" | "never";

export interface AdmissionLimits {
  /** Connections of any state; draining ones count, they hold memory. */
  maxConnections: number;
  /** Connections of any state from one address (IPv6: one /64). */
  maxConnectionsPerAddress: number;
  /** Handshakes in progress from addresses no Retry token proved. */
  maxUnvalidated: number;
  maxUnvalidatedPerAddress: number;
  /**
   * "auto": a Retry once `retryThreshold` unvalidated connections exist, or the source already has
   * `maxUnvalidatedPerAddress` (so a client sharing a NAT with a flooder still gets in, one round trip
   * later); below that no client pays the extra round trip. "always": every client proves its
   * address first. "never": the caps simply drop.
   */
  retry: RetryMode;
  retryThreshold: number;
}

export type DropReason =
  "tableFull" | "perAddress" | "unvalidatedFull" | "unvalidatedPerAddress" | "badToken";

export type Verdict =
  { kind: "accept"; validated: boolean } | { kind: "retry" } | { kind: "drop"; reason: DropReason };

/** What an accepted connection holds in the counts until it is released. */
export interface Ticket {
  readonly bucket: string;
  unvalidated: boolean;
  handshaking: boolean;
  released: boolean;
  /** The handshake deadline (InitialGate's). */
  timer: NodeJS.Timeout | null;
}

export interface AdmissionStats {
  /** Gauges. */
  connections: number;
  unvalidated: number;
  /** Counters since start. */
  retriesSent: number;
  handshakeTimeouts: number;
  dropped: Record<DropReason, number>;
}

interface Slot {
  all: number;
  unvalidated: number;
}

export class Admission {
  private readonly slots = new Map<string, Slot>();
  private total = 0;
  private unvalidated = 0;
  readonly counters = {
    retriesSent: 0,
    handshakeTimeouts: 0,
    dropped: { tableFull: 0, perAddress: 0, unvalidatedFull: 0, unvalidatedPerAddress: 0, badToken: 0 },
  };

  constructor(private readonly limits: AdmissionLimits) {}

  /** Decides only; `take` commits an accept once the connection exists. */
  decide(bucket: string, validated: boolean): Verdict {
    const slot = this.slots.get(bucket);
    const l = this.limits;
    if (this.total >= l.maxConnections) return { kind: "drop", reason: "tableFull" };
    if ((slot?.all ?? 0) >= l.maxConnectionsPerAddress) return { kind: "drop", reason: "perAddress" };
    if (validated) return { kind: "accept", validated };
    const sourceFull = (slot?.unvalidated ?? 0) >= l.maxUnvalidatedPerAddress;
    if (
      l.retry === "always" ||
      (l.retry === "auto" && (this.unvalidated >= l.retryThreshold || sourceFull))
    ) {
      return { kind: "retry" };
    }
    if (this.unvalidated >= l.maxUnvalidated) return { kind: "drop", reason: "unvalidatedFull" };
    if (sourceFull) return { kind: "drop", reason: "unvalidatedPerAddress" };
    return { kind: "accept", validated };
  }

  take(bucket: string, validated: boolean): Ticket {
    let slot = this.slots.get(bucket);
    if (!slot) this.slots.set(bucket, (slot = { all: 0, unvalidated: 0 }));
    slot.all++;
    this.total++;
    if (!validated) {
      slot.unvalidated++;
      this.unvalidated++;
    }
    return { bucket, unvalidated: !validated, handshaking: true, released: false, timer: null };
  }

  /** The handshake completed: the peer answered our flight, so its address is no longer in doubt. */
  established(ticket: Ticket): void {
    ticket.handshaking = false;
    if (!ticket.unvalidated || ticket.released) return;
    ticket.unvalidated = false;
    this.unvalidated--;
    const slot = this.slots.get(ticket.bucket);
    if (slot) slot.unvalidated--;
  }

  release(ticket: Ticket): void {
    if (ticket.released) return;
    this.established(ticket);
    ticket.released = true;
    this.total--;
    const slot = this.slots.get(ticket.bucket);
    if (slot && --slot.all === 0) this.slots.delete(ticket.bucket);
  }

  stats(): AdmissionStats {
    return {
      connections: this.total,
      unvalidated: this.unvalidated,
      retriesSent: this.counters.retriesSent,
      handshakeTimeouts: this.counters.handshakeTimeouts,
      dropped: { ...this.counters.dropped },
    };
  }
}

/**
 * The key per-address limits count under: an IPv4 address itself (IPv4-mapped IPv6 included, as a
 * dual-stack socket reports IPv4 peers), an IPv6 address by its /64, since one host or subscriber
 * gets a whole /64 and picks any address in it.
 */
export function addressBucket(address: string): string {
  const host = address.split("%")[0] ?? address;
  if (!host.includes(":")) return host;
  const groups = ipv6Groups(host);
  if (!groups) return host.toLowerCase();
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return [hi >>> 8, hi & 0xff, lo >>> 8, lo & 0xff].join(".");
  }
  return (
    groups
      .slice(0, 4)
      .map((g) => g.toString(16))
      .join(":") + "::/64"
  );
}

/** The eight groups of an IPv6 address in RFC 4291 text form (embedded IPv4 allowed), or null. */
export function ipv6Groups(text: string): number[] | null {
  let body = text;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    const octets = text
      .slice(lastColon + 1)
      .split(".")
      .map(Number);
    if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return null;
    const [a = 0, b = 0, c = 0, d = 0] = octets;
    tail.push((a << 8) | b, (c << 8) | d);
    body = text.slice(0, lastColon + 1);
    if (!body.endsWith("::")) body = body.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    for (const g of part.split(":")) {
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0] ?? "");
  const after = halves.length === 2 ? parse(halves[1] ?? "") : [];
  if (!head || !after) return null;
  const explicit = head.length + after.length + tail.length;
  if (halves.length === 2 ? explicit > 7 : explicit !== 8) return null;
  return [...head, ...new Array<number>(8 - explicit).fill(0), ...after, ...tail];
}
