import type { ClientState } from "ts-mls";
import { describe, expect, it } from "vitest";
import { CLASSICAL_SUITE, encodeState, groupIdHex, removeMember, suiteImpl } from "../mls/index.ts";
import { GroupHarness } from "../mls/testing/groupHarness.ts";
import { Conversations, isDirect } from "./conversations.ts";
import { MemoryClientStore } from "./memoryClientStore.ts";
import type { GroupRecord } from "./storage.ts";

function record(
  state: ClientState,
  name: string,
  updatedAtMs: number,
  extra: Partial<GroupRecord> = {},
): GroupRecord {
  return {
    id: groupIdHex(state),
    channelId: groupIdHex(state).slice(0, 32),
    suite: state.groupContext.cipherSuite,
    state: encodeState(state),
    epoch: Number(state.groupContext.epoch),
    name,
    createdAtMs: 1,
    updatedAtMs,
    ...extra,
  };
}

describe("isDirect: the one definition of a direct conversation", () => {
  it("is unnamed with exactly one other member", () => {
    expect(isDirect("", ["alice", "bob"], "alice")).toBe(true);
    expect(isDirect("lunch", ["alice", "bob"], "alice")).toBe(false);
    expect(isDirect("", ["alice"], "alice")).toBe(false);
    expect(isDirect("", ["alice", "bob", "carol"], "alice")).toBe(false);
  });
});

describe("Conversations", () => {
  it("lists titles, members, direct flag and removal, newest activity first; views carry messages", async () => {
    const impl = await suiteImpl(CLASSICAL_SUITE);
    const dm = await GroupHarness.create(impl, ["alice", "bob"]);
    const team = await GroupHarness.create(impl, ["alice", "carol", "dave"]);
    const gone = await GroupHarness.create(impl, ["erin", "alice", "frank"]);
    const removal = await removeMember(gone.state("erin"), gone.impl, "alice");
    await gone.applyCommit("erin", removal, ["alice", "frank"]);

    const store = new MemoryClientStore();
    await store.putGroup(record(dm.state("alice"), "", 30));
    await store.putGroup(record(team.state("alice"), "team", 20));
    await store.putGroup(record(gone.state("alice"), "", 10));
    const dmId = groupIdHex(dm.state("alice"));
    await store.putMessage({
      id: "m1",
      groupId: dmId,
      sender: "bob",
      text: "hi",
      sentAtMs: 5,
      receivedAtMs: 6,
      status: "received",
    });

    const book = new Conversations(store, "alice");
    const list = await book.list();
    expect(list.map((c) => [c.title, c.direct, c.removed, c.left])).toEqual([
      ["bob", true, false, false],
      ["team", false, false, false],
      [expect.any(String), expect.any(Boolean), true, false],
    ]);
    expect(list[1]!.members).toEqual(["alice", "carol", "dave"]);
    expect((await book.findDirect("bob"))?.id).toBe(dmId);
    expect(await book.findDirect("alice")).toBeUndefined();
    expect(await book.findDirect("carol")).toBeUndefined();
    const view = await book.view(dmId);
    expect(view?.messages.map((m) => [m.text, m.status])).toEqual([["hi", "received"]]);
    expect(await book.view("00")).toBeUndefined();
  });

  it("a conversation this device left counts as removed, and is no longer the direct one", async () => {
    const impl = await suiteImpl(CLASSICAL_SUITE);
    const dm = await GroupHarness.create(impl, ["alice", "bob"]);
    const store = new MemoryClientStore();
    await store.putGroup(record(dm.state("alice"), "", 30, { leftAtMs: 40 }));
    const book = new Conversations(store, "alice");
    expect(await book.get(groupIdHex(dm.state("alice")))).toMatchObject({
      direct: true,
      removed: true,
      left: true,
    });
    expect(await book.findDirect("bob")).toBeUndefined();
  });
});
