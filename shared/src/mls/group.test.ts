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
  decodeState,
  encodeState,
  encryptApplication,
  generateKeyPackage,
  inspectKeyPackage,
  joinFromWelcome,
  members,
  policyForSuite,
  processIncoming,
  suiteImpl,
} from "./index.ts";

describe.each([DEFAULT_SUITE, CLASSICAL_SUITE])("MLS group (%s)", (suite) => {
  it("creates a group, adds a member via Welcome, and exchanges messages both ways", async () => {
    const impl = await suiteImpl(suite);
    const alice = await createIdentity("alice", impl);
    const bob = await createIdentity("bob", impl);
    const bobKp = await generateKeyPackage(bob, impl);

    const info = inspectKeyPackage(bobKp.encoded);
    expect(info?.signatureKey).toEqual(bob.signaturePublicKey);
    expect(fromUtf8(info!.credentialIdentity!)).toBe("bob");

    let aliceState = await createGroup(alice, impl);
    const added = await addMembers(aliceState, impl, [decodeKeyPackage(bobKp.encoded)]);
    aliceState = added.state;
    expect(added.welcome).toBeDefined();

    const joined = await joinFromWelcome(
      decodeMessage(added.welcome!),
      (ref) => (ref === bobKp.ref ? bobKp : undefined),
      impl,
      policyForSuite(suite),
    );
    let bobState = joined.state;
    expect(members(bobState).map((m) => m.username)).toEqual(["alice", "bob"]);

    const hello = await encryptApplication(aliceState, impl, utf8("hello bob"));
    aliceState = hello.state;
    const atBob = await processIncoming(bobState, impl, decodeMessage(hello.message));
    expect(atBob.kind).toBe("application");
    if (atBob.kind !== "application") return;
    bobState = atBob.state;
    expect(fromUtf8(atBob.plaintext)).toBe("hello bob");
    expect(atBob.sender.username).toBe("alice");

    // State survives encoding (what the client persists, encrypted).
    bobState = decodeState(encodeState(bobState));
    const reply = await encryptApplication(bobState, impl, utf8("hi alice"));
    const atAlice = await processIncoming(aliceState, impl, decodeMessage(reply.message));
    expect(atAlice.kind === "application" && fromUtf8(atAlice.plaintext)).toBe("hi alice");
    expect(atAlice.kind === "application" && atAlice.sender.username).toBe("bob");
  });

  it("refuses garbage as an MLS message", () => {
    expect(() => decodeMessage(new Uint8Array([1, 2, 3]))).toThrow();
  });
});
