/** Shared by sqliteCrash.test.ts and its child process: deterministic recipients and payloads. */

export const CRASH_RECIPIENTS = 3;

export function crashRecipient(r: number): Uint8Array {
  return new Uint8Array(32).fill(r + 1);
}

/** 512 bytes identifying (recipient, seq), so the test can check content as well as presence. */
export function crashPayload(r: number, seq: number): Uint8Array {
  const payload = new Uint8Array(512).fill(seq % 251);
  payload.set(new TextEncoder().encode(`r=${r} seq=${seq};`));
  return payload;
}
