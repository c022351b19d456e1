import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Admission, addressBucket, type AdmissionLimits } from "./admission.ts";
import { RetryTokens } from "./retryToken.ts";

describe("addressBucket", () => {
  it("puts every address of one IPv6 /64 in one bucket, whatever the spelling", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), (groups) => {
        const full = groups.map((g) => g.toString(16).padStart(4, "0")).join(":");
        // The URL parser writes the canonical compressed form (RFC 5952), as dgram reports peers.
        const short = new URL(`http://[${full}]/`).hostname.slice(1, -1);
        const mapped = groups.slice(0, 6).join(",") === "0,0,0,0,0,65535";
        if (mapped) return;
        expect(addressBucket(short)).toBe(addressBucket(full.toUpperCase()));
        expect(addressBucket(full)).toBe(
          groups
            .slice(0, 4)
            .map((g) => g.toString(16))
            .join(":") + "::/64",
        );
      }),
    );
  });

  it("separates /64s, keeps IPv4 addresses apart, and counts mapped IPv4 as IPv4", () => {
    expect(addressBucket("2001:db8::1")).toBe(addressBucket("2001:db8:0:0:ffff:ffff:ffff:ffff"));
    expect(addressBucket("2001:db8::1")).not.toBe(addressBucket("2001:db8:0:1::1"));
    expect(addressBucket("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(addressBucket("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(addressBucket("192.0.2.7")).not.toBe(addressBucket("192.0.2.8"));
  });
});

const limits = (over: Partial<AdmissionLimits> = {}): AdmissionLimits => ({
  maxConnections: 100,
  maxConnectionsPerAddress: 4,
  maxUnvalidated: 10,
  maxUnvalidatedPerAddress: 2,
  retry: "never",
  retryThreshold: 5,
  ...over,
});

describe("Admission", () => {
  it("counts the addresses of one /64 together", () => {
    const a = new Admission(limits());
    const v6 = (host: string) => addressBucket(host);
    a.take(v6("2001:db8::1"), false);
    a.take(v6("2001:db8::2"), false);
    expect(a.decide(v6("2001:db8::ffff:3"), false)).toEqual({
      kind: "drop",
      reason: "unvalidatedPerAddress",
    });
    expect(a.decide(v6("2001:db8:0:1::1"), false)).toEqual({ kind: "accept", validated: false });
  });

  it("frees the unvalidated share once the handshake completes; the per-address total stays", () => {
    const a = new Admission(limits());
    const tickets = [a.take("192.0.2.1", false), a.take("192.0.2.1", false)];
    for (const t of tickets) a.established(t);
    expect(a.stats()).toMatchObject({ connections: 2, unvalidated: 0 });
    a.take("192.0.2.1", false);
    a.take("192.0.2.1", true);
    // Four of any state: even a proven address is refused a fifth.
    expect(a.decide("192.0.2.1", true)).toEqual({ kind: "drop", reason: "perAddress" });
    for (const t of tickets) a.release(t);
    a.release(tickets[0]!); // twice is harmless
    expect(a.stats()).toMatchObject({ connections: 2, unvalidated: 1 });
    expect(a.decide("192.0.2.1", true)).toEqual({ kind: "accept", validated: true });
  });

  it('"auto" answers with Retry at the threshold or a full source, never drops there', () => {
    const a = new Admission(limits({ retry: "auto" }));
    a.take("192.0.2.1", false);
    a.take("192.0.2.1", false);
    expect(a.decide("192.0.2.1", false)).toEqual({ kind: "retry" });
    expect(a.decide("192.0.2.1", true)).toEqual({ kind: "accept", validated: true });
    for (const host of ["192.0.2.2", "192.0.2.3", "192.0.2.3"]) a.take(host, false);
    expect(a.decide("192.0.2.9", false)).toEqual({ kind: "retry" });
  });

  it('"never" drops at the unvalidated cap; the table cap binds everyone', () => {
    const a = new Admission(limits({ maxConnections: 12 }));
    for (let i = 0; i < 10; i++) a.take(`192.0.2.${i}`, false);
    expect(a.decide("192.0.2.50", false)).toEqual({ kind: "drop", reason: "unvalidatedFull" });
    a.take("192.0.2.50", true);
    a.take("192.0.2.51", true);
    expect(a.decide("192.0.2.52", true)).toEqual({ kind: "drop", reason: "tableFull" });
  });
});

describe("RetryTokens", () => {
  const odcid = Buffer.alloc(20, 7);
  const scid = Buffer.alloc(20, 9);

  it("gives back the original DCID for the address and connection id it was minted for", () => {
    const tokens = new RetryTokens();
    const token = tokens.mint("192.0.2.1", odcid, scid);
    const check = tokens.check(token, "192.0.2.1", scid);
    expect(check.kind).toBe("valid");
    if (check.kind === "valid") expect(Buffer.from(check.odcid)).toEqual(odcid);
  });

  it("refuses another address (the port is not bound), another DCID, tampering and other secrets", () => {
    const tokens = new RetryTokens();
    const token = tokens.mint("192.0.2.1", odcid, scid);
    expect(tokens.check(token, "192.0.2.2", scid).kind).toBe("invalid");
    expect(tokens.check(token, "192.0.2.1", odcid).kind).toBe("invalid");
    for (let i = 1; i < token.length; i++) {
      const bad = Buffer.from(token);
      bad[i] = (bad[i] ?? 0) ^ 0x80;
      expect(tokens.check(bad, "192.0.2.1", scid).kind).toBe("invalid");
    }
    expect(tokens.check(token.subarray(0, token.length - 1), "192.0.2.1", scid).kind).toBe("invalid");
    expect(new RetryTokens().check(token, "192.0.2.1", scid).kind).toBe("invalid");
  });

  it("expires", () => {
    let now = 1_000_000;
    const tokens = new RetryTokens(10_000, () => now);
    const token = tokens.mint("192.0.2.1", odcid, scid);
    now += 10_000;
    expect(tokens.check(token, "192.0.2.1", scid).kind).toBe("valid");
    now += 1;
    expect(tokens.check(token, "192.0.2.1", scid).kind).toBe("invalid");
  });

  it("treats no token, or one not in our format, as an unvalidated address", () => {
    const tokens = new RetryTokens();
    expect(tokens.check(undefined, "192.0.2.1", scid).kind).toBe("none");
    expect(tokens.check(new Uint8Array(0), "192.0.2.1", scid).kind).toBe("none");
    expect(tokens.check(Buffer.from("someone else's token"), "192.0.2.1", scid).kind).toBe("none");
  });
});
