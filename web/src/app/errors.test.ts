import { describe, expect, it } from "vitest";
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { deviceNameProblem } from "./devices.ts";
import { describeError, isRevocation } from "./errors.ts";

describe("describeError", () => {
  it("shows every coded error with its code", () => {
    expect(describeError(new QpqError(ErrorCode.AuthFailed, "x"))).toBe("Wrong username or password. (E008)");
    expect(describeError(new QpqError(ErrorCode.DeviceLimit, "x"))).toMatch(/Revoke one .*\(E036\)$/);
    expect(describeError(new QpqError(ErrorCode.BackupFull, "x"))).toMatch(/\(E038\)$/);
    expect(describeError(new QpqError(ErrorCode.DeviceCertificateInvalid, "x"))).toMatch(/\(E037\)$/);
  });

  it("calls a revoked device's ended session a revocation (E035)", () => {
    const ended = new QpqError(
      ErrorCode.SessionInvalid,
      "signed out: this device was revoked by its account",
    );
    expect(isRevocation(ended)).toBe(true);
    expect(describeError(ended)).toMatch(/revoked.*\(E035\)$/);
    expect(isRevocation(new QpqError(ErrorCode.SessionInvalid, "your session ended"))).toBe(false);
    expect(describeError(new QpqError(ErrorCode.DeviceRevoked, "x"))).toMatch(/\(E035\)$/);
  });
});

describe("deviceNameProblem", () => {
  it("accepts 1-64 printable characters", () => {
    expect(deviceNameProblem("Chromium on Linux")).toBeUndefined();
    expect(deviceNameProblem("x".repeat(64))).toBeUndefined();
    expect(deviceNameProblem("   ")).toMatch(/empty/);
    expect(deviceNameProblem("x".repeat(65))).toMatch(/at most 64/);
    expect(deviceNameProblem("bad\u0007name")).toMatch(/control/);
  });
});
