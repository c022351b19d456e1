import type { webcrypto } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runClientStoreContract } from "@qpq/shared/client/contract";
import { AtRestDecryptError, deriveStateKeyBytes, importStateKey } from "@qpq/shared/crypto";
import { FileClientStore, StateFileError } from "./fileClientStore.ts";

const root = mkdtempSync(join(tmpdir(), "qpq-filestore-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
const exportKey = new Uint8Array(64).fill(7);

async function keyFor(username: string, secret = exportKey): Promise<webcrypto.CryptoKey> {
  return importStateKey(await deriveStateKeyBytes(secret, username));
}

async function fresh(): Promise<FileClientStore> {
  return FileClientStore.open({
    path: join(root, `s${++counter}.qpq`),
    key: await keyFor("alice"),
    username: "alice",
  });
}

const paths = new WeakMap<FileClientStore, string>();
runClientStoreContract(
  "FileClientStore",
  async () => {
    const path = join(root, `c${++counter}.qpq`);
    const store = await FileClientStore.open({ path, key: await keyFor("alice"), username: "alice" });
    paths.set(store, path);
    return store;
  },
  {
    async reopen(store) {
      const path = paths.get(store as FileClientStore)!;
      await (store as FileClientStore).flush();
      const reopened = await FileClientStore.open({ path, key: await keyFor("alice"), username: "alice" });
      paths.set(reopened, path);
      return reopened;
    },
  },
);

describe("FileClientStore on disk", () => {
  const secretText = "the secret plan is in the third drawer";

  async function written(): Promise<{ path: string; store: FileClientStore }> {
    const path = join(root, `d${++counter}.qpq`);
    const store = await FileClientStore.open({ path, key: await keyFor("alice"), username: "alice" });
    await store.putMessage({
      id: "m1",
      groupId: "aa".repeat(16),
      sender: "bob",
      text: secretText,
      sentAtMs: 1,
      receivedAtMs: 2,
      status: "received",
    });
    return { path, store };
  }

  it("writes a 0600 file in which neither text nor names appear", async () => {
    const { path } = await written();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const raw = readFileSync(path).toString("latin1");
    expect(raw).not.toContain("secret plan");
    expect(raw).not.toContain("bob");
    expect(raw).not.toContain("aaaa");
  });

  it("refuses to open with another account's key or under another username", async () => {
    const { path } = await written();
    const otherSecret = new Uint8Array(64).fill(9);
    await expect(
      FileClientStore.open({ path, key: await keyFor("alice", otherSecret), username: "alice" }),
    ).rejects.toBeInstanceOf(AtRestDecryptError);
    await expect(
      FileClientStore.open({ path, key: await keyFor("alice"), username: "mallory" }),
    ).rejects.toBeInstanceOf(AtRestDecryptError);
  });

  it("refuses a file that is not a state file, and a flipped byte", async () => {
    const { path } = await written();
    const bytes = readFileSync(path);
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(path, bytes);
    await expect(
      FileClientStore.open({ path, key: await keyFor("alice"), username: "alice" }),
    ).rejects.toBeInstanceOf(AtRestDecryptError);
    writeFileSync(path, "hello");
    await expect(
      FileClientStore.open({ path, key: await keyFor("alice"), username: "alice" }),
    ).rejects.toBeInstanceOf(StateFileError);
  });

  it("coalesces concurrent changes and lands all of them", async () => {
    const store = await fresh();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.applyEnvelope({ seq: i + 1, addPending: [] })),
    );
    expect(await store.getCursor()).toBe(50);
  });

  it("reports messages inserted after a mark, and keeps bookkeeping across reopen", async () => {
    const { path, store } = await written();
    const first = await store.messagesAfter(0);
    expect(first.messages.map((m) => m.text)).toEqual([secretText]);
    expect((await store.messagesAfter(first.upTo)).messages).toEqual([]);
    await store.putMeta("recvMark", first.upTo);
    const reopened = await FileClientStore.open({ path, key: await keyFor("alice"), username: "alice" });
    expect(reopened.getMeta<number>("recvMark")).toBe(first.upTo);
  });
});
