/** Small rules every Store implementation shares for channels, so they cannot drift apart. */

/**
 * Delivery-token hashes kept per channel: the current epoch's and the previous one's, so a sealed
 * message sent just before a commit still gets through, while a member removed by a commit loses
 * sending rights one epoch later at most.
 */
export const TOKEN_EPOCHS_KEPT = 2;

/** Lexicographic byte order (group ids, commit hashes). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
