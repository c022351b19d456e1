import { describe, expect, it } from "vitest";
import { signDeviceCertificate } from "../crypto/deviceCertificate.ts";
import {
  CLASSICAL_SUITE,
  accountKeyOf,
  createIdentity,
  encodeDeviceCredentialIdentity,
  generateKeyPackage,
  parseCredentialIdentity,
  proposalProblem,
  createGroup,
  suiteImpl,
  type Identity,
} from "./index.ts";
import { utf8 } from "../util/bytes.ts";

async function certifiedDevice(
  username: string,
  signer: Identity,
  forUsername = username,
): Promise<Identity> {
  const impl = await suiteImpl(CLASSICAL_SUITE);
  const device = await createIdentity(username, impl);
  const cert = await signDeviceCertificate(
    (m) => impl.signature.sign(signer.signaturePrivateKey, m),
    forUsername,
    device.signaturePublicKey,
    1_700_000_000_000,
  );
  device.credentialIdentity = encodeDeviceCredentialIdentity(
    username,
    signer.signaturePublicKey,
    cert.issuedAtMs,
    cert.signature,
  );
  return device;
}

describe("device credentials", () => {
  it("round-trip, and a plain username is an original device", () => {
    const account = new Uint8Array(32).fill(7);
    const signature = new Uint8Array(64).fill(9);
    const encoded = encodeDeviceCredentialIdentity("bob", account, 123, signature);
    expect(parseCredentialIdentity(encoded)).toEqual({
      username: "bob",
      device: { accountKey: account, issuedAtMs: 123, signature },
    });
    expect(parseCredentialIdentity(utf8("bob"))).toEqual({ username: "bob" });
    // A truncated or padded device credential is neither form.
    expect(parseCredentialIdentity(encoded.subarray(0, encoded.length - 1))).toBeUndefined();
    expect(parseCredentialIdentity(new Uint8Array([...encoded, 0]))).toBeUndefined();
    expect(parseCredentialIdentity(new Uint8Array([0xff, 0xfe]))).toBeUndefined();
  });

  it("speak for the account whose key certified the leaf, and for no one otherwise", async () => {
    const impl = await suiteImpl(CLASSICAL_SUITE);
    const account = await createIdentity("bob", impl);
    const mallory = await createIdentity("mallory", impl);
    const good = await certifiedDevice("bob", account);
    const credential = (id: Identity) => ({
      credentialType: "basic" as const,
      identity: id.credentialIdentity!,
    });
    expect(accountKeyOf(credential(good), good.signaturePublicKey)).toEqual(account.signaturePublicKey);
    // The certificate names another leaf key: a leaf cannot borrow another device's certificate.
    expect(accountKeyOf(credential(good), mallory.signaturePublicKey)).toBeUndefined();
    // Signed by a key that is not the one the credential names.
    const forged = await certifiedDevice("bob", mallory);
    forged.credentialIdentity = encodeDeviceCredentialIdentity(
      "bob",
      account.signaturePublicKey,
      1_700_000_000_000,
      parseCredentialIdentity(forged.credentialIdentity!)!.device!.signature,
    );
    expect(accountKeyOf(credential(forged), forged.signaturePublicKey)).toBeUndefined();
    // A certificate for another username does not hold under this one.
    const renamed = await certifiedDevice("bob", account, "bobby");
    expect(accountKeyOf(credential(renamed), renamed.signaturePublicKey)).toBeUndefined();
    // An original device: the leaf key is the account key.
    expect(
      accountKeyOf({ credentialType: "basic", identity: utf8("bob") }, account.signaturePublicKey),
    ).toEqual(account.signaturePublicKey);
  });

  it("a group refuses to take in a device its account did not certify", async () => {
    const impl = await suiteImpl(CLASSICAL_SUITE);
    const alice = await createIdentity("alice", impl);
    const state = await createGroup(alice, impl);
    const account = await createIdentity("bob", impl);
    const mallory = await createIdentity("mallory", impl);
    const honest = await generateKeyPackage(await certifiedDevice("bob", account), impl);
    const forged = await generateKeyPackage(await certifiedDevice("bob", mallory, "bob"), impl);
    // Relabel the forged device as the account's: its certificate then fails under the named key.
    const add = (kp: typeof honest) => ({
      proposalType: "add" as const,
      add: { keyPackage: kp.publicPackage },
    });
    expect(proposalProblem(state, add(honest), 0)).toBeUndefined();
    const relabelled = await certifiedDevice("bob", mallory);
    relabelled.credentialIdentity = encodeDeviceCredentialIdentity(
      "bob",
      account.signaturePublicKey,
      1_700_000_000_000,
      parseCredentialIdentity(relabelled.credentialIdentity!)!.device!.signature,
    );
    const impostor = await generateKeyPackage(relabelled, impl);
    expect(proposalProblem(state, add(impostor), 0)).toMatch(/did not certify/);
    // Self-consistent (mallory's key certifies mallory's device): it speaks for mallory's key, which
    // the contact check then compares with the directory's key for "bob" (contacts.ts).
    expect(proposalProblem(state, add(forged), 0)).toBeUndefined();
  });
});
