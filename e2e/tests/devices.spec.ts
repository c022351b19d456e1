import { expect, test } from "@playwright/test";
import { Actor } from "./actors.ts";

/**
 * Bob on two browser profiles (two devices of one account, docs/cryptography/devices.md): the new
 * device gets the history from before it existed, both receive, alice sees one bob, and a revoked
 * device is signed out and reads nothing sent afterwards.
 */
test("a second device: history, both receive, one bob for alice, revocation", async ({ browser }) => {
  test.setTimeout(180_000);
  const alice = await Actor.open(browser, "alice");
  const bob = await Actor.open(browser, "bob");
  await alice.register();
  await bob.register();

  await alice.startConversationWith(bob);
  await alice.send("before the second device");
  await alice.expectSent("before the second device");
  await bob.open(alice.name);
  await expect(bob.messages()).toHaveText(["before the second device"]);
  await bob.send("bob's first device says hi");
  await bob.expectSent("bob's first device says hi");

  // Bob logs in on another browser profile: a new device of his account.
  const bob2 = await bob.openSecondDevice(browser);
  await expect(
    bob.page.getByRole("alert").filter({ hasText: "A new device was added to your account:" }),
  ).toBeVisible();
  await expect(bob2.page.getByRole("status", { name: "History" })).toContainText("History restored");

  // Bob's first device adds the new one to the conversation; the history from before is there.
  await bob2.open(alice.name);
  await expect(bob2.page.getByRole("heading", { level: 2, name: alice.name })).toBeVisible();
  await expect(bob2.message("before the second device")).toBeVisible();
  await expect(bob2.message("bob's first device says hi")).toBeVisible();

  // Alice's client knows both of bob's devices before she sends.
  const aliceMembers = await alice.members();
  await expect(aliceMembers.getByRole("listitem").filter({ hasText: bob.name })).toContainText("2 devices");
  await alice.send("to both of bob's devices");
  await alice.expectSent("to both of bob's devices");
  await expect(bob.message("to both of bob's devices")).toBeVisible();
  await expect(bob2.message("to both of bob's devices")).toBeVisible();

  // Bob replies from the new device: alice sees one bob in a two-person conversation.
  await bob2.send("from bob's second device");
  await bob2.expectSent("from bob's second device");
  await expect(alice.message("from bob's second device")).toBeVisible();
  await expect(alice.message("from bob's second device").locator(".sender")).toHaveText(bob.name);
  await expect(bob.message("from bob's second device")).toBeVisible();
  await expect(alice.conversations()).toHaveText([bob.name]);
  await expect(alice.page.getByRole("heading", { level: 2 })).toHaveText(bob.name);
  await expect(aliceMembers.getByRole("listitem")).toHaveCount(2);
  await expect(alice.page.getByRole("alert")).toHaveCount(0);

  // Per-device detail on request: alice lists the devices bob's account key vouches for.
  await aliceMembers.getByRole("button", { name: `Safety number with ${bob.name}` }).click();
  await aliceMembers.getByRole("button", { name: `Show ${bob.name}'s devices` }).click();
  await expect(
    aliceMembers.getByRole("region", { name: `Devices of ${bob.name}` }).getByRole("listitem"),
  ).toHaveCount(2);

  // The new device names itself; the first device sees the name and revokes it.
  const ownList = await bob2.openDevices();
  const current = ownList.getByRole("listitem").filter({ hasText: "this device" });
  await current.getByRole("button", { name: /^Rename / }).click();
  await bob2.page.getByLabel("Device name").fill("bob's spare browser");
  await bob2.page.getByRole("button", { name: "Save" }).click();
  await expect(current).toContainText("bob's spare browser");

  const devices = await bob.openDevices();
  await expect(devices.getByRole("listitem")).toHaveCount(2);
  const spare = devices.getByRole("listitem").filter({ hasText: "bob's spare browser" });
  await expect(spare).not.toContainText("this device");
  await spare.getByRole("button", { name: "Revoke bob's spare browser" }).click();
  await bob.page
    .getByRole("group", { name: "Confirm revoking bob's spare browser" })
    .getByRole("button", {
      name: "Revoke device",
    })
    .click();
  await expect(spare).toContainText("revoked");

  // The revoked device is signed out, with the revocation's code.
  await bob2.expectLoginForm();
  await expect(bob2.authError()).toContainText("E035");

  // Alice sends after the revocation, then a sentinel: once bob's first device has the sentinel, the
  // secret would have arrived at the revoked device if it were still delivered to.
  await alice.send("after the revocation");
  await alice.send("sentinel after the revocation");
  await alice.expectSent("sentinel after the revocation");
  await bob.page.getByRole("button", { name: "Back to conversations" }).click();
  await expect(bob.message("sentinel after the revocation")).toBeVisible();
  await expect(bob.message("after the revocation")).toBeVisible();

  // Logging in again on the revoked profile is refused (E035), and shows nothing new.
  await bob2.login();
  await expect(bob2.authError()).toContainText("E035");
  await expect(bob2.page.getByText("after the revocation")).toHaveCount(0);

  await alice.close();
  await bob.close();
  await bob2.close();
});
