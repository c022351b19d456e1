import { readFileSync } from "node:fs";
import { XWing } from "@noble/post-quantum/hybrid.js";
import { describe, expect, it } from "vitest";
import { fromHex, fromUtf8, toHex, utf8 } from "../util/bytes.ts";
import {
  HybridEnvelopeError,
  hybridKeyPair,
  hybridKeyPairFromIdentity,
  isHybridPublicKey,
  openHybrid,
  sealHybrid,
} from "./hybridEnvelope.ts";

interface Vector {
  seed: string;
  pk: string;
  eseed: string;
  ct: string;
  ss: string;
}
const fixture = JSON.parse(
  readFileSync(new URL("./fixtures/xwing-draft10-vectors.json", import.meta.url), "utf8"),
) as { source: string; vectors: Vector[] };

describe(`X-Wing against ${fixture.source}`, () => {
  it.each(fixture.vectors.map((v, i) => [i, v] as const))("vector %i", (_, v) => {
    const keys = XWing.keygen(fromHex(v.seed));
    expect(toHex(keys.publicKey)).toBe(v.pk);
    expect(toHex(keys.secretKey)).toBe(v.seed);
    const enc = XWing.encapsulate(fromHex(v.pk), fromHex(v.eseed));
    expect(toHex(enc.cipherText)).toBe(v.ct);
    expect(toHex(enc.sharedSecret)).toBe(v.ss);
    expect(toHex(XWing.decapsulate(fromHex(v.ct), fromHex(v.seed)))).toBe(v.ss);
  });
});

describe("hybrid envelope", () => {
  const bob = hybridKeyPair();

  it("seals to a public key and opens with the key pair", () => {
    const envelope = sealHybrid(bob.publicKey, utf8("a Welcome for bob"), "welcome");
    expect(envelope.length).toBe(1 + 1120 + "a Welcome for bob".length + 16);
    expect(fromUtf8(openHybrid(bob, envelope, "welcome"))).toBe("a Welcome for bob");
  });

  it("is randomized: the same payload seals differently each time", () => {
    const a = sealHybrid(bob.publicKey, utf8("x"), "welcome");
    const b = sealHybrid(bob.publicKey, utf8("x"), "welcome");
    expect(toHex(a)).not.toBe(toHex(b));
  });

  it("refuses another recipient, another context, a flipped bit, a wrong version and truncation", () => {
    const envelope = sealHybrid(bob.publicKey, utf8("secret"), "welcome");
    expect(() => openHybrid(hybridKeyPair(), envelope, "welcome")).toThrow(HybridEnvelopeError);
    expect(() => openHybrid(bob, envelope, "first-contact")).toThrow(HybridEnvelopeError);
    for (const at of [1, 600, 1121, envelope.length - 1]) {
      const bad = envelope.slice();
      bad[at]! ^= 1;
      expect(() => openHybrid(bob, bad, "welcome")).toThrow(HybridEnvelopeError);
    }
    const versioned = envelope.slice();
    versioned[0] = 2;
    expect(() => openHybrid(bob, versioned, "welcome")).toThrow(/version/);
    expect(() => openHybrid(bob, envelope.subarray(0, 1130), "welcome")).toThrow(/short/);
  });

  it("refuses a malformed public key", () => {
    expect(() => sealHybrid(new Uint8Array(32), utf8("x"), "welcome")).toThrow(HybridEnvelopeError);
    expect(isHybridPublicKey(bob.publicKey)).toBe(true);
    expect(isHybridPublicKey(new Uint8Array(1216).fill(0xff))).toBe(false);
    expect(isHybridPublicKey(new Uint8Array(100))).toBe(false);
  });

  it("derives the same key pair from the same identity key, and different ones otherwise", () => {
    const a = hybridKeyPairFromIdentity(new Uint8Array(32).fill(1));
    const again = hybridKeyPairFromIdentity(new Uint8Array(32).fill(1));
    const other = hybridKeyPairFromIdentity(new Uint8Array(32).fill(2));
    expect(toHex(a.publicKey)).toBe(toHex(again.publicKey));
    expect(toHex(a.publicKey)).not.toBe(toHex(other.publicKey));
  });
});
