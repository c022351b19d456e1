/**
 * Tells the devices that care that an account's device list changed: the account's own devices and
 * those of everyone sharing a channel with it, so a member device adds the new device to their groups
 * (or removes a revoked one) without polling. The notice is queued like any envelope, so a device that
 * is offline learns it when it comes back. Clients treat it as a hint (shared/src/client/deviceNotice.ts).
 */
import { toHex } from "@qpq/shared/bytes";
import { encodeDeviceNotice } from "@qpq/shared/deviceNotice";
import type { Services } from "./context.ts";

const NO_CHANNEL = new Uint8Array(0);

export async function announceDeviceChange(
  services: Services,
  accountKey: Uint8Array,
  except?: Uint8Array,
): Promise<void> {
  const accounts = new Map<string, Uint8Array>([[toHex(accountKey), accountKey]]);
  for (const channelId of await services.store.listChannels(accountKey)) {
    for (const member of await services.store.getChannelMembers(channelId))
      accounts.set(toHex(member), member);
  }
  const recipients = await services.devices.recipients([...accounts.values()], except);
  if (recipients.length === 0) return;
  // Queues that are full skip the notice (fanOut's rule): the device reconciles when it reconnects.
  await services.delivery.fanOut(recipients, NO_CHANNEL, encodeDeviceNotice(accountKey));
}
