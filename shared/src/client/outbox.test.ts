import { describe, expect, it } from "vitest";
import { ErrorCode, QpqError } from "../protocol/index.ts";
import { MemoryClientStore } from "./memoryClientStore.ts";
import { Outbox } from "./outbox.ts";
import type { ClientSession } from "./session.ts";
import type { MessageRecord } from "./storage.ts";

const GROUP = "ab".repeat(16);

/** The slice of a session the outbox uses: the store, whether a gateway is attached, events. */
async function setup(upload: (message: MessageRecord) => Promise<void>) {
  const store = new MemoryClientStore();
  await store.putGroup({
    id: GROUP,
    suite: "test",
    state: new Uint8Array(),
    epoch: 0,
    name: "",
    createdAtMs: 0,
    updatedAtMs: 0,
    channelId: "00",
  });
  const session = { store, connected: true, emit: () => undefined };
  const uploads: string[] = [];
  const outbox = new Outbox(session as unknown as ClientSession, async (message) => {
    uploads.push(message.text);
    await upload(message);
  });
  return { store, session, outbox, uploads };
}

function message(id: string, text = id): MessageRecord {
  return { id, groupId: GROUP, sender: "alice", text, sentAtMs: 1, receivedAtMs: 1, status: "sending" };
}

const statusOf = async (store: MemoryClientStore, id: string) => (await store.getMessage(GROUP, id))?.status;

describe("Outbox", () => {
  it("queues a message written while disconnected and sends it, once, on the next flush", async () => {
    const { store, session, outbox, uploads } = await setup(() => Promise.resolve());
    session.connected = false;
    expect((await outbox.deliver(message("m1"))).status).toBe("queued");
    expect(uploads).toEqual([]);
    session.connected = true;
    await outbox.flush("alice");
    await outbox.flush("alice");
    expect(uploads).toEqual(["m1"]);
    expect(await statusOf(store, "m1")).toBe("sent");
  });

  it("queues a message whose connection died during the upload, but marks one the gateway refused failed", async () => {
    let error: unknown = new QpqError(ErrorCode.Unavailable, "session closed");
    const { store, outbox } = await setup(() => Promise.reject(error));
    expect((await outbox.deliver(message("lost"))).status).toBe("queued");
    error = new DOMException("enqueue timed out", "TimeoutError");
    expect((await outbox.deliver(message("late"))).status).toBe("queued");
    error = new QpqError(ErrorCode.ChannelForbidden, "not a member");
    expect((await outbox.deliver(message("refused"))).status).toBe("failed");
    expect(await statusOf(store, "refused")).toBe("failed");
  });

  it("does not resend a message that is being uploaded, nor one already sent", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { outbox, uploads } = await setup(() => gate);
    const first = outbox.deliver(message("slow"));
    // A reconnect's flush while the upload is still under way.
    const flushed = outbox.flush("alice");
    release();
    await Promise.all([first, flushed]);
    await outbox.flush("alice");
    expect(uploads).toEqual(["slow"]);
  });

  it("leaves others' messages alone and keeps the order of its own", async () => {
    const { store, session, outbox, uploads } = await setup(() => Promise.resolve());
    session.connected = false;
    await outbox.deliver(message("a"));
    await outbox.deliver(message("b"));
    await store.putMessage({ ...message("theirs"), sender: "bob", status: "received" });
    session.connected = true;
    await outbox.flush("alice");
    expect(uploads).toEqual(["a", "b"]);
  });
});
