import { useState, type FormEvent } from "react";
import { createGroup, selectConversation, signOut, startDirect } from "../app/controller.ts";
import { loadDevices } from "../app/devices.ts";
import { useApp } from "../app/store.ts";
import { ConnectionBadge } from "./ConnectionBadge.tsx";

export function Sidebar() {
  const me = useApp((s) => s.me);
  const conversations = useApp((s) => s.conversations);
  const selectedId = useApp((s) => s.selectedId);
  const readOnly = useApp((s) => s.readOnly);
  const view = useApp((s) => s.view);
  const [mode, setMode] = useState<"none" | "direct" | "group">("none");

  return (
    <aside className="sidebar">
      <header className="sidebar-head">
        <div>
          <strong>{me}</strong>
          <ConnectionBadge />
        </div>
        <div className="row">
          <button
            type="button"
            className="secondary"
            aria-pressed={view === "devices"}
            onClick={() => {
              if (view === "devices") return useApp.setState({ view: "conversation" });
              useApp.setState({ view: "devices" });
              void loadDevices();
            }}
          >
            Devices
          </button>
          <button type="button" className="secondary" onClick={() => void signOut()}>
            Log out
          </button>
        </div>
      </header>
      <div className="row">
        <button
          type="button"
          disabled={readOnly}
          onClick={() => setMode(mode === "direct" ? "none" : "direct")}
          aria-expanded={mode === "direct"}
        >
          New conversation
        </button>
        <button
          type="button"
          disabled={readOnly}
          onClick={() => setMode(mode === "group" ? "none" : "group")}
          aria-expanded={mode === "group"}
        >
          New group
        </button>
      </div>
      {mode === "direct" && <NewDirect onDone={() => setMode("none")} />}
      {mode === "group" && <NewGroup onDone={() => setMode("none")} />}
      <nav aria-label="Conversations">
        {conversations.length === 0 ? (
          <p className="muted">No conversations yet.</p>
        ) : (
          <ul className="conversations">
            {conversations.map((c) => (
              <li key={c.id}>
                <button
                  type="button"
                  className={c.id === selectedId ? "conversation selected" : "conversation"}
                  aria-current={c.id === selectedId ? "true" : undefined}
                  onClick={() => void selectConversation(c.id)}
                >
                  {c.title}
                </button>
              </li>
            ))}
          </ul>
        )}
      </nav>
    </aside>
  );
}

function NewDirect({ onDone }: { onDone: () => void }) {
  const [username, setUsername] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!username.trim()) return;
    setBusy(true);
    const ok = await startDirect(username);
    setBusy(false);
    if (ok) onDone();
  };
  return (
    <form className="panel" aria-label="New conversation" onSubmit={(e) => void submit(e)}>
      <label htmlFor="direct-username">Start a conversation with</label>
      <input
        id="direct-username"
        autoCapitalize="none"
        spellCheck={false}
        placeholder="username"
        value={username}
        onChange={(e) => setUsername(e.target.value)}
        autoFocus
      />
      <button type="submit" disabled={busy}>
        Start conversation
      </button>
    </form>
  );
}

function NewGroup({ onDone }: { onDone: () => void }) {
  const [name, setName] = useState("");
  const [members, setMembers] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    const ok = await createGroup(name, members.split(/[\s,]+/));
    setBusy(false);
    if (ok) onDone();
  };
  return (
    <form className="panel" aria-label="New group" onSubmit={(e) => void submit(e)}>
      <label htmlFor="group-name">Group name</label>
      <input id="group-name" value={name} onChange={(e) => setName(e.target.value)} autoFocus />
      <label htmlFor="group-members">Members (usernames, comma separated)</label>
      <input
        id="group-members"
        autoCapitalize="none"
        spellCheck={false}
        value={members}
        onChange={(e) => setMembers(e.target.value)}
      />
      <button type="submit" disabled={busy}>
        Create group
      </button>
    </form>
  );
}
