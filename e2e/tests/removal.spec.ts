import { expect, test } from "@playwright/test";
import { Actor, uniqueName } from "./actors.ts";

test("alice removes carol: bob and alice keep talking, carol sees she was removed and reads nothing new", async ({
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
  await alice.send("before the removal");
  for (const actor of everyone) await expect(actor.messages()).toHaveText(["before the removal"]);

  await alice.removeMember(carol);

  const notice = carol.page.getByRole("alert").filter({ hasText: "You were removed from this conversation" });
  await expect(notice).toBeVisible();
  await expect(carol.page.getByRole("textbox", { name: "Message" })).toHaveCount(0);

  await alice.send("carol is gone");
  await expect(bob.messages()).toHaveText(["before the removal", "carol is gone"]);
  await bob.send("we are two now");
  await expect(alice.messages()).toHaveText(["before the removal", "carol is gone", "we are two now"]);
  await alice.expectSent("carol is gone");
  await bob.expectSent("we are two now");
  // Carol keeps what she had and gets nothing new, after everything above was delivered to everyone.
  await expect(carol.messages()).toHaveText(["before the removal"]);

  for (const actor of everyone) await actor.close();
});
