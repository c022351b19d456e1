import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import type { MessageRecord } from "@qpq/shared/client";
import {
  invite,
  leaveConversation,
  removeMember,
  retry,
  rotateKeys,
  send,
  verifyContact,
} from "../app/controller.ts";
import { useApp } from "../app/store.ts";

const EMPTY: MessageRecord[] = [];

export function ConversationView() {
  const selectedId = useApp((s) => s.selectedId);
  const conversation = useApp((s) => s.conversations.find((c) => c.id === s.selectedId));
  const messages = useApp((s) => (s.selectedId ? (s.messages[s.selectedId] ?? EMPTY) : EMPTY));
  const me = useApp((s) => s.me);
  const readOnly = useApp((s) => s.readOnly);
  const [showMembers, setShowMembers] = useState(false);

  if (!selectedId || !conversation) {
    return (
      <main className="conversation-view empty">
        <p className="muted">Pick a conversation, or start a new one.</p>
      </main>
    );
  }
  return (
    <main className="conversation-view">
      <header className="conversation-head">
        <h2>{conversation.title}</h2>
        <button
          type="button"
          className="secondary"
          aria-expanded={showMembers}
          onClick={() => setShowMembers(!showMembers)}
        >
          Members
        </button>
        {!readOnly && !conversation.removed && conversation.members.length > 1 && (
          <button type="button" className="secondary" onClick={() => void leaveConversation(selectedId)}>
            Leave
          </button>
        )}
      </header>
      {conversation.removed && (
        <p role="alert" className="removed-notice">
          {conversation.left ? "You left this conversation." : "You were removed from this conversation."} You
          can still read what was said before, but you cannot send here, and new messages no longer reach you.
        </p>
      )}
      <KeyChangeWarning names={conversation.members} />
      {showMembers && (
        <Members
          groupId={selectedId}
          names={conversation.members}
          me={me ?? ""}
          canChange={!readOnly && !conversation.removed}
        />
      )}
      <MessageList messages={messages} me={me ?? ""} groupId={selectedId} />
      {!readOnly && !conversation.removed && <Composer groupId={selectedId} />}
    </main>
  );
}

function Members({
  groupId,
  names,
  me,
  canChange,
}: {
  groupId: string;
  names: string[];
  me: string;
  canChange: boolean;
}) {
  const [username, setUsername] = useState("");
  const [busy, setBusy] = useState(false);
  const [rotated, setRotated] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!username.trim()) return;
    setBusy(true);
    if (await invite(groupId, username)) setUsername("");
    setBusy(false);
  };
  return (
    <section aria-label="Members" className="members">
      <ul>
        {names.map((n) =>
          n === me ? (
            <li key={n}>{n} (you)</li>
          ) : (
            <MemberRow key={n} name={n} groupId={groupId} canRemove={canChange} />
          ),
        )}
      </ul>
      {canChange && (
        <p className="row">
          <button
            type="button"
            className="secondary"
            disabled={busy}
            onClick={() => {
              setBusy(true);
              void rotateKeys(groupId).then((ok) => {
                setRotated(ok);
                setBusy(false);
              });
            }}
          >
            Rotate my keys
          </button>
          {rotated && <span className="muted"> New keys are in use.</span>}
        </p>
      )}
      {canChange && (
        <form onSubmit={(e) => void submit(e)} className="row">
          <label htmlFor="invite-username" className="visually-hidden">
            Invite username
          </label>
          <input
            id="invite-username"
            placeholder="username to add"
            autoCapitalize="none"
            spellCheck={false}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
          <button type="submit" disabled={busy}>
            Invite
          </button>
        </form>
      )}
    </section>
  );
}

/** A verified contact whose key changed: the one thing in the UI that must not be missed. */
function KeyChangeWarning({ names }: { names: string[] }) {
  const contacts = useApp((s) => s.contacts);
  const changed = names.filter((n) => contacts[n]?.keyChanged);
  const impostors = names.filter((n) => contacts[n]?.impostor);
  if (changed.length === 0 && impostors.length === 0) return null;
  return (
    <>
      {changed.length > 0 && (
        <p role="alert" className="key-warning">
          The safety number with {changed.join(", ")} changed. Their key is not the one you verified: compare
          safety numbers again before sharing anything sensitive.
        </p>
      )}
      {impostors.length > 0 && (
        <p role="alert" className="key-warning">
          Someone in this conversation claims to be {impostors.join(", ")} but does not have their key. Do not
          trust messages shown under that name here.
        </p>
      )}
    </>
  );
}

function MemberRow({ name, groupId, canRemove }: { name: string; groupId: string; canRemove: boolean }) {
  const contact = useApp((s) => s.contacts[name]);
  const [open, setOpen] = useState(false);
  const [removing, setRemoving] = useState(false);
  return (
    <li>
      <span className="member-name">{name}</span>
      {contact?.verified && <span className="verified"> ✓ verified</span>}
      {canRemove && (
        <button
          type="button"
          className="link"
          disabled={removing}
          onClick={() => {
            setRemoving(true);
            void removeMember(groupId, name).finally(() => setRemoving(false));
          }}
        >
          {`Remove ${name}`}
        </button>
      )}
      {contact && (
        <button type="button" className="link" aria-expanded={open} onClick={() => setOpen(!open)}>
          {`Safety number with ${name}`}
        </button>
      )}
      {open && contact && (
        <div className="safety">
          <p>Compare these digits with {name}, in person or over a channel you trust:</p>
          <code aria-label={`Safety number with ${name} digits`}>{contact.safetyNumber}</code>
          {!contact.verified && (
            <button type="button" onClick={() => void verifyContact(name)}>
              {`Mark ${name} as verified`}
            </button>
          )}
        </div>
      )}
    </li>
  );
}

const STATUS_TEXT: Record<MessageRecord["status"], string> = {
  sending: "Sending…",
  sent: "Sent",
  queued: "Queued",
  failed: "Failed",
  received: "",
  undecryptable: "",
};

function MessageList({ messages, me, groupId }: { messages: MessageRecord[]; me: string; groupId: string }) {
  const end = useRef<HTMLLIElement>(null);
  useEffect(() => {
    end.current?.scrollIntoView({ block: "end" });
  }, [messages.length]);
  return (
    <ol className="messages" aria-label="Messages" role="log" aria-live="polite">
      {messages.map((m) => (
        <li key={m.id} className={m.sender === me ? "message mine" : "message"} data-status={m.status}>
          {m.status === "undecryptable" ? (
            <p className="muted">This message could not be decrypted.</p>
          ) : (
            <>
              <span className="sender">{m.sender === me ? "You" : m.sender}</span>
              <p className="text">{m.text}</p>
            </>
          )}
          <span className="meta">
            <time dateTime={new Date(m.sentAtMs).toISOString()}>
              {new Date(m.sentAtMs).toLocaleTimeString()}
            </time>
            {STATUS_TEXT[m.status] && <span className="status"> · {STATUS_TEXT[m.status]}</span>}
            {m.status === "failed" && (
              <button type="button" className="link" onClick={() => void retry(groupId, m.id)}>
                Retry
              </button>
            )}
          </span>
        </li>
      ))}
      <li ref={end} aria-hidden="true" className="end" />
    </ol>
  );
}

function Composer({ groupId }: { groupId: string }) {
  const [text, setText] = useState("");
  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    const value = text.trim();
    if (!value) return;
    setText("");
    void send(groupId, value);
  };
  // Enter sends, Shift+Enter adds a line: what people expect from a chat box.
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey) submit(event);
  };
  return (
    <form className="composer" onSubmit={submit}>
      <label htmlFor="message" className="visually-hidden">
        Message
      </label>
      <textarea
        id="message"
        rows={2}
        placeholder="Write a message"
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
      />
      <button type="submit">Send</button>
    </form>
  );
}
