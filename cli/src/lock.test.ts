import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { StateLockedError, acquireStateLock } from "./lock.ts";

const root = mkdtempSync(join(tmpdir(), "qpq-lock-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = () => mkdtempSync(join(root, `d${++counter}-`));

describe("state directory lock", () => {
  it("lets one holder in, refuses the second with the owner's pid, and frees on release", async () => {
    const dir = freshDir();
    const first = await acquireStateLock(dir);
    const second = await acquireStateLock(dir).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(StateLockedError);
    expect((second as StateLockedError).ownerPid).toBe(process.pid);
    expect((second as Error).message).toMatch(/another qpq process \(pid \d+\)/);
    await first.release();
    const third = await acquireStateLock(dir);
    await third.release();
  });

  it("takes over a lock whose process is gone (a crash)", async () => {
    const dir = freshDir();
    // A pid that certainly ran and has exited by the time spawnSync returns.
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    writeFileSync(join(dir, "lock"), JSON.stringify({ pid: gone, host: hostname() }));
    const lock = await acquireStateLock(dir);
    await lock.release();
  });

  it("takes over an unreadable lock file", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "lock"), "garbage");
    const lock = await acquireStateLock(dir);
    await lock.release();
  });

  it("keeps a lock held from another host (a shared home directory cannot be checked)", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "lock"), JSON.stringify({ pid: 1, host: `not-${hostname()}` }));
    await expect(acquireStateLock(dir)).rejects.toBeInstanceOf(StateLockedError);
  });
});
