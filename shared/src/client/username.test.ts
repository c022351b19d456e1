import { describe, expect, it } from "vitest";
import { ErrorCode } from "../protocol/errors.ts";
import { canonicalUsername, sameUsername } from "./username.ts";

describe("canonicalUsername", () => {
  it("lowercases", () => {
    expect(canonicalUsername("Bob")).toBe("bob");
    expect(canonicalUsername("ALICE.smith_2-x")).toBe("alice.smith_2-x");
  });

  it("folds compatibility forms (fullwidth letters) with NFKC", () => {
    expect(canonicalUsername("ＢＯＢ")).toBe("bob");
    expect(canonicalUsername("ｂｏｂ")).toBe("bob");
  });

  it("refuses surrounding whitespace instead of trimming it", () => {
    for (const raw of [" bob", "bob ", "b ob", "\tbob"]) {
      expect(() => canonicalUsername(raw), JSON.stringify(raw)).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidArgument }),
      );
    }
  });

  it("refuses empty, over-long, and names not starting with a letter or digit", () => {
    for (const raw of ["", "a".repeat(33), ".bob", "-bob", "_bob", "bob!", "böb"]) {
      expect(() => canonicalUsername(raw), JSON.stringify(raw)).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidArgument }),
      );
    }
    expect(canonicalUsername("a".repeat(32))).toBe("a".repeat(32));
  });

  it("sameUsername compares canonical forms", () => {
    expect(sameUsername("Bob", "ＢＯＢ")).toBe(true);
    expect(sameUsername("bob", "bobby")).toBe(false);
    expect(sameUsername(" bob", "bob")).toBe(false);
  });
});
