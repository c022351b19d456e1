/**
 * Device notices: the gateway's hint that an account's device list changed (a device was added or
 * revoked), queued to every device of the account and of everyone sharing a channel with it. A hint
 * only: the receiver fetches the list and checks every certificate itself (devices.ts), so a forged or
 * replayed notice costs one lookup and changes nothing.
 *
 * Payload: DEVICE_NOTICE_TYPE || version 1 || account key (32). MLS messages start with 0x00 and
 * invitations with 0x51, so the first byte tells them apart.
 */
export const DEVICE_NOTICE_TYPE = 0x44;
const VERSION = 1;
const KEY_BYTES = 32;

export function encodeDeviceNotice(accountKey: Uint8Array): Uint8Array {
  if (accountKey.length !== KEY_BYTES) throw new RangeError("an account key is 32 bytes");
  const out = new Uint8Array(2 + KEY_BYTES);
  out[0] = DEVICE_NOTICE_TYPE;
  out[1] = VERSION;
  out.set(accountKey, 2);
  return out;
}

/** The account a notice names, or undefined when the payload is not a device notice. */
export function parseDeviceNotice(payload: Uint8Array): Uint8Array | undefined {
  if (payload.length !== 2 + KEY_BYTES || payload[0] !== DEVICE_NOTICE_TYPE || payload[1] !== VERSION) {
    return undefined;
  }
  return payload.slice(2);
}
