import { describe, expect, it } from "vitest";
import { ErrorCode } from "../protocol/errors.ts";
import { deriveBackupKeys, openAccountBundle, sealAccountBundle } from "./accountBundle.ts";
import { deviceCertificateMessage, verifyDeviceCertificate } from "./deviceCertificate.ts";
import { ed25519 } from "@noble/curves/ed25519.js";

const exportKey = new Uint8Array(64).fill(3);
const account = { publicKey: new Uint8Array(32).fill(1), privateKey: new Uint8Array(48).fill(2) };

describe("account bundle", () => {
  it("opens with the same export key and username only", async () => {
    const bundle = await sealAccountBundle(exportKey, "bob", account);
    expect(await openAccountBundle(exportKey, "bob", bundle)).toEqual(account);
    await expect(openAccountBundle(new Uint8Array(64).fill(4), "bob", bundle)).rejects.toMatchObject({
      code: ErrorCode.StorageUnreadable,
    });
    await expect(openAccountBundle(exportKey, "alice", bundle)).rejects.toMatchObject({
      code: ErrorCode.StorageUnreadable,
    });
    const tampered = bundle.slice();
    tampered[20]! ^= 1;
    await expect(openAccountBundle(exportKey, "bob", tampered)).rejects.toMatchObject({
      code: ErrorCode.StorageUnreadable,
    });
  });

  it("derives the same backup keys from the same account key on every device", async () => {
    const a = await deriveBackupKeys(account.privateKey, "bob");
    const b = await deriveBackupKeys(account.privateKey, "bob");
    const name = new Uint8Array([1, 2, 3]);
    const mac = async (k: CryptoKey) => new Uint8Array(await crypto.subtle.sign("HMAC", k, name));
    expect(await mac(a.name)).toEqual(await mac(b.name));
    const other = await deriveBackupKeys(new Uint8Array(48).fill(5), "bob");
    expect(await mac(other.name)).not.toEqual(await mac(a.name));
  });
});

describe("device certificates", () => {
  it("bind the account key, the username, the device key and the time", () => {
    const secret = new Uint8Array(32).fill(8);
    const accountKey = ed25519.getPublicKey(secret);
    const deviceKey = new Uint8Array(32).fill(6);
    const signature = ed25519.sign(deviceCertificateMessage("bob", deviceKey, 1000), secret);
    const cert = { deviceKey, issuedAtMs: 1000, signature };
    expect(verifyDeviceCertificate(accountKey, "bob", cert)).toBe(true);
    expect(verifyDeviceCertificate(accountKey, "bobby", cert)).toBe(false);
    expect(verifyDeviceCertificate(accountKey, "bob", { ...cert, issuedAtMs: 1001 })).toBe(false);
    expect(verifyDeviceCertificate(accountKey, "bob", { ...cert, deviceKey: new Uint8Array(32) })).toBe(
      false,
    );
    expect(verifyDeviceCertificate(new Uint8Array(32).fill(1), "bob", cert)).toBe(false);
    expect(verifyDeviceCertificate(accountKey, "bob", { ...cert, signature: signature.subarray(1) })).toBe(
      false,
    );
  });
});
