import { expect, test } from "@playwright/test";
import { Actor } from "./actors.ts";

test("alice and bob see the same safety number, and alice marks bob verified", async ({ browser }) => {
  const alice = await Actor.open(browser, "alice");
  const bob = await Actor.open(browser, "bob");
  await alice.register();
  await bob.register();
  await alice.startConversationWith(bob);
  await alice.send("let us compare numbers");
  await bob.open(alice.name);
  await expect(bob.messages()).toHaveText(["let us compare numbers"]);

  const digitsOf = async (actor: Actor, other: Actor) => {
    await actor.page.getByRole("button", { name: "Members" }).click();
    await actor.page.getByRole("button", { name: `Safety number with ${other.name}` }).click();
    const code = actor.page.getByLabel(`Safety number with ${other.name} digits`);
    await expect(code).toHaveText(/^(\d{5} ){11}\d{5}$/);
    return code.textContent();
  };
  const atAlice = await digitsOf(alice, bob);
  const atBob = await digitsOf(bob, alice);
  expect(atAlice).toBe(atBob);

  await alice.page.getByRole("button", { name: `Mark ${bob.name} as verified` }).click();
  await expect(alice.page.getByRole("region", { name: "Members" })).toContainText("✓ verified");
  await alice.close();
  await bob.close();
});
