import { describe, expect, it } from "vitest";
import {
  DEFAULT_PADDING,
  addMembers,
  createGroup,
  createIdentity,
  decodeKeyPackage,
  decodeMessage,
  encryptApplication,
  generateKeyPackage,
  joinFromWelcome,
  padme,
  paddedLength,
  processIncoming,
  suiteImpl,
} from "./index.ts";

/** AES-GCM's tag: the ciphertext is the padded content plus 16 bytes. */
const TAG = 16;

describe("padding buckets", () => {
  it("Padmé rounds to lengths whose low bits are zero, with at most 12% overhead", () => {
    expect([1, 2, 9, 100, 1000, 5000, 70_000].map(padme)).toEqual([1, 2, 10, 104, 1024, 5120, 71_680]);
    for (let n = 3; n < 100_000; n += 97) {
      expect(padme(n)).toBeGreaterThanOrEqual(n);
      expect(padme(n)).toBeLessThanOrEqual(n * 1.12 + 1);
    }
  });

  it("uses 256-byte blocks up to 4 KiB, Padmé beyond", () => {
    expect(paddedLength(1, DEFAULT_PADDING)).toBe(256);
    expect(paddedLength(256, DEFAULT_PADDING)).toBe(256);
    expect(paddedLength(257, DEFAULT_PADDING)).toBe(512);
    expect(paddedLength(4096, DEFAULT_PADDING)).toBe(4096);
    expect(paddedLength(4097, DEFAULT_PADDING)).toBe(padme(4097));
    expect(paddedLength(17, { kind: "off" })).toBe(17);
  });

  it("real MLS ciphertexts of 1 to 2,000 byte plaintexts have only the promised sizes", async () => {
    const impl = await suiteImpl();
    const alice = await createIdentity("alice", impl);
    const bob = await createIdentity("bob", impl);
    const bobKp = await generateKeyPackage(bob, impl);
    const added = await addMembers(await createGroup(alice, impl), impl, [decodeKeyPackage(bobKp.encoded)]);
    let state = added.state;
    let bobState = (
      await joinFromWelcome(
        decodeMessage(added.welcome!),
        (ref) => (ref === bobKp.ref ? bobKp : undefined),
        impl,
      )
    ).state;

    const ciphertexts = new Set<number>();
    const messages = new Set<number>();
    for (let n = 1; n <= 2000; n++) {
      const sealed = await encryptApplication(state, impl, new Uint8Array(n).fill(0x61));
      state = sealed.state;
      const decoded = decodeMessage(sealed.message);
      if (decoded.wireformat !== "mls_private_message") throw new Error("not a PrivateMessage");
      ciphertexts.add(decoded.privateMessage.ciphertext.length);
      messages.add(sealed.message.length);
      if (n % 100 === 0 || n === 1) {
        // Padding is stripped on receipt: the plaintext comes back exactly.
        const opened = await processIncoming(bobState, impl, decoded);
        if (opened.kind !== "application") throw new Error("not an application message");
        bobState = opened.state;
        expect(opened.plaintext.length).toBe(n);
      }
    }
    // Content = plaintext<V> + signature<V> (65 bytes): 1..2000 bytes of text fill 1..9 blocks.
    const promised = [256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304].map((b) => b + TAG);
    expect([...ciphertexts].sort((a, b) => a - b)).toEqual(promised);
    // Whole messages: a fixed header around each bucket, so also exactly nine sizes.
    expect(messages.size).toBe(promised.length);
  }, 120_000);

  it("turned off, sizes follow the plaintext", async () => {
    const impl = await suiteImpl();
    const state = await createGroup(await createIdentity("alice", impl), impl);
    const a = await encryptApplication(state, impl, new Uint8Array(10), { kind: "off" });
    const b = await encryptApplication(a.state, impl, new Uint8Array(11), { kind: "off" });
    expect(b.message.length - a.message.length).toBe(1);
  });
});
