import { useState, type FormEvent } from "react";
import { signIn } from "../app/controller.ts";
import { useApp } from "../app/store.ts";

export function LoginScreen() {
  const phase = useApp((s) => s.phase);
  const authError = useApp((s) => s.authError);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const busy = phase === "working";

  const submit = (mode: "login" | "register") => (event?: FormEvent) => {
    event?.preventDefault();
    if (!username.trim() || !password) return;
    void signIn(mode, username, password);
  };

  return (
    <main className="login">
      <h1>quicproquo</h1>
      <p className="tagline">
        End-to-end encrypted messaging. Your password never leaves this device. Logging in on a new browser
        adds it as a device of your account.
      </p>
      <form onSubmit={submit("login")} aria-label="Sign in" aria-busy={busy}>
        <label htmlFor="username">Username</label>
        <input
          id="username"
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          required
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
        <label htmlFor="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {authError && (
          <p role="alert" className="error">
            {authError}
          </p>
        )}
        <div className="row">
          <button type="submit" disabled={busy}>
            Log in
          </button>
          <button type="button" className="secondary" disabled={busy} onClick={() => submit("register")()}>
            Create account
          </button>
        </div>
        {busy && (
          <p role="status" className="muted">
            Working… (deriving keys on this device)
          </p>
        )}
      </form>
    </main>
  );
}
