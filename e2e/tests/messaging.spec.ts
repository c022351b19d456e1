import { expect, test } from "@playwright/test";
import { Actor } from "./actors.ts";

test("alice and bob register in two browsers and talk both ways", async ({ browser }) => {
  const alice = await Actor.open(browser, "alice");
  const bob = await Actor.open(browser, "bob");
  await alice.register();
  await bob.register();

  await alice.startConversationWith(bob);
  await alice.send("hello bob");
  await bob.open(alice.name);
  await expect(bob.messages()).toHaveText(["hello bob"]);

  await bob.send("hi alice");
  await expect(alice.messages()).toHaveText(["hello bob", "hi alice"]);
  await alice.close();
  await bob.close();
});
