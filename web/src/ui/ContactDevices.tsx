import { useState } from "react";
import { contactDevices, type ContactDevice } from "../app/devices.ts";
import { describeError } from "../app/errors.ts";

/**
 * Per-device detail on request: the safety number covers the account key; this lists the devices
 * that key vouches for, so two people can compare device by device.
 */
export function ContactDevices({ name }: { name: string }) {
  const [devices, setDevices] = useState<ContactDevice[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const load = () => {
    setBusy(true);
    setError(undefined);
    contactDevices(name)
      .then(setDevices, (e: unknown) => setError(describeError(e)))
      .finally(() => setBusy(false));
  };
  if (!devices) {
    return (
      <p>
        <button type="button" className="link" disabled={busy} onClick={load}>
          {`Show ${name}'s devices`}
        </button>
        {error && (
          <span role="alert" className="error">
            {" "}
            {error}
          </span>
        )}
      </p>
    );
  }
  return (
    <section aria-label={`Devices of ${name}`}>
      <p>
        {name}&apos;s account key vouches for {devices.length} {devices.length === 1 ? "device" : "devices"}.
        Compare fingerprints on {name}&apos;s device list:
      </p>
      <ul className="devices">
        {devices.map((d) => (
          <li key={d.id}>
            <code>{d.fingerprint}</code>
            <span className="muted">
              {" "}
              added {new Date(d.createdAtMs).toLocaleDateString()}
              {d.revoked && " · revoked"}
            </span>
          </li>
        ))}
      </ul>
      <button type="button" className="link" disabled={busy} onClick={load}>
        Refresh
      </button>
    </section>
  );
}
