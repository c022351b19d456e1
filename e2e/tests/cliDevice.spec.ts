import { join } from "node:path";
import Database from "better-sqlite3";
import { expect, test } from "@playwright/test";
import { Actor } from "./actors.ts";
import { CliActor } from "./cliActor.ts";

/** How many history entries the gateway holds for an account (its SQLite database, read-only). */
function backupEntries(username: string): number {
  const dataDir = process.env.QPQ_E2E_DATA_DIR;
  if (!dataDir) throw new Error("globalSetup did not start the gateway");
  const db = new Database(join(dataDir, "qpq.sqlite"), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare("SELECT count(*) AS n FROM backup_entries WHERE username = ?").get(username) as {
      n: number;
    };
    return row.n;
  } finally {
    db.close();
  }
}

interface LoginJson {
  newDevice: boolean;
  deviceName: string;
  restoredMessages: number;
  conversations: number;
  conversationsPending: number;
}

test("browser bob logs in with the CLI as a new device: history, then both ways with browser alice", async ({
  browser,
}) => {
  test.setTimeout(180_000);
  const alice = await Actor.open(browser, "alice");
  const bob = await Actor.open(browser, "bob");
  await alice.register();
  await bob.register();
  await alice.startConversationWith(bob);
  await alice.send("hello bob, from before the terminal");
  await alice.expectSent("hello bob, from before the terminal");
  await bob.open(alice.name);
  await expect(bob.messages()).toHaveText(["hello bob, from before the terminal"]);
  await bob.send("hi alice, from the browser");
  await bob.expectSent("hi alice, from the browser");
  // bob's browser backs up what it stores, batched: both messages are in the account's backup.
  await expect.poll(() => backupEntries(bob.name), { timeout: 20_000 }).toBeGreaterThanOrEqual(2);

  // The CLI in a fresh state directory becomes bob's second device. bob's browser is online and adds
  // it to the conversation while the login waits.
  const terminal = CliActor.deviceOf(bob);
  const joined = await terminal.login<LoginJson>(["--device-name", "bob's terminal"]);
  expect(joined).toMatchObject({
    newDevice: true,
    deviceName: "bob's terminal",
    restoredMessages: 2,
    conversations: 1,
    conversationsPending: 0,
  });

  // The history from before this device existed, in the conversation with alice.
  const history = await terminal.recv();
  expect(history.map((m) => [m.sender, m.text, m.title])).toEqual([
    [alice.name, "hello bob, from before the terminal", alice.name],
  ]);
  const devices = await terminal.qpq<{ name: string; current: boolean }[]>(["devices"]);
  // Two devices: this terminal (current) and the browser, whatever name the web app gave it.
  expect(devices).toHaveLength(2);
  expect(devices.filter((d) => d.current).map((d) => d.name)).toEqual(["bob's terminal"]);
  expect(devices.find((d) => !d.current)?.name).toBeTruthy();

  // What the terminal sends, alice reads from bob, and bob's browser shows as his own.
  await terminal.send(alice.name, "hello alice, from bob's terminal");
  await expect(alice.messages()).toHaveText([
    "hello bob, from before the terminal",
    "hi alice, from the browser",
    "hello alice, from bob's terminal",
  ]);
  await expect(bob.messages()).toHaveText([
    "hello bob, from before the terminal",
    "hi alice, from the browser",
    "hello alice, from bob's terminal",
  ]);
  // alice still has one contact bob: one safety number, which the terminal computes too.
  await alice.page.getByRole("button", { name: "Members" }).click();
  await alice.page.getByRole("button", { name: `Safety number with ${bob.name}` }).click();
  const safety = await terminal.qpq<{ safetyNumber: string; devices: unknown[] }>([
    "verify",
    alice.name,
    "--devices",
  ]);
  await expect(alice.page.getByLabel(`Safety number with ${bob.name} digits`)).toHaveText(
    safety.safetyNumber,
  );
  expect(safety.devices).toHaveLength(1);

  // And what alice sends now reaches the terminal as it arrives.
  terminal.listen();
  try {
    await alice.send("to all of bob's devices");
    expect(await terminal.received("to all of bob's devices")).toMatchObject({
      sender: alice.name,
      title: alice.name,
    });
  } finally {
    await terminal.stopListening();
  }
  await expect(bob.messages()).toHaveText([
    "hello bob, from before the terminal",
    "hi alice, from the browser",
    "hello alice, from bob's terminal",
    "to all of bob's devices",
  ]);
  await alice.close();
  await bob.close();
});
