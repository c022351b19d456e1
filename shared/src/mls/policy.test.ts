import { describe, expect, it } from "vitest";
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import {
  CLASSICAL_SUITE,
  DEFAULT_SUITE,
  addMembers,
  createGroup,
  createIdentity,
  decodeKeyPackage,
  decodeMessage,
  generateKeyPackage,
  isPostQuantumSuite,
  joinFromWelcome,
  policyForSuite,
  suiteImpl,
} from "./index.ts";

describe("post-quantum policy", () => {
  it("classifies suites by their KEM", () => {
    expect(isPostQuantumSuite(DEFAULT_SUITE)).toBe(true);
    expect(isPostQuantumSuite("MLS_256_MLKEM768_AES256GCM_SHA384_Ed25519")).toBe(true);
    expect(isPostQuantumSuite(CLASSICAL_SUITE)).toBe(false);
    expect(policyForSuite(DEFAULT_SUITE)).toBe("post-quantum");
    expect(policyForSuite(CLASSICAL_SUITE)).toBe("classical-allowed");
  });

  async function classicalWelcome() {
    const impl = await suiteImpl(CLASSICAL_SUITE);
    const alice = await createIdentity("alice", impl);
    const bob = await createIdentity("bob", impl);
    const bobKp = await generateKeyPackage(bob, impl);
    const added = await addMembers(await createGroup(alice, impl), impl, [decodeKeyPackage(bobKp.encoded)]);
    return { impl, bobKp, welcome: decodeMessage(added.welcome!) };
  }

  it("a client configured for post-quantum refuses to join a classical group (E026)", async () => {
    const { impl, bobKp, welcome } = await classicalWelcome();
    const join = joinFromWelcome(welcome, () => bobKp, impl, "post-quantum");
    await expect(join).rejects.toBeInstanceOf(QpqError);
    await expect(join).rejects.toSatisfy((e) => (e as QpqError).code === ErrorCode.SuiteBelowPolicy);
  });

  it("the post-quantum policy is the default, and classical-allowed joins the same group", async () => {
    const { impl, bobKp, welcome } = await classicalWelcome();
    await expect(joinFromWelcome(welcome, () => bobKp, impl)).rejects.toSatisfy(
      (e) => e instanceof QpqError && e.code === ErrorCode.SuiteBelowPolicy,
    );
    const joined = await joinFromWelcome(welcome, () => bobKp, impl, "classical-allowed");
    expect(joined.state.groupContext.cipherSuite).toBe(CLASSICAL_SUITE);
  });
});
