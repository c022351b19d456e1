import Database from "better-sqlite3";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { connectGateway } from "@qpq/gateway/testing";
import { ErrorCode } from "@qpq/shared/protocol";
import { Actor, baseUrl } from "./actors.ts";

/**
 * Mallory is a registered user with her own browser. She learns the channel of alice and bob's
 * conversation (here straight from the gateway's database: the worst case, say a leaked log) and
 * attacks it with her own account over a real WebTransport connection: she can neither read it nor
 * inject into it, and nothing she tries shows up in alice's or bob's browser.
 */
test("mallory cannot read or inject into alice and bob's conversation", async ({ browser }) => {
  test.setTimeout(120_000);
  const alice = await Actor.open(browser, "alice");
  const bob = await Actor.open(browser, "bob");
  const mallory = await Actor.open(browser, "mallory");
  for (const actor of [alice, bob, mallory]) await actor.register();

  await alice.startConversationWith(bob);
  await alice.send("for bob only");
  await bob.open(alice.name);
  await expect(bob.messages()).toHaveText(["for bob only"]);

  // Mallory's browser knows nothing of the conversation.
  await expect(mallory.conversations()).toHaveCount(0);

  const client = await connectGateway(baseUrl());
  try {
    // A bare client of her own: an account that never attached a device acts as its own (original)
    // device, while her browser account now needs a device certificate this client does not have.
    const bare = `${mallory.name}b`;
    await client.register(bare, mallory.password, crypto.getRandomValues(new Uint8Array(32)));
    await client.login(bare, mallory.password);
    const aliceKey = await client.resolveUser(alice.name);
    const bobKey = await client.resolveUser(bob.name);
    const channelId = sharedChannel(aliceKey, bobKey);

    const refused = { code: ErrorCode.ChannelForbidden };
    await expect(client.fetch(0, 0, channelId)).rejects.toMatchObject(refused);
    await expect(client.subscribe(0, channelId)).rejects.toMatchObject(refused);
    const junk = new TextEncoder().encode("mallory was here");
    await expect(client.enqueueToChannel(channelId, junk)).rejects.toMatchObject(refused);
    for (const recipientKey of [aliceKey, bobKey]) {
      await expect(client.enqueueToChannel(channelId, junk, { recipientKey })).rejects.toMatchObject(refused);
      // Nor is there a way around the channel: every enqueue names one the sender belongs to.
      await expect(client.enqueueToChannel(new Uint8Array(0), junk, { recipientKey })).rejects.toMatchObject({
        code: ErrorCode.InvalidArgument,
      });
    }
    // Sealed sending without their group's message and token: refused (InvalidArgument, not even an
    // MLS message).
    await expect(client.sealedEnqueue(channelId, new Uint8Array(32), junk)).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
    // Her own queue holds nothing of theirs.
    expect((await client.fetch(0)).envelopes).toEqual([]);
  } finally {
    client.close();
  }

  // The conversation goes on untouched: one more message each way, nothing else appears.
  await bob.send("still just us");
  await expect(alice.messages()).toHaveText(["for bob only", "still just us"]);
  await expect(bob.messages()).toHaveText(["for bob only", "still just us"]);
  await expect(mallory.conversations()).toHaveCount(0);
  for (const actor of [alice, bob, mallory]) await actor.close();
});

/** The group channel both alice and bob belong to, read from the gateway's SQLite database. */
function sharedChannel(a: Uint8Array, b: Uint8Array): Uint8Array {
  const dataDir = process.env.QPQ_E2E_DATA_DIR;
  if (!dataDir) throw new Error("globalSetup did not start the gateway");
  const db = new Database(join(dataDir, "qpq.sqlite"), { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare(
        "SELECT channel_id FROM channel_members WHERE identity_key = ? " +
          "INTERSECT SELECT channel_id FROM channel_members WHERE identity_key = ?",
      )
      .get(a, b) as { channel_id: Buffer } | undefined;
    if (!row) throw new Error("alice and bob share no channel");
    return new Uint8Array(row.channel_id);
  } finally {
    db.close();
  }
}
