import {
  defaultCryptoProvider,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  type CiphersuiteImpl,
  type CiphersuiteName,
} from "ts-mls";
import { describe, expect, it } from "vitest";
import { fromUtf8, utf8 } from "../util/bytes.ts";
import {
  CLASSICAL_SUITE,
  DEFAULT_SUITE,
  addMembers,
  createGroup,
  createIdentity,
  decodeKeyPackage,
  decodeMessage,
  encryptApplication,
  generateKeyPackage,
  joinFromWelcome,
  policyForSuite,
  processIncoming,
  selfUpdate,
  suiteImpl,
} from "./index.ts";

/** What ts-mls uses without a provider: what clients built before the switch ran. */
const webCryptoImpl = (suite: CiphersuiteName) =>
  getCiphersuiteImpl(getCiphersuiteFromName(suite), defaultCryptoProvider);

async function expectText(
  state: Parameters<typeof processIncoming>[0],
  impl: CiphersuiteImpl,
  message: Uint8Array,
  text: string,
) {
  const out = await processIncoming(state, impl, decodeMessage(message));
  expect(out.kind).toBe("application");
  if (out.kind !== "application") throw new Error("not an application message");
  expect(fromUtf8(out.plaintext)).toBe(text);
  return out.state;
}

describe.each([DEFAULT_SUITE, CLASSICAL_SUITE])("crypto provider interop (%s)", (suite) => {
  it("derives the same HKDF output as the WebCrypto provider", async () => {
    const ours = (await suiteImpl(suite)).kdf;
    const theirs = (await webCryptoImpl(suite)).kdf;
    expect(ours.size).toBe(theirs.size);
    const ikm = Uint8Array.from({ length: 48 }, (_, i) => i * 7);
    for (const salt of [new Uint8Array(0), Uint8Array.from({ length: ours.size }, (_, i) => 255 - i)]) {
      const prk = await ours.extract(salt, ikm);
      expect(prk).toEqual(await theirs.extract(salt, ikm));
      for (const length of [16, 32, ours.size, 3 * ours.size + 5]) {
        expect(await ours.expand(prk, utf8("MLS 1.0 test"), length)).toEqual(
          await theirs.expand(prk, utf8("MLS 1.0 test"), length),
        );
      }
    }
    const badSalt = new Uint8Array(ours.size - 1);
    await expect(ours.extract(badSalt, ikm)).rejects.toThrow();
    await expect(theirs.extract(badSalt, ikm)).rejects.toThrow();
  });

  it.each([
    ["WebCrypto creator, JavaScript-crypto member", true],
    ["JavaScript-crypto creator, WebCrypto member", false],
  ])("%s: join, messages and commits both ways", async (_name, creatorUsesWebCrypto) => {
    const js = await suiteImpl(suite);
    const webCrypto = await webCryptoImpl(suite);
    const [a, b] = creatorUsesWebCrypto ? [webCrypto, js] : [js, webCrypto];

    const bobKp = await generateKeyPackage(await createIdentity("bob", b), b);
    const carolKp = await generateKeyPackage(await createIdentity("carol", a), a);
    const added = await addMembers(await createGroup(await createIdentity("alice", a), a), a, [
      decodeKeyPackage(bobKp.encoded),
      decodeKeyPackage(carolKp.encoded),
    ]);
    let alice = added.state;
    let bob = (
      await joinFromWelcome(
        decodeMessage(added.welcome!),
        (ref) => (ref === bobKp.ref ? bobKp : undefined),
        b,
        policyForSuite(suite),
      )
    ).state;

    const hello = await encryptApplication(alice, a, utf8("hello bob"));
    alice = hello.state;
    bob = await expectText(bob, b, hello.message, "hello bob");

    // A commit with an update path: HPKE to the copath, path secrets through HKDF, a new epoch.
    const update = await selfUpdate(bob, b);
    bob = update.state;
    const applied = await processIncoming(alice, a, decodeMessage(update.commit));
    expect(applied.kind).toBe("handshake");
    alice = applied.state;

    const reply = await encryptApplication(bob, b, utf8("hi alice"));
    alice = await expectText(alice, a, reply.message, "hi alice");

    const back = await selfUpdate(alice, a);
    const atBob = await processIncoming(bob, b, decodeMessage(back.commit));
    bob = atBob.state;
    const last = await encryptApplication(back.state, a, utf8("after two commits"));
    await expectText(bob, b, last.message, "after two commits");
  });
});
