import { expect, test } from "@playwright/test";
import { Actor, uniqueName } from "./actors.ts";

test("carol leaves: her proposal is committed by another member, alice and bob keep talking, carol reads nothing new", async ({
  browser,
}) => {
  test.setTimeout(150_000);
  const alice = await Actor.open(browser, "alice");
  const bob = await Actor.open(browser, "bob");
  const carol = await Actor.open(browser, "carol");
  const everyone = [alice, bob, carol];
  for (const actor of everyone) await actor.register();

  const group = uniqueName("Trio ");
  await alice.createGroup(group, [bob, carol]);
  await bob.open(group);
  await carol.open(group);
  await alice.send("before leaving");
  for (const actor of everyone) await expect(actor.messages()).toHaveText(["before leaving"]);

  await carol.page.getByRole("button", { name: "Leave" }).click();
  await expect(carol.page.getByRole("alert").filter({ hasText: "You left this conversation" })).toBeVisible();
  await expect(carol.page.getByRole("textbox", { name: "Message" })).toHaveCount(0);

  // MLS lets nobody commit their own removal: alice's or bob's client commits carol's proposal.
  const members = alice.page.getByRole("region", { name: "Members" });
  await alice.page.getByRole("button", { name: "Members" }).click();
  await expect(members.getByText(carol.name, { exact: true })).toHaveCount(0);

  await alice.send("carol left");
  await expect(bob.messages()).toHaveText(["before leaving", "carol left"]);
  await bob.send("we are two now");
  await expect(alice.messages()).toHaveText(["before leaving", "carol left", "we are two now"]);
  await alice.expectSent("carol left");
  await bob.expectSent("we are two now");
  await expect(carol.messages()).toHaveText(["before leaving"]);

  for (const actor of everyone) await actor.close();
});
