/**
 * A UDP relay for tests that sits between a QUIC client and server on loopback and loses, reorders
 * and delays datagrams. Decisions come from a seeded PRNG so a failing seed can be replayed; which
 * packet meets which decision still depends on timing, so the seed fixes the pattern, not the trace.
 */
import dgram from "node:dgram";

export interface RelayOptions {
  /** Where the real server listens (loopback). */
  target: { host: string; port: number };
  /** Fraction of datagrams dropped, each direction, 0..1. */
  loss: number;
  /** Fraction of the datagrams that survive which are held back and sent after later ones. */
  reorder?: number;
  /** Longest a held datagram waits for later traffic before it is sent anyway. */
  maxHoldMs?: number;
  /** At most this many datagrams held per direction; beyond it they pass straight through. */
  maxHeld?: number;
  seed: number;
}

export interface RelayStats {
  forwarded: number;
  dropped: number;
  reordered: number;
}

export interface LossyRelay {
  /** Port clients connect to instead of the server's. */
  readonly port: number;
  readonly stats: RelayStats;
  /** Changes the loss rate from now on (e.g. 1 to cut the path, 0 to heal it). */
  setLoss(loss: number): void;
  close(): Promise<void>;
}

/** mulberry32: small, fast and good enough to spread drop decisions; seeded for replay. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function bindUdp(): Promise<dgram.Socket> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => {
      socket.off("error", reject);
      resolve();
    });
  });
  // Big buffers so that the loss is the configured one rather than overflow on a loaded machine.
  try {
    socket.setRecvBufferSize(4 * 1024 * 1024);
    socket.setSendBufferSize(4 * 1024 * 1024);
  } catch {
    // capped or refused: the relay then loses a little more than asked
  }
  // Send errors (e.g. the server already gone at teardown) are loss as far as QUIC is concerned.
  socket.on("error", () => {});
  return socket;
}

/** One direction's hold queue: a held datagram leaves after the next one passed, or after maxHoldMs. */
class Lane {
  private held: Array<{ msg: Buffer; timer: NodeJS.Timeout }> = [];

  constructor(
    private readonly out: (msg: Buffer) => void,
    private readonly maxHeld: number,
    private readonly maxHoldMs: number,
  ) {}

  hold(msg: Buffer): boolean {
    if (this.held.length >= this.maxHeld) return false;
    const entry = {
      msg,
      timer: setTimeout(() => {
        this.held = this.held.filter((e) => e !== entry);
        this.out(msg);
      }, this.maxHoldMs),
    };
    this.held.push(entry);
    return true;
  }

  /** Sends `msg`, then whatever was held back before it: those arrive out of order. */
  pass(msg: Buffer): void {
    this.out(msg);
    const held = this.held;
    this.held = [];
    for (const e of held) {
      clearTimeout(e.timer);
      this.out(e.msg);
    }
  }

  clear(): void {
    for (const e of this.held) clearTimeout(e.timer);
    this.held = [];
  }
}

export async function startLossyRelay(opts: RelayOptions): Promise<LossyRelay> {
  const random = seededRandom(opts.seed);
  let loss = opts.loss;
  const reorder = opts.reorder ?? 0;
  const maxHeld = opts.maxHeld ?? 4;
  const maxHoldMs = opts.maxHoldMs ?? 20;
  const stats: RelayStats = { forwarded: 0, dropped: 0, reordered: 0 };
  const front = await bindUdp();
  // One upstream socket per client address, so the server sees one peer per client as usual.
  const upstreams = new Map<string, { socket: dgram.Socket; toServer: Lane }>();
  const lanes: Lane[] = [];
  let closed = false;

  const route = (lane: Lane, msg: Buffer): void => {
    if (closed) return;
    if (random() < loss) {
      stats.dropped++;
      return;
    }
    stats.forwarded++;
    if (reorder > 0 && random() < reorder && lane.hold(msg)) {
      stats.reordered++;
      return;
    }
    lane.pass(msg);
  };

  const pending = new Map<string, Promise<{ socket: dgram.Socket; toServer: Lane }>>();
  const upstreamFor = (rinfo: dgram.RemoteInfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    const known = upstreams.get(key);
    if (known) return known;
    let p = pending.get(key);
    if (!p) {
      p = bindUdp().then((socket) => {
        // A client's first datagram can race close(): do not leave a socket behind it.
        if (closed) socket.close();
        const toServer = new Lane(
          (m) => !closed && socket.send(m, opts.target.port, opts.target.host),
          maxHeld,
          maxHoldMs,
        );
        const toClient = new Lane(
          (m) => !closed && front.send(m, rinfo.port, rinfo.address),
          maxHeld,
          maxHoldMs,
        );
        lanes.push(toServer, toClient);
        socket.on("message", (msg) => route(toClient, msg));
        const up = { socket, toServer };
        upstreams.set(key, up);
        pending.delete(key);
        return up;
      });
      pending.set(key, p);
    }
    return p;
  };

  front.on("message", (msg, rinfo) => {
    const up = upstreamFor(rinfo);
    if ("then" in up) void up.then((u) => route(u.toServer, msg));
    else route(up.toServer, msg);
  });

  return {
    port: front.address().port,
    stats,
    setLoss(l: number) {
      loss = l;
    },
    async close() {
      closed = true;
      for (const lane of lanes) lane.clear();
      const sockets = [front, ...[...upstreams.values()].map((u) => u.socket)];
      await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
