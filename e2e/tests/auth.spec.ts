import { expect, test, type Page } from "@playwright/test";
import { Actor } from "./actors.ts";

async function attemptLogin(page: Page, username: string, password: string): Promise<string> {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  const alert = page.getByRole("alert");
  await expect(alert).toBeVisible();
  await expect(page.getByRole("status", { name: "Connection" })).toHaveCount(0);
  return (await alert.innerText()).trim();
}

test("a wrong password and an unknown username get the same error", async ({ browser }) => {
  test.setTimeout(150_000);
  const alice = await Actor.open(browser, "alice");
  await alice.register();
  await alice.page.getByRole("button", { name: "Log out" }).click();
  await alice.expectLoginForm();

  // A wrong password on alice's own device, where her keys are.
  const wrongPassword = await attemptLogin(alice.page, alice.name, "not the password");
  // A wrong password for alice's name on somebody else's device.
  const intruder = await Actor.open(browser, "intruder");
  const wrongPasswordElsewhere = await attemptLogin(intruder.page, alice.name, "not the password");
  // A username nobody registered.
  const stranger = await Actor.open(browser, "nobody");
  const unknownUser = await attemptLogin(stranger.page, stranger.name, "some password");

  console.log(`wrong password: "${wrongPassword}"; unknown user: "${unknownUser}"`);
  expect(wrongPassword).not.toBe("");
  // The error must not tell whether the account exists.
  expect(wrongPasswordElsewhere).toBe(wrongPassword);
  expect(unknownUser).toBe(wrongPassword);

  // The failed attempts did not lock alice out.
  await alice.logIn();

  await alice.close();
  await intruder.close();
  await stranger.close();
});
