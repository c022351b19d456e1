import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { addressKey, parseIPv6, Throttle } from "./throttle.ts";

describe("Throttle", () => {
  const rule = { burst: 3, perMinute: 6 };

  it("allows a burst, then refuses with RateLimited and the time until the next token", () => {
    let now = 0;
    const throttle = new Throttle(() => now);
    for (let i = 0; i < 3; i++) throttle.take([{ key: "u:alice", rule }], "login");
    let error: unknown;
    try {
      throttle.take([{ key: "u:alice", rule }], "login");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(QpqError);
    expect((error as QpqError).code).toBe(ErrorCode.RateLimited);
    expect((error as QpqError).retryAfterMs).toBe(10_000);
    now += 10_000;
    throttle.take([{ key: "u:alice", rule }], "login");
  });

  it("takes from every bucket or from none", () => {
    const throttle = new Throttle(() => 0);
    const tight = { burst: 1, perMinute: 1 };
    throttle.take([{ key: "ip:a", rule: tight }], "login");
    expect(() =>
      throttle.take(
        [
          { key: "u:bob", rule },
          { key: "ip:a", rule: tight },
        ],
        "login",
      ),
    ).toThrow(QpqError);
    // bob's bucket was not charged by the refused attempt.
    for (let i = 0; i < 3; i++) throttle.take([{ key: "u:bob", rule }], "login");
  });

  it("does nothing when disabled", () => {
    const throttle = new Throttle(() => 0, false);
    for (let i = 0; i < 100; i++) throttle.take([{ key: "u:x", rule }], "login");
  });
});

const group = fc.integer({ min: 0, max: 0xffff });
/** Zero groups are frequent in real addresses and are what "::" compresses: generate plenty. */
const groups = fc.array(fc.oneof(group, fc.constant(0)), { minLength: 8, maxLength: 8 });

interface Spelling {
  /** Where the "::" goes: a run of zero groups [start, end), or none. */
  run: [number, number] | undefined;
  padded: boolean[];
  upper: boolean[];
  /** The last two groups as a dotted quad. */
  dotted: boolean;
}

/** Every run of consecutive zero groups, any of which "::" may stand for (RFC 4291 section 2.2). */
function zeroRuns(g: number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (let start = 0; start < 8; start++) {
    for (let end = start + 1; end <= 8 && g[end - 1] === 0; end++) runs.push([start, end]);
  }
  return runs;
}

function spell(g: number[], s: Spelling): string {
  const hexPart = (i: number) => {
    const text = g[i]!.toString(16).padStart(s.padded[i] ? 4 : 1, "0");
    return s.upper[i] ? text.toUpperCase() : text;
  };
  const last = s.dotted ? 6 : 8;
  const parts = (from: number, to: number) => {
    const out: string[] = [];
    for (let i = from; i < Math.min(to, last); i++) out.push(hexPart(i));
    return out;
  };
  const dotted = s.dotted ? [g[6]! >>> 8, g[6]! & 0xff, g[7]! >>> 8, g[7]! & 0xff].join(".") : undefined;
  if (!s.run || s.run[1] > last) {
    return [...parts(0, 8), ...(dotted ? [dotted] : [])].join(":");
  }
  const [start, end] = s.run;
  const head = parts(0, start).join(":");
  const tail = [...parts(end, 8), ...(dotted ? [dotted] : [])].join(":");
  return `${head}::${tail}`;
}

const spelling = (g: number[]) =>
  fc.record<Spelling>({
    run: zeroRuns(g).length
      ? fc.option(fc.constantFrom(...zeroRuns(g)), { nil: undefined })
      : fc.constant(undefined),
    padded: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    upper: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    dotted: fc.boolean(),
  });

const isMapped = (g: number[]) => g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
const prefix64 = (g: number[]) =>
  g
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(":") + "::/64";

describe("addressKey", () => {
  it("puts a compressed address in the /64 it belongs to", () => {
    expect(addressKey("2001:db8::3:0:0:1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("2001:db8:0:0:3::1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("2001:DB8:0000:0000:0003:0000:0000:0001")).toBe("2001:db8:0:0::/64");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(addressKey("[2001:db8::1]")).toBe("2001:db8:0:0::/64");
  });

  it("treats IPv4-mapped addresses as the IPv4 address, in every spelling", () => {
    for (const a of ["::ffff:192.0.2.7", "::FFFF:c000:207", "0:0:0:0:0:ffff:192.0.2.7", "192.0.2.7"]) {
      expect(addressKey(a)).toBe("192.0.2.7");
    }
  });

  it("gives every spelling of an address the key of its /64 (or its IPv4 address)", () => {
    fc.assert(
      fc.property(
        groups.chain((g) => fc.tuple(fc.constant(g), spelling(g))),
        ([g, s]) => {
          const text = spell(g, s);
          expect(parseIPv6(text)).toEqual(g);
          const expected = isMapped(g)
            ? [g[6]! >>> 8, g[6]! & 0xff, g[7]! >>> 8, g[7]! & 0xff].join(".")
            : prefix64(g);
          expect(addressKey(text)).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("separates addresses of different /64s and joins those of one /64", () => {
    fc.assert(
      fc.property(groups, groups, (a, b) => {
        fc.pre(!isMapped(a) && !isMapped(b));
        const sameNet = a.slice(0, 4).every((x, i) => x === b[i]);
        const key = (g: number[]) => addressKey(g.map((x) => x.toString(16)).join(":"));
        expect(key(a) === key(b)).toBe(sameNet);
        // Same /64, any interface id: one bucket.
        const sibling = [...a.slice(0, 4), ...b.slice(4)];
        if (!isMapped(sibling)) expect(key(sibling)).toBe(key(a));
      }),
    );
  });

  it("refuses malformed text as an address (it stays a key of its own)", () => {
    for (const bad of [
      "1::2::3",
      ":::",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      "::1.2.3",
      "::256.0.0.1",
      "1:2:3:4:5:6:7::8",
    ]) {
      expect(parseIPv6(bad)).toBeUndefined();
    }
  });
});
