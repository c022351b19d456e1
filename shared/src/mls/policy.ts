/**
 * Post-quantum policy: which cipher suites a client accepts for groups it creates or joins.
 *
 * "post-quantum" (the default) refuses any group whose KEM is classical, because a Welcome or commit
 * sealed with X25519 alone can be recorded today and opened by a future quantum adversary. Signatures
 * are not part of this decision: every suite we use signs with Ed25519 (see docs/security/post-quantum.md).
 */
import type { CiphersuiteName } from "ts-mls";
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { CLASSICAL_SUITE, DEFAULT_SUITE } from "./suites.ts";

export type SuitePolicy = "post-quantum" | "classical-allowed";

export const DEFAULT_SUITE_POLICY: SuitePolicy = "post-quantum";

/** True when the suite's HPKE KEM resists a quantum adversary (ML-KEM alone or the X-Wing hybrid). */
export function isPostQuantumSuite(suite: CiphersuiteName): boolean {
  return suite.includes("_XWING_") || suite.includes("_MLKEM");
}

export function suiteAllowed(suite: CiphersuiteName, policy: SuitePolicy): boolean {
  return policy === "classical-allowed" || isPostQuantumSuite(suite);
}

/** Throws E026 SuiteBelowPolicy when the group's suite is weaker than the policy. */
export function assertSuiteAllowed(suite: CiphersuiteName, policy: SuitePolicy): void {
  if (!suiteAllowed(suite, policy)) {
    throw new QpqError(
      ErrorCode.SuiteBelowPolicy,
      `group cipher suite ${suite} is not post-quantum; this client's policy is "${policy}"`,
    );
  }
}

/** The suite new groups use under a policy: X-Wing unless the configuration asks for classical. */
export function suiteForPolicy(policy: SuitePolicy, preferClassical = false): CiphersuiteName {
  return preferClassical && policy === "classical-allowed" ? CLASSICAL_SUITE : DEFAULT_SUITE;
}

/**
 * The policy an account lives by: an account on a post-quantum suite never joins a weaker group; an
 * account configured for the classical suite accepts both.
 */
export function policyForSuite(suite: CiphersuiteName): SuitePolicy {
  return isPostQuantumSuite(suite) ? "post-quantum" : "classical-allowed";
}
