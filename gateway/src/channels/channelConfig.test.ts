import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.ts";

describe("channel configuration", () => {
  it("defaults: a window of 3 epochs, 1000 members", () => {
    const config = loadConfig({});
    expect(config.channels).toEqual({ epochWindow: 3 });
    expect(config.limits.maxGroupMembers).toBe(1000);
  });

  it("reads the variables", () => {
    const config = loadConfig({ QPQ_EPOCH_WINDOW: "0", QPQ_MAX_GROUP_MEMBERS: "50" });
    expect(config.channels).toEqual({ epochWindow: 0 });
    expect(config.limits.maxGroupMembers).toBe(50);
  });

  it("refuses values it does not understand", () => {
    expect(() => loadConfig({ QPQ_EPOCH_WINDOW: "-1" })).toThrow(/QPQ_EPOCH_WINDOW/);
    expect(() => loadConfig({ QPQ_MAX_GROUP_MEMBERS: "1" })).toThrow(/QPQ_MAX_GROUP_MEMBERS/);
  });

  it("refuses the switches protocol 2 removed instead of silently ignoring them", () => {
    expect(() => loadConfig({ QPQ_REQUIRE_CHANNELS: "on" })).toThrow(/QPQ_REQUIRE_CHANNELS was removed/);
    expect(() => loadConfig({ QPQ_REQUIRE_CHANNEL_AUTHZ: "off" })).toThrow(/QPQ_REQUIRE_CHANNEL_AUTHZ/);
  });
});
