import { expect, test } from "@playwright/test";
import { Actor, uniqueName } from "./actors.ts";
import { CliActor } from "./cliActor.ts";

test("CLI alice and browser bob talk both ways in a direct conversation", async ({ browser }) => {
  test.setTimeout(150_000);
  const alice = CliActor.create("alice");
  const bob = await Actor.open(browser, "bob");
  await alice.register();
  await bob.register();

  const dm = await alice.qpq<{ id: string }>(["dm", bob.name]);
  await alice.send(bob.name, "hello from the terminal");
  await bob.open(alice.name);
  await expect(bob.messages()).toHaveText(["hello from the terminal"]);

  alice.listen();
  try {
    await bob.send("hello from the browser");
    await bob.expectSent("hello from the browser");
    expect(await alice.received("hello from the browser")).toMatchObject({
      conversation: dm.id,
      sender: bob.name,
      title: bob.name,
    });
  } finally {
    await alice.stopListening();
  }

  // Both sides compute the same safety number.
  const cliSide = await alice.qpq<{ safetyNumber: string }>(["verify", bob.name]);
  await bob.page.getByRole("button", { name: "Members" }).click();
  await bob.page.getByRole("button", { name: `Safety number with ${alice.name}` }).click();
  await expect(bob.page.getByLabel(`Safety number with ${alice.name} digits`)).toHaveText(
    cliSide.safetyNumber,
  );
  await bob.close();
});

test("CLI alice runs a group with browser bob and carol", async ({ browser }) => {
  test.setTimeout(180_000);
  const alice = CliActor.create("alice");
  const bob = await Actor.open(browser, "bob");
  const carol = await Actor.open(browser, "carol");
  await alice.register();
  await bob.register();
  await carol.register();

  const name = uniqueName("Mixed ");
  await alice.qpq(["group", "create", name, bob.name]);
  await alice.qpq(["invite", name, carol.name]);
  await alice.send(name, "welcome from the CLI");
  for (const member of [bob, carol]) {
    await member.open(name);
    await expect(member.messages()).toHaveText(["welcome from the CLI"]);
  }

  alice.listen();
  try {
    await bob.send("bob from the browser");
    expect(await alice.received("bob from the browser")).toMatchObject({ sender: bob.name, title: name });
    await carol.send("carol from the browser");
    expect(await alice.received("carol from the browser")).toMatchObject({ sender: carol.name, title: name });
  } finally {
    await alice.stopListening();
  }
  await expect(bob.messages()).toHaveText([
    "welcome from the CLI",
    "bob from the browser",
    "carol from the browser",
  ]);

  const members = await alice.qpq<{ members: string[] }>(["members", name]);
  expect(members.members.sort()).toEqual([alice.name, bob.name, carol.name].sort());
  await bob.close();
  await carol.close();
});

test("CLI alice rotates her keys and removes browser carol; the browsers follow", async ({ browser }) => {
  test.setTimeout(180_000);
  const alice = CliActor.create("alice");
  const bob = await Actor.open(browser, "bob");
  const carol = await Actor.open(browser, "carol");
  await alice.register();
  await bob.register();
  await carol.register();
  const name = uniqueName("Lifecycle ");
  const created = await alice.qpq<{ epoch: number }>(["group", "create", name, bob.name, carol.name]);
  await alice.send(name, "before anything");
  for (const member of [bob, carol]) {
    await member.open(name);
    await expect(member.messages()).toHaveText(["before anything"]);
  }

  // update: the browsers process alice's commit, or they could not read what she sends next.
  const rotated = await alice.qpq<{ epoch: number }>(["update", name]);
  expect(rotated.epoch).toBeGreaterThan(created.epoch);
  await alice.send(name, "after new keys");
  for (const member of [bob, carol]) {
    await expect(member.messages()).toHaveText(["before anything", "after new keys"]);
  }

  // remove: carol's browser shows she was removed; bob and alice go on without her.
  await alice.qpq(["remove", name, carol.name]);
  await expect(
    carol.page.getByRole("alert").filter({ hasText: "You were removed from this conversation" }),
  ).toBeVisible();
  await expect(carol.page.getByRole("textbox", { name: "Message" })).toHaveCount(0);
  await bob.page.getByRole("button", { name: "Members" }).click();
  await expect(
    bob.page.getByRole("region", { name: "Members" }).getByText(carol.name, { exact: true }),
  ).toHaveCount(0);
  await alice.send(name, "carol is gone");
  await expect(bob.messages()).toHaveText(["before anything", "after new keys", "carol is gone"]);
  // The listener holds alice's state directory, so it starts once she is done sending.
  alice.listen();
  try {
    await bob.send("just us");
    expect(await alice.received("just us")).toMatchObject({ sender: bob.name, title: name });
  } finally {
    await alice.stopListening();
  }
  await expect(carol.messages()).toHaveText(["before anything", "after new keys"]);
  await bob.close();
  await carol.close();
});
