import { expect, test } from "@playwright/test";
import { Actor } from "./actors.ts";

test("messages sent while bob's page is closed arrive exactly once, in order, when he comes back", async ({
  browser,
}) => {
  test.setTimeout(150_000);
  const alice = await Actor.open(browser, "alice");
  const bob = await Actor.open(browser, "bob");
  await alice.register();
  await bob.register();

  await alice.startConversationWith(bob);
  await alice.send("are you there?");
  await bob.open(alice.name);
  await expect(bob.messages()).toHaveText(["are you there?"]);

  // Bob closes his tab; his browser profile (IndexedDB) stays.
  await bob.closePage();
  const offline = ["first while you were away", "second while you were away", "third while you were away"];
  for (const text of offline) {
    await alice.send(text);
    await alice.expectSent(text);
  }

  await bob.reopen();
  await bob.logIn();
  await bob.open(alice.name);
  const expected = ["are you there?", ...offline];
  await expect(bob.messages()).toHaveText(expected);

  // A round trip later nothing was delivered twice.
  await bob.send("got all three");
  await expect(alice.messages()).toHaveText([...expected, "got all three"]);
  await expect(bob.messages()).toHaveText([...expected, "got all three"]);

  await alice.close();
  await bob.close();
});
