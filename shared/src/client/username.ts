/**
 * What a username is, for the gateway and every client alike. Names are compared after NFKC
 * normalization and lowercasing, so "Alice" and "alice" (or look-alike compatibility forms such as
 * fullwidth letters) cannot be registered as two different people, and a name typed in any of those
 * forms finds the same user. A client must canonicalize before comparing a name with one the gateway
 * or an MLS credential carries: the credential holds the canonical form.
 */
import { ErrorCode, QpqError } from "../protocol/errors.ts";

const USERNAME = /^[a-z0-9][a-z0-9._-]{0,31}$/;

/**
 * The canonical form of a username; throws E007 InvalidArgument when it is not a valid one.
 * Whitespace is not trimmed: " bob" is refused rather than silently becoming someone's name.
 */
export function canonicalUsername(raw: string): string {
  const name = raw.normalize("NFKC").toLowerCase();
  if (!USERNAME.test(name)) {
    throw new QpqError(
      ErrorCode.InvalidArgument,
      "username must be 1-32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
    );
  }
  return name;
}

/** Whether two spellings name the same user (false when either is not a valid username). */
export function sameUsername(a: string, b: string): boolean {
  try {
    return canonicalUsername(a) === canonicalUsername(b);
  } catch {
    return false;
  }
}
