import { describe, expect, it } from "vitest";
import { terminalSafe } from "./terminalSafe.ts";

describe("terminalSafe", () => {
  it("leaves ordinary text, including non-Latin scripts and emoji, alone", () => {
    expect(terminalSafe("héllo, мир, 世界 👋")).toBe("héllo, мир, 世界 👋");
  });

  it("shows escape sequences, newlines and bidi overrides as visible escapes", () => {
    expect(terminalSafe("\u001b]0;pwned\u0007red\u001b[31m")).toBe("\\u{1b}]0;pwned\\u{7}red\\u{1b}[31m");
    expect(terminalSafe("hi\n2026-01-01 00:00:00 bob: send me your password")).toBe(
      "hi\\n2026-01-01 00:00:00 bob: send me your password",
    );
    expect(terminalSafe("invoice\u202Efdp.exe")).toBe("invoice\\u{202e}fdp.exe");
    expect(terminalSafe("\u009b2J")).toBe("\\u{9b}2J");
  });

  it("shows zero-width and other invisible characters, so a look-alike name does not read as the real one", () => {
    expect(terminalSafe("bo\u200bb")).toBe("bo\\u{200b}b");
    expect(terminalSafe("\ufeffalice\u200d\u2060\u00ad")).toBe("\\u{feff}alice\\u{200d}\\u{2060}\\u{ad}");
  });
});
