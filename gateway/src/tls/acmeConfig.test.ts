import { describe, expect, it } from "vitest";
import { LETS_ENCRYPT_DIRECTORY, loadConfig } from "../config.ts";

describe("ACME configuration", () => {
  it("is off without QPQ_ACME_DOMAIN", () => {
    expect(loadConfig({}).acme).toBeUndefined();
  });

  it("defaults to Let's Encrypt production, a third of the lifetime, and the domain as public host", () => {
    const config = loadConfig({ QPQ_ACME_DOMAIN: "Chat.Example.org", QPQ_ACME_EMAIL: "ops@example.org" });
    expect(config.acme).toMatchObject({
      domain: "chat.example.org",
      email: "ops@example.org",
      directoryUrl: LETS_ENCRYPT_DIRECTORY,
      renewWhenLeft: 0.33,
      retryMinMs: 60_000,
    });
    expect(config.publicHost).toBe("chat.example.org");
  });

  it("refuses contradictory or unsafe settings with a clear message", () => {
    expect(() =>
      loadConfig({ QPQ_ACME_DOMAIN: "a.example", QPQ_TLS_CERT: "c.pem", QPQ_TLS_KEY: "k.pem" }),
    ).toThrow(/exclude each other/);
    expect(() => loadConfig({ QPQ_ACME_DOMAIN: "a.example", QPQ_ACME_DIRECTORY: "http://ca/dir" })).toThrow(
      /https/,
    );
    expect(() => loadConfig({ QPQ_ACME_DOMAIN: "not a name" })).toThrow(/DNS name/);
    expect(() => loadConfig({ QPQ_ACME_DOMAIN: "a.example", QPQ_ACME_RENEW_LEFT_PERCENT: "100" })).toThrow(
      /QPQ_ACME_RENEW_LEFT_PERCENT/,
    );
  });
});
