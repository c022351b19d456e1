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
