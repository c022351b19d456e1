import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeState, wasRemoved } from "@qpq/shared/mls";
import { ErrorCode } from "@qpq/shared/protocol";
import {
  registerActor,
  startGatewayProcess,
  waitForConversation,
  waitForMessages,
  type Actor,
  type GatewayProcess,
} from "./helpers.ts";

let gw: GatewayProcess;

beforeAll(async () => {
  // Every test registers fresh users from one address: more than the default burst of 20 in this file.
  gw = await startGatewayProcess({ env: { QPQ_REGISTER_PER_ADDRESS: "100/60" } });
});

afterAll(async () => {
  await gw?.kill();
  gw?.cleanup();
});

/** Resolves once check() holds, re-checking on every conversation event of the actor (bounded). */
function until(actor: Actor, what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      off();
      if (error) reject(error);
      else resolve();
    };
    const test = () => {
      check().then(
        (ok) => ok && finish(),
        (error: unknown) => finish(error instanceof Error ? error : new Error(String(error))),
      );
    };
    const timer = setTimeout(() => finish(new Error(`${actor.name}: ${what} did not happen`)), timeoutMs);
    const off = actor.messenger.on("conversation", test);
    test();
  });
}

async function names(actor: Actor, groupId: string): Promise<string[]> {
  return (await actor.messenger.members(groupId)).map((m) => m.username ?? "?").sort();
}

async function trio(): Promise<{ alice: Actor; bob: Actor; carol: Actor; groupId: string }> {
  const alice = await registerActor(gw, "alice");
  const bob = await registerActor(gw, "bob");
  const carol = await registerActor(gw, "carol");
  const groupId = await alice.messenger.createConversation("trio", [bob.name, carol.name]);
  expect(await waitForConversation(bob)).toBe(groupId);
  expect(await waitForConversation(carol)).toBe(groupId);
  return { alice, bob, carol, groupId };
}

describe("group lifecycle through the real gateway", () => {
  it("alice removes carol: carol learns it, bob and alice keep talking, carol reads nothing new", async () => {
    const { alice, bob, carol, groupId } = await trio();
    await alice.messenger.send(groupId, "before");
    await waitForMessages(carol, groupId, 1);

    await alice.messenger.lifecycle.remove(groupId, carol.name);
    await until(carol, "removal", () => carol.messenger.lifecycle.isRemoved(groupId));
    await until(bob, "membership change", async () => (await names(bob, groupId)).length === 2);
    expect(await names(bob, groupId)).toEqual([alice.name, bob.name].sort());

    await alice.messenger.send(groupId, "carol is gone");
    await bob.messenger.send(groupId, "indeed");
    expect((await waitForMessages(bob, groupId, 2)).map((m) => m.text)).toEqual(["before", "carol is gone"]);
    expect((await waitForMessages(alice, groupId, 1)).map((m) => m.text)).toEqual(["indeed"]);
    await carol.messenger.settled();
    expect(carol.received.map((m) => m.text)).toEqual(["before"]);
    await expect(carol.messenger.send(groupId, "still here?")).rejects.toMatchObject({
      code: ErrorCode.RemovedFromGroup,
    });

    for (const actor of [alice, bob, carol]) actor.messenger.close();
  });

  it("bob rotates his keys: his leaf key changes for everyone and all still read each other", async () => {
    const { alice, bob, carol, groupId } = await trio();
    const bobLeaf = (await alice.messenger.members(groupId)).find((m) => m.username === bob.name)!;
    const epochBefore = (await alice.messenger.conversations())[0]!.epoch;

    await bob.messenger.lifecycle.rotateKeys(groupId);
    for (const actor of [alice, carol]) {
      await until(
        actor,
        "bob's update",
        async () => (await actor.messenger.conversations())[0]!.epoch > epochBefore,
      );
    }
    expect((await bob.messenger.conversations())[0]?.keysRotatedAtMs).toBeGreaterThan(0);
    // The signature key stays (it is the identity); the leaf's encryption key is what rotates, which
    // shows here as a new epoch that every member reached and can read in.
    expect(
      (await alice.messenger.members(groupId)).find((m) => m.username === bob.name)?.signatureKey,
    ).toEqual(bobLeaf.signatureKey);
    await bob.messenger.send(groupId, "fresh keys");
    expect((await waitForMessages(alice, groupId, 1))[0]?.text).toBe("fresh keys");
    expect((await waitForMessages(carol, groupId, 1))[0]?.text).toBe("fresh keys");
    await carol.messenger.send(groupId, "still reading");
    expect((await waitForMessages(bob, groupId, 1))[0]?.text).toBe("still reading");

    for (const actor of [alice, bob, carol]) actor.messenger.close();
  });

  it("bob proposes carol's removal and alice, first in the commit order, commits it on her own", async () => {
    const { alice, bob, carol, groupId } = await trio();
    await bob.messenger.lifecycle.proposeRemoval(groupId, carol.name);
    await until(carol, "removal by alice's commit", () => carol.messenger.lifecycle.isRemoved(groupId));
    await until(bob, "the commit", async () => (await names(bob, groupId)).length === 2);
    expect(await names(alice, groupId)).toEqual([alice.name, bob.name].sort());

    await bob.messenger.send(groupId, "proposal done");
    expect((await waitForMessages(alice, groupId, 1))[0]?.text).toBe("proposal done");

    for (const actor of [alice, bob, carol]) actor.messenger.close();
  });

  it("carol leaves: her self-Remove proposal is committed by another member, alice and bob carry on", async () => {
    const { alice, bob, carol, groupId } = await trio();
    await alice.messenger.send(groupId, "before");
    await waitForMessages(carol, groupId, 1);
    const epoch = (await alice.messenger.conversations())[0]!.epoch;

    await carol.messenger.lifecycle.leave(groupId);
    // Left at once on carol's side, before anyone committed: she sends nothing more.
    expect(await carol.messenger.lifecycle.hasLeft(groupId)).toBe(true);
    expect(await carol.messenger.lifecycle.isRemoved(groupId)).toBe(true);
    await expect(carol.messenger.send(groupId, "bye?")).rejects.toMatchObject({
      code: ErrorCode.RemovedFromGroup,
    });

    for (const actor of [alice, bob]) {
      await until(
        actor,
        "carol's departure committed",
        async () => (await names(actor, groupId)).length === 2,
      );
      expect(await names(actor, groupId)).toEqual([alice.name, bob.name].sort());
      expect((await actor.messenger.conversations())[0]!.epoch).toBeGreaterThan(epoch);
    }
    // The commit reaches carol too: her MLS state then holds no secret of the new epoch.
    await until(carol, "the commit removing her", async () => {
      const record = (await carol.messenger.conversations()).find((g) => g.id === groupId)!;
      return wasRemoved(decodeState(record.state));
    });

    await alice.messenger.send(groupId, "carol left");
    await bob.messenger.send(groupId, "so she did");
    expect((await waitForMessages(bob, groupId, 2)).map((m) => m.text)).toEqual(["before", "carol left"]);
    expect((await waitForMessages(alice, groupId, 1)).map((m) => m.text)).toEqual(["so she did"]);
    await carol.messenger.settled();
    expect(carol.received.map((m) => m.text)).toEqual(["before"]);

    for (const actor of [alice, bob, carol]) actor.messenger.close();
  });

  it("periodic rotation: a group whose keys are older than the period gets a self-update", async () => {
    // A 1 ms period makes every group overdue; rotateOverdue is what the hourly timer runs.
    const alice = await registerActor(gw, "alice", { keyRotationMs: 1, rotationCheckMs: 3_600_000 });
    const bob = await registerActor(gw, "bob");
    const groupId = await alice.messenger.createConversation("weekly", [bob.name]);
    expect(await waitForConversation(bob)).toBe(groupId);
    const epoch = (await alice.messenger.conversations())[0]!.epoch;
    await alice.messenger.lifecycle.rotateOverdue();
    await until(bob, "alice's rotation", async () => (await bob.messenger.conversations())[0]!.epoch > epoch);
    expect((await alice.messenger.conversations())[0]?.keysRotatedAtMs).toBeGreaterThan(0);
    alice.messenger.close();
    bob.messenger.close();
  });

  it("when the first in the commit order is offline, the next one commits the proposal after its delay", async () => {
    const step = { proposalFallbackStepMs: 1500 };
    const alice = await registerActor(gw, "alice", step);
    const bob = await registerActor(gw, "bob", step);
    const carol = await registerActor(gw, "carol", step);
    const dave = await registerActor(gw, "dave", step);
    const groupId = await alice.messenger.createConversation("four", [bob.name, carol.name, dave.name]);
    for (const actor of [bob, carol, dave]) expect(await waitForConversation(actor)).toBe(groupId);
    alice.messenger.close(); // leaf 0, first in the order, is away

    await bob.messenger.lifecycle.proposeRemoval(groupId, carol.name);
    // dave (leaf 3) is second in the order: bob proposed, carol is being removed.
    await until(carol, "removal by dave's commit", () => carol.messenger.lifecycle.isRemoved(groupId));
    await until(bob, "the commit", async () => (await names(bob, groupId)).length === 3);
    expect(await names(dave, groupId)).toEqual([alice.name, bob.name, dave.name].sort());

    for (const actor of [bob, carol, dave]) actor.messenger.close();
  });

  it("concurrent commits: alice rotates while bob removes carol; the gateway orders them and all agree", async () => {
    const { alice, bob, carol, groupId } = await trio();
    const epoch = (await alice.messenger.conversations())[0]!.epoch;

    // Both build on the same epoch; the gateway accepts one, the other gets CommitConflict, catches up
    // and rebuilds.
    await Promise.all([
      alice.messenger.lifecycle.rotateKeys(groupId),
      bob.messenger.lifecycle.remove(groupId, carol.name),
    ]);

    await until(carol, "removal", () => carol.messenger.lifecycle.isRemoved(groupId));
    const target = epoch + 2;
    for (const actor of [alice, bob]) {
      await until(
        actor,
        "both commits",
        async () => (await actor.messenger.conversations())[0]!.epoch === target,
      );
      expect(await names(actor, groupId)).toEqual([alice.name, bob.name].sort());
    }
    await alice.messenger.send(groupId, "after the race");
    await bob.messenger.send(groupId, "same epoch here");
    expect((await waitForMessages(bob, groupId, 1))[0]?.text).toBe("after the race");
    expect((await waitForMessages(alice, groupId, 1))[0]?.text).toBe("same epoch here");

    for (const actor of [alice, bob, carol]) actor.messenger.close();
  });

  it("bob proposes adding dave; alice commits it and dave joins from the Welcome", async () => {
    const alice = await registerActor(gw, "alice");
    const bob = await registerActor(gw, "bob");
    const dave = await registerActor(gw, "dave");
    const groupId = await alice.messenger.createConversation("grow", [bob.name]);
    expect(await waitForConversation(bob)).toBe(groupId);

    await bob.messenger.lifecycle.proposeAddition(groupId, dave.name);
    expect(await waitForConversation(dave)).toBe(groupId);
    await until(bob, "the commit", async () => (await names(bob, groupId)).length === 3);
    expect(await names(dave, groupId)).toEqual([alice.name, bob.name, dave.name].sort());

    await bob.messenger.send(groupId, "welcome dave");
    expect((await waitForMessages(dave, groupId, 1))[0]?.text).toBe("welcome dave");
    for (const actor of [alice, bob, dave]) actor.messenger.close();
  });
});
