import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.ts";

describe("channel configuration", () => {
  it("defaults: authorization on, legacy path allowed, a window of 3 epochs, 1000 members", () => {
    const config = loadConfig({});
    expect(config.channels).toEqual({ requireAuthz: true, requireChannels: false, epochWindow: 3 });
    expect(config.limits.maxGroupMembers).toBe(1000);
  });

  it("reads the variables", () => {
    const config = loadConfig({
      QPQ_REQUIRE_CHANNEL_AUTHZ: "off",
      QPQ_REQUIRE_CHANNELS: "on",
      QPQ_EPOCH_WINDOW: "0",
      QPQ_MAX_GROUP_MEMBERS: "50",
    });
    expect(config.channels).toEqual({ requireAuthz: false, requireChannels: true, epochWindow: 0 });
    expect(config.limits.maxGroupMembers).toBe(50);
  });

  it("refuses values it does not understand", () => {
    expect(() => loadConfig({ QPQ_REQUIRE_CHANNEL_AUTHZ: "yes" })).toThrow(/QPQ_REQUIRE_CHANNEL_AUTHZ/);
    expect(() => loadConfig({ QPQ_EPOCH_WINDOW: "-1" })).toThrow(/QPQ_EPOCH_WINDOW/);
    expect(() => loadConfig({ QPQ_MAX_GROUP_MEMBERS: "1" })).toThrow(/QPQ_MAX_GROUP_MEMBERS/);
  });
});
