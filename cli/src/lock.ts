/**
 * One qpq process at a time per state directory. Two processes would each load the state, change
 * it and write it back, and the later write would silently drop the other's changes, including MLS
 * ratchet secrets. A second process therefore fails at once with a clear message (exit code 7)
 * instead of waiting: a `recv --follow` can hold the lock for hours, and a script is better told
 * than hung.
 *
 * The lock file holds the owner's pid and host. A lock left behind by a crash is recovered: when its
 * pid no longer runs on this host, the lock is stale and is taken over.
 */
import { hostname } from "node:os";
import { link, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export class StateLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly ownerPid: number,
  ) {
    super(
      `another qpq process (pid ${ownerPid}) is using the state in ${dir}; ` +
        "wait for it to finish (or stop it), or use another --state directory",
    );
    this.name = "StateLockedError";
  }
}

export interface StateLock {
  release(): Promise<void>;
}

interface Owner {
  pid: number;
  host: string;
}

export async function acquireStateLock(dir: string): Promise<StateLock> {
  const path = join(dir, "lock");
  const me: Owner = { pid: process.pid, host: hostname() };
  // Two rounds: the second runs after removing a stale lock; losing that race again means a live owner.
  for (let round = 0; round < 2; round++) {
    // Written aside and hard-linked into place: the lock appears complete or not at all, so a reader
    // never mistakes a lock being created for a stale empty one.
    const temp = join(dir, `.lock.${process.pid}`);
    await writeFile(temp, JSON.stringify(me), { mode: 0o600 });
    try {
      await link(temp, path);
      await rm(temp, { force: true });
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          await rm(path, { force: true });
        },
      };
    } catch (error) {
      await rm(temp, { force: true });
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = await readOwner(path);
    if (owner && isAlive(owner)) throw new StateLockedError(dir, owner.pid);
    await rm(path, { force: true });
  }
  const owner = await readOwner(path);
  throw new StateLockedError(dir, owner?.pid ?? 0);
}

async function readOwner(path: string): Promise<Owner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, "utf8")) as Partial<Owner>;
    if (typeof parsed.pid === "number" && typeof parsed.host === "string") {
      return { pid: parsed.pid, host: parsed.host };
    }
  } catch {
    // Unreadable or not ours (hand-made, corrupted): treated as stale.
  }
  return undefined;
}

function isAlive(owner: Owner): boolean {
  // A lock from another host (a shared home directory) cannot be checked; assume it is held.
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    // EPERM: the pid runs but belongs to someone else, so it is alive.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
