import { dismissNewDevices } from "../app/devices.ts";
import { useApp } from "../app/store.ts";

/**
 * A device added to the account, shown until dismissed: someone with the password can add one, and
 * this is how the account's owner finds out (docs/cryptography/devices.md).
 */
export function NewDeviceNotice() {
  const added = useApp((s) => s.newDevices);
  if (added.length === 0) return null;
  return (
    <div role="alert" className="device-notice">
      {added.map((name, i) => (
        <p key={`${i}-${name}`}>A new device was added to your account: {name}</p>
      ))}
      <p className="muted">Not you? Revoke it in Devices and change your password.</p>
      <button type="button" className="link" onClick={() => useApp.setState({ view: "devices" })}>
        Review devices
      </button>
      <button type="button" className="link" onClick={dismissNewDevices}>
        Dismiss
      </button>
    </div>
  );
}

/** On a new device: the account's history is being read from its backup. */
export function RestoreStatus() {
  const restore = useApp((s) => s.restore);
  if (!restore) return null;
  return (
    <div role="status" aria-label="History" className="offline-note">
      {restore.state === "running"
        ? "Restoring history…"
        : `History restored: ${restore.messages} ${restore.messages === 1 ? "message" : "messages"}.`}
      {restore.state === "done" && (
        <button type="button" className="link" onClick={() => useApp.setState({ restore: undefined })}>
          Dismiss
        </button>
      )}
    </div>
  );
}
