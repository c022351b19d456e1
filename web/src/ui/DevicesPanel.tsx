import { useState, type FormEvent } from "react";
import { deviceNameProblem, MAX_DEVICE_NAME, renameDevice, revokeDevice } from "../app/devices.ts";
import { useApp, type DeviceState } from "../app/store.ts";

function when(ms: number): string {
  return ms > 0 ? new Date(ms).toLocaleString() : "never";
}

/** This account's devices: rename any, revoke any but this one (log out instead). */
export function DevicesPanel() {
  const devices = useApp((s) => s.devices);
  const readOnly = useApp((s) => s.readOnly);
  return (
    <main className="conversation-view devices-view">
      <header className="conversation-head">
        <h2>Devices</h2>
        <button type="button" className="secondary" onClick={() => useApp.setState({ view: "conversation" })}>
          Back to conversations
        </button>
      </header>
      <p className="muted">
        Every browser you log in with becomes a device of your account. If you see a device you do not
        recognise, revoke it and change your password.
      </p>
      {devices.length === 0 ? (
        <p className="muted">{readOnly ? "The device list needs the gateway." : "Loading devices…"}</p>
      ) : (
        <ul className="devices" aria-label="Your devices">
          {devices.map((d) => (
            <DeviceRow key={d.id} device={d} canChange={!readOnly} />
          ))}
        </ul>
      )}
    </main>
  );
}

function DeviceRow({ device, canChange }: { device: DeviceState; canChange: boolean }) {
  const [mode, setMode] = useState<"show" | "rename" | "confirm">("show");
  const [busy, setBusy] = useState(false);
  const label = device.name || "unnamed device";
  return (
    <li className={device.revoked ? "device revoked" : "device"} aria-label={`Device ${label}`}>
      {mode === "rename" ? (
        <RenameForm device={device} onDone={() => setMode("show")} />
      ) : (
        <p>
          <strong className="device-name">{label}</strong>
          {device.current && <span className="verified"> · this device</span>}
          {device.revoked && <span className="revoked-mark"> · revoked {when(device.revokedAtMs)}</span>}
        </p>
      )}
      <p className="muted">
        Added {when(device.createdAtMs)} · last seen {when(device.lastSeenMs)}
      </p>
      <p className="muted">
        Fingerprint <code>{device.fingerprint}</code>
      </p>
      {canChange && !device.revoked && mode === "show" && (
        <p className="row">
          <button type="button" className="link" onClick={() => setMode("rename")}>
            {`Rename ${label}`}
          </button>
          {!device.current && (
            <button type="button" className="link" onClick={() => setMode("confirm")}>
              {`Revoke ${label}`}
            </button>
          )}
        </p>
      )}
      {mode === "confirm" && (
        <div role="group" aria-label={`Confirm revoking ${label}`} className="confirm">
          <p>
            Revoke {label}? It is signed out at once, removed from every conversation and can never read new
            messages. This cannot be undone.
          </p>
          <button
            type="button"
            disabled={busy}
            onClick={() => {
              setBusy(true);
              void revokeDevice(device.id).finally(() => {
                setBusy(false);
                setMode("show");
              });
            }}
          >
            Revoke device
          </button>
          <button type="button" className="secondary" onClick={() => setMode("show")}>
            Cancel
          </button>
        </div>
      )}
    </li>
  );
}

function RenameForm({ device, onDone }: { device: DeviceState; onDone: () => void }) {
  const [name, setName] = useState(device.name);
  const [busy, setBusy] = useState(false);
  const problem = deviceNameProblem(name);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (problem) return;
    setBusy(true);
    const ok = await renameDevice(device.id, name);
    setBusy(false);
    if (ok) onDone();
  };
  const inputId = `device-name-${device.id}`;
  return (
    <form className="row" aria-label="Rename device" onSubmit={(e) => void submit(e)}>
      <label htmlFor={inputId} className="visually-hidden">
        Device name
      </label>
      <input
        id={inputId}
        value={name}
        maxLength={MAX_DEVICE_NAME}
        aria-invalid={problem !== undefined}
        onChange={(e) => setName(e.target.value)}
        autoFocus
      />
      <button type="submit" disabled={busy || problem !== undefined}>
        Save
      </button>
      <button type="button" className="secondary" onClick={onDone}>
        Cancel
      </button>
      {problem && name.length > 0 && (
        <span role="note" className="error">
          {problem}
        </span>
      )}
    </form>
  );
}
