import { expect, type Browser, type BrowserContext, type Page } from "@playwright/test";

export const baseUrl = (): string => {
  const url = process.env.QPQ_E2E_BASE_URL;
  if (!url) throw new Error("globalSetup did not start the gateway");
  return url;
};

let counter = 0;
/** Usernames unique per run and test, so scenarios never see each other's users. */
export function uniqueName(base: string): string {
  return `${base}${Date.now().toString(36).slice(-4)}${++counter}`;
}

/** One person with their own browser context (own IndexedDB), driving the app like a user. */
export class Actor {
  private constructor(
    readonly name: string,
    readonly password: string,
    readonly context: BrowserContext,
    public page: Page,
    private readonly url: string,
  ) {}

  /** `url`: a gateway of the scenario's own (one it kills, say) instead of the suite's shared one. */
  static async open(browser: Browser, base: string, url = baseUrl()): Promise<Actor> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    return new Actor(uniqueName(base), `pw of ${base} ${counter}`, context, page, url);
  }

  async register(): Promise<void> {
    await this.fillCredentials(this.password);
    await this.page.getByRole("button", { name: "Create account" }).click();
    await this.expectSignedIn();
  }

  async login(password = this.password): Promise<void> {
    await this.fillCredentials(password);
    await this.page.getByRole("button", { name: "Log in" }).click();
  }

  async fillCredentials(password: string, username = this.name): Promise<void> {
    await this.page.getByLabel("Username").fill(username);
    await this.page.getByLabel("Password").fill(password);
  }

  /** The connection badge. */
  badge() {
    return this.page.getByRole("status", { name: "Connection" });
  }

  async expectSignedIn(): Promise<void> {
    await expect(this.badge()).toHaveText("Online");
  }

  /** Logs in with the right password and waits until the app is online. */
  async logIn(): Promise<void> {
    await this.login();
    await this.expectSignedIn();
  }

  /** The sign-in form a signed-out visitor sees, ready to type into. */
  async expectLoginForm(): Promise<void> {
    await expect(this.page.getByLabel("Username")).toBeEditable();
    await expect(this.page.getByRole("button", { name: "Log in" })).toBeEnabled();
  }

  /** Reloads the page (same context, so same IndexedDB): the app starts signed out. */
  async reload(): Promise<void> {
    await this.page.reload();
    await this.expectLoginForm();
  }

  /** Closes this actor's page but keeps the browser context (and its IndexedDB). */
  async closePage(): Promise<void> {
    await this.page.close();
  }

  /** Opens the app in a new page of the same context, as after closing and reopening a tab. */
  async reopen(): Promise<void> {
    this.page = await this.context.newPage();
    await this.page.goto(this.url);
    await this.expectLoginForm();
  }

  /** The error the sign-in form shows. */
  authError() {
    return this.page.getByRole("alert");
  }

  conversations() {
    return this.page.getByRole("navigation", { name: "Conversations" }).getByRole("button");
  }

  async startConversationWith(other: Actor): Promise<void> {
    await this.page.getByRole("button", { name: "New conversation" }).click();
    await this.page.getByLabel("Start a conversation with").fill(other.name);
    await this.page.getByRole("button", { name: "Start conversation" }).click();
    await expect(this.page.getByRole("heading", { level: 2, name: other.name })).toBeVisible();
  }

  async createGroup(name: string, members: Actor[]): Promise<void> {
    await this.page.getByRole("button", { name: "New group" }).click();
    await this.page.getByLabel("Group name").fill(name);
    await this.page.getByLabel(/^Members/).fill(members.map((m) => m.name).join(", "));
    await this.page.getByRole("button", { name: "Create group" }).click();
    await expect(this.page.getByRole("heading", { level: 2, name })).toBeVisible();
  }

  async open(conversationTitle: string | RegExp): Promise<void> {
    await this.page
      .getByRole("navigation", { name: "Conversations" })
      .getByRole("button", { name: conversationTitle })
      .click();
  }

  async send(text: string): Promise<void> {
    await this.page.getByRole("textbox", { name: "Message" }).fill(text);
    await this.page.getByRole("button", { name: "Send" }).click();
  }

  messages() {
    return this.page.getByRole("log", { name: "Messages" }).locator(".text");
  }

  /** Opens the member list of the open conversation (if closed) and removes the member. */
  async removeMember(other: Actor): Promise<void> {
    const members = this.page.getByRole("region", { name: "Members" });
    if (!(await members.isVisible())) await this.page.getByRole("button", { name: "Members" }).click();
    await members.getByRole("button", { name: `Remove ${other.name}` }).click();
    await expect(members.getByText(other.name, { exact: true })).toHaveCount(0);
  }

  /** The list item of the (single) message with exactly this text. */
  message(text: string) {
    return this.page
      .getByRole("log", { name: "Messages" })
      .getByRole("listitem")
      .filter({ has: this.page.getByText(text, { exact: true }) });
  }

  /** Waits until the gateway has accepted one of this actor's messages (shown as "Sent"). */
  async expectSent(text: string): Promise<void> {
    await expect(this.message(text)).toContainText("· Sent");
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}
