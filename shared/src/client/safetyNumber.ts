/**
 * Safety numbers: a short string two people compare (in person, or over another channel they trust)
 * to confirm that the identity keys their devices use are each other's, and not a key the gateway
 * substituted. Built like Signal's: each side's key and name are hashed 5,200 times with SHA-512 (so
 * grinding a look-alike key is expensive), turned into 30 digits, and the two halves are ordered so
 * both people see the same 60 digits.
 */
import { sha512 } from "@noble/hashes/sha2.js";
import { concatBytes, utf8 } from "../util/bytes.ts";

const ITERATIONS = 5200;
const VERSION = new Uint8Array([0, 1]);

function half(username: string, identityKey: Uint8Array): string {
  let hash = sha512(concatBytes(VERSION, identityKey, utf8(username)));
  for (let i = 0; i < ITERATIONS; i++) hash = sha512(concatBytes(hash, identityKey));
  let digits = "";
  for (let chunk = 0; chunk < 6; chunk++) {
    let value = 0;
    // Five bytes (40 bits) per group of five digits keeps the modulo bias negligible.
    for (let i = 0; i < 5; i++) value = value * 256 + hash[chunk * 5 + i]!;
    digits += String(value % 100_000).padStart(5, "0");
  }
  return digits;
}

export interface Party {
  username: string;
  identityKey: Uint8Array;
}

/** 60 digits in 12 groups of 5, identical on both sides. */
export function safetyNumber(a: Party, b: Party): string {
  const halves = [half(a.username, a.identityKey), half(b.username, b.identityKey)].sort();
  const digits = halves.join("");
  return digits.match(/\d{5}/g)!.join(" ");
}
