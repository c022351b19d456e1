import { describe, expect, it } from "vitest";
import { ErrorCode } from "../protocol/errors.ts";
import { bytesEqual, toHex, utf8 } from "../util/bytes.ts";
import {
  AtRestDecryptError,
  blindId,
  decodeRecord,
  deriveBlindingKey,
  deriveStateKeyBytes,
  deriveStorageKey,
  encodeRecord,
  importStateKey,
  open,
  seal,
  sha256,
} from "./atRest.ts";

const exportKeyA = new Uint8Array(64).map((_, i) => i);
const exportKeyB = new Uint8Array(64).map((_, i) => 255 - i);

describe("at-rest sealing", () => {
  it("round-trips, including empty and large plaintexts", async () => {
    const key = await deriveStorageKey(exportKeyA, "alice");
    for (const size of [0, 1, 1000, 300 * 1024]) {
      const plaintext = new Uint8Array(size).map((_, i) => (i * 7) & 0xff);
      const sealed = await seal(key, plaintext, "groups\0abc");
      expect(sealed.length).toBe(size + 12 + 16);
      // bytesEqual, not toEqual: deep equality on a 300 KB array takes seconds.
      expect(bytesEqual(await open(key, sealed, "groups\0abc"), plaintext)).toBe(true);
    }
  });

  it("uses a fresh IV each time", async () => {
    const key = await deriveStorageKey(exportKeyA, "alice");
    const a = await seal(key, utf8("same"), "x");
    const b = await seal(key, utf8("same"), "x");
    expect(toHex(a)).not.toBe(toHex(b));
  });

  it("detects tampering anywhere in the sealed bytes", async () => {
    const key = await deriveStorageKey(exportKeyA, "alice");
    const sealed = await seal(key, utf8("attack at dawn"), "aad");
    for (const index of [0, 11, 12, sealed.length - 1]) {
      const tampered = sealed.slice();
      tampered[index]! ^= 1;
      await expect(open(key, tampered, "aad")).rejects.toBeInstanceOf(AtRestDecryptError);
    }
    await expect(open(key, sealed.subarray(0, 20), "aad")).rejects.toThrow(/truncated/);
  });

  it("fails with the wrong key, including the same export key under another username", async () => {
    const sealed = await seal(await deriveStorageKey(exportKeyA, "alice"), utf8("hi"), "aad");
    await expect(open(await deriveStorageKey(exportKeyB, "alice"), sealed, "aad")).rejects.toThrow(
      AtRestDecryptError,
    );
    await expect(open(await deriveStorageKey(exportKeyA, "bob"), sealed, "aad")).rejects.toThrow(
      /at-rest decryption failed/,
    );
  });

  it("binds the associated data", async () => {
    const key = await deriveStorageKey(exportKeyA, "alice");
    const sealed = await seal(key, utf8("hi"), "groups\0one");
    expect(await open(key, sealed, utf8("groups\0one"))).toEqual(utf8("hi"));
    await expect(open(key, sealed, "groups\0two")).rejects.toBeInstanceOf(AtRestDecryptError);
  });

  it("derives the same key for the same export key and username", async () => {
    const sealed = await seal(await deriveStorageKey(exportKeyA, "alice"), utf8("hi"), "aad");
    expect(await open(await deriveStorageKey(exportKeyA, "alice"), sealed, "aad")).toEqual(utf8("hi"));
  });

  it("produces non-extractable keys and rejects short export keys", async () => {
    const key = await deriveStorageKey(exportKeyA, "alice");
    expect(key.extractable).toBe(false);
    expect(key.algorithm).toMatchObject({ name: "AES-GCM", length: 256 });
    await expect(crypto.subtle.exportKey("raw", key)).rejects.toThrow();
    await expect(deriveStorageKey(new Uint8Array(16), "alice")).rejects.toThrow(/too short/);
  });
});

describe("blindId", () => {
  it("is deterministic per key, hex, and differs across usernames and export keys", async () => {
    const alice = await deriveBlindingKey(exportKeyA, "alice");
    const id = await blindId(alice, "group-1");
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await blindId(await deriveBlindingKey(exportKeyA, "alice"), "group-1")).toBe(id);
    expect(await blindId(alice, "group-2")).not.toBe(id);
    expect(await blindId(await deriveBlindingKey(exportKeyA, "bob"), "group-1")).not.toBe(id);
    expect(await blindId(await deriveBlindingKey(exportKeyB, "alice"), "group-1")).not.toBe(id);
  });

  it("is not a plain hash of the input", async () => {
    const id = await blindId(await deriveBlindingKey(exportKeyA, "alice"), "group-1");
    expect(id).not.toBe(toHex(await sha256("group-1")));
  });
});

describe("record encoding", () => {
  it("round-trips records with Uint8Array fields, nested and in arrays", () => {
    const record = {
      name: "ünïcødé ✓",
      n: 42,
      flag: false,
      none: null,
      key: new Uint8Array([0, 1, 2, 254, 255]),
      empty: new Uint8Array(0),
      nested: { list: [new Uint8Array([9]), "x", 1.5] },
    };
    const decoded = decodeRecord<typeof record>(encodeRecord(record));
    expect(decoded).toEqual(record);
    expect(decoded.key).toBeInstanceOf(Uint8Array);
    expect(decoded.nested.list[0]).toBeInstanceOf(Uint8Array);
  });

  it("encodes Node Buffers and subarray views by their visible bytes only", () => {
    const big = new Uint8Array([1, 2, 3, 4, 5]);
    const decoded = decodeRecord<{ a: Uint8Array; b: Uint8Array }>(
      encodeRecord({ a: big.subarray(1, 3), b: Buffer.from([7, 8]) }),
    );
    expect(decoded.a).toEqual(new Uint8Array([2, 3]));
    expect(decoded.b).toEqual(new Uint8Array([7, 8]));
  });

  it("refuses values that would not decode to themselves", () => {
    expect(() => encodeRecord({ $b: "abc" })).toThrow(/reserved/);
    expect(() => encodeRecord({ x: Number.NaN })).toThrow(/non-finite/);
    expect(() => encodeRecord(undefined)).toThrow(/not serializable/);
  });
});

describe("state key bytes (kept between runs by the CLI)", () => {
  it("is the derivation existing state files were sealed with", async () => {
    expect(toHex(await deriveStateKeyBytes(exportKeyA, "alice"))).toBe(
      "7db58942fcc4dd01fdc30cadf6d5481bd4cdaf0ef549352f1a021ce1414e062b",
    );
  });

  it("differs per user and per export key, and seals once imported", async () => {
    const a = await deriveStateKeyBytes(exportKeyA, "alice");
    expect(bytesEqual(a, await deriveStateKeyBytes(exportKeyA, "bob"))).toBe(false);
    expect(bytesEqual(a, await deriveStateKeyBytes(exportKeyB, "alice"))).toBe(false);
    const key = await importStateKey(a);
    expect(toHex(await open(key, await seal(key, utf8("x"), "aad"), "aad"))).toBe("78");
  });

  it("refuses an export key too short to derive from", async () => {
    await expect(deriveStateKeyBytes(new Uint8Array(16), "alice")).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
  });
});
