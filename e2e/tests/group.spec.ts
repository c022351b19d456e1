import { expect, test } from "@playwright/test";
import { Actor, uniqueName } from "./actors.ts";

test("alice creates a group with bob and carol, and all three read each other", async ({ browser }) => {
  test.setTimeout(150_000);
  const alice = await Actor.open(browser, "alice");
  const bob = await Actor.open(browser, "bob");
  const carol = await Actor.open(browser, "carol");
  const everyone = [alice, bob, carol];
  for (const actor of everyone) await actor.register();

  const group = uniqueName("Trio ");
  await alice.createGroup(group, [bob, carol]);
  // The invited members see the group in their list without doing anything.
  await bob.open(group);
  await carol.open(group);
  for (const actor of everyone) {
    await expect(actor.page.getByRole("heading", { level: 2, name: group })).toBeVisible();
  }

  // One message each, each one waiting until it has reached everybody: same order for all.
  const sent: string[] = [];
  for (const actor of everyone) {
    const text = `${actor.name} says hi`;
    await actor.send(text);
    sent.push(text);
    for (const reader of everyone) await expect(reader.messages()).toHaveText(sent);
  }

  // Each sees the other two as members.
  await bob.page.getByRole("button", { name: "Members" }).click();
  const members = bob.page.getByRole("region", { name: "Members" }).getByRole("listitem");
  await expect(members).toHaveCount(3);
  for (const name of [alice.name, `${bob.name} (you)`, carol.name]) {
    await expect(members.getByText(name, { exact: true })).toBeVisible();
  }

  for (const actor of everyone) await actor.close();
});
