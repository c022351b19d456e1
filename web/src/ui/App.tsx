import { signOut } from "../app/controller.ts";
import { useApp } from "../app/store.ts";
import { NewDeviceNotice, RestoreStatus } from "./AccountNotices.tsx";
import { ConversationView } from "./ConversationView.tsx";
import { DevicesPanel } from "./DevicesPanel.tsx";
import { LoginScreen } from "./LoginScreen.tsx";
import { Sidebar } from "./Sidebar.tsx";

export function App() {
  const phase = useApp((s) => s.phase);
  const error = useApp((s) => s.error);
  const readOnly = useApp((s) => s.readOnly);
  const view = useApp((s) => s.view);
  if (phase !== "ready") return <LoginScreen />;
  return (
    <div className="app">
      {error && (
        <div role="alert" className="banner">
          {error}
          <button type="button" className="link" onClick={() => useApp.setState({ error: undefined })}>
            Dismiss
          </button>
        </div>
      )}
      <NewDeviceNotice />
      <RestoreStatus />
      {readOnly && (
        <div role="note" className="offline-note">
          Offline: showing messages stored on this device. Log in again when the gateway is reachable.
          <button type="button" className="link" onClick={() => void signOut()}>
            Log in again
          </button>
        </div>
      )}
      <Sidebar />
      {view === "devices" ? <DevicesPanel /> : <ConversationView />}
    </div>
  );
}
