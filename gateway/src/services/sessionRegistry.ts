/**
 * Which open connections are bound to which session, so that ending a session (logout, eviction by
 * the per-account limit) also ends it on every other connection still using it. Without this a
 * stolen token that is already bound keeps working after the owner logs out. In memory: connections
 * do not survive a restart either.
 */
/** The part of a connection the registry needs: a way to end its session. */
export interface SessionHolder {
  /** Tells the peer (E011 SessionInvalid with this detail) and closes the connection. */
  endSession(detail: string): void;
}

function key(tokenHash: Uint8Array): string {
  return Buffer.from(tokenHash.buffer, tokenHash.byteOffset, tokenHash.byteLength).toString("hex");
}

export class SessionRegistry {
  private readonly holders = new Map<string, Set<SessionHolder>>();
  private readonly sessionOf = new Map<SessionHolder, string>();

  /** A connection holds at most one session: binding moves it. */
  bind(tokenHash: Uint8Array, holder: SessionHolder): void {
    this.unbind(holder);
    const k = key(tokenHash);
    let set = this.holders.get(k);
    if (!set) this.holders.set(k, (set = new Set()));
    set.add(holder);
    this.sessionOf.set(holder, k);
  }

  unbind(holder: SessionHolder): void {
    const k = this.sessionOf.get(holder);
    if (k === undefined) return;
    this.sessionOf.delete(holder);
    const set = this.holders.get(k);
    set?.delete(holder);
    if (set?.size === 0) this.holders.delete(k);
  }

  /** Ends the session on every connection holding it except `except`; returns how many were ended. */
  end(tokenHash: Uint8Array, detail: string, except?: SessionHolder): number {
    const set = this.holders.get(key(tokenHash));
    if (!set) return 0;
    let ended = 0;
    for (const holder of [...set]) {
      if (holder === except) continue;
      this.unbind(holder);
      holder.endSession(detail);
      ended++;
    }
    return ended;
  }

  get size(): number {
    return this.sessionOf.size;
  }
}
