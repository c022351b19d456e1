import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ErrorCode, formatErrorCode } from "./errors.ts";

describe("error registry", () => {
  it("is documented in docs/protocol.md, code by code", () => {
    const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");
    for (const [name, code] of Object.entries(ErrorCode)) {
      // Prettier pads table cells, so match the row loosely.
      const row = new RegExp(`\\|\\s*${formatErrorCode(code)}\\s*\\|\\s*${name}\\s*\\|`);
      expect(doc, `${formatErrorCode(code)} ${name}`).toMatch(row);
    }
  });

  it("runs from E001 without holes or duplicates", () => {
    const codes = Object.values(ErrorCode).sort((a, b) => a - b);
    expect(codes).toEqual(codes.map((_, i) => i + 1));
  });
});
