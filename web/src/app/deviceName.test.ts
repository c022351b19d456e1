import { describe, expect, it } from "vitest";
import { deviceNameFor } from "./deviceName.ts";

const CHROME_LINUX =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

describe("deviceNameFor", () => {
  it("names the browser and the system", () => {
    expect(deviceNameFor(CHROME_LINUX)).toBe("Chrome on Linux");
    expect(
      deviceNameFor("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"),
    ).toBe("Firefox on Windows");
    expect(
      deviceNameFor(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
      ),
    ).toBe("Safari on iOS");
    expect(
      deviceNameFor(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
      ),
    ).toBe("Edge on macOS");
    expect(
      deviceNameFor(
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
      ),
    ).toBe("Chrome on Android");
  });

  it("says Chromium when the brands say so", () => {
    expect(deviceNameFor(CHROME_LINUX, [{ brand: "Chromium" }, { brand: "Not_A Brand" }])).toBe(
      "Chromium on Linux",
    );
    expect(deviceNameFor(CHROME_LINUX, [{ brand: "Chromium" }, { brand: "Google Chrome" }])).toBe(
      "Chrome on Linux",
    );
  });

  it("falls back to something printable", () => {
    expect(deviceNameFor("")).toBe("Web browser");
    expect(deviceNameFor("curl/8.0")).toBe("Web browser");
  });
});
