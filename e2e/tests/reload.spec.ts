import { expect, test } from "@playwright/test";
import { Actor } from "./actors.ts";

test("history survives a reload, and messages sent while bob reloads reach him after he logs in", async ({
  browser,
}) => {
  test.setTimeout(180_000);
  const alice = await Actor.open(browser, "alice");
  const bob = await Actor.open(browser, "bob");
  await alice.register();
  await bob.register();

  await alice.startConversationWith(bob);
  await alice.send("hello before the reload");
  await bob.open(alice.name);
  await expect(bob.messages()).toHaveText(["hello before the reload"]);
  await bob.send("hi, still before it");
  const history = ["hello before the reload", "hi, still before it"];
  await expect(alice.messages()).toHaveText(history);

  // Alice reloads: signed out, she logs in again and her history comes back from IndexedDB.
  await alice.reload();
  await alice.logIn();
  await alice.open(bob.name);
  await expect(alice.messages()).toHaveText(history);

  // Bob reloads; alice writes while his page is reloading and again before he has logged in.
  const reloading = bob.page.reload();
  await alice.send("sent while bob reloads");
  await reloading;
  await bob.expectLoginForm();
  await alice.send("sent before bob logs in");
  await alice.expectSent("sent while bob reloads");
  await alice.expectSent("sent before bob logs in");

  await bob.logIn();
  await bob.open(alice.name);
  const all = [...history, "sent while bob reloads", "sent before bob logs in"];
  await expect(bob.messages()).toHaveText(all);

  // The conversation still works both ways after the reloads.
  await bob.send("back again");
  await expect(alice.messages()).toHaveText([...all, "back again"]);
  await expect(bob.messages()).toHaveText([...all, "back again"]);

  await alice.close();
  await bob.close();
});
