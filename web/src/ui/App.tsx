import { useApp } from "../app/store.ts";
import { ConversationView } from "./ConversationView.tsx";
import { LoginScreen } from "./LoginScreen.tsx";
import { Sidebar } from "./Sidebar.tsx";

export function App() {
  const phase = useApp((s) => s.phase);
  const error = useApp((s) => s.error);
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
      <Sidebar />
      <ConversationView />
    </div>
  );
}
