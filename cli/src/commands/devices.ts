/**
 * devices, devices rename, devices revoke: this account's devices through the core's AccountDevices
 * (docs/cryptography/devices.md). Names come from the gateway (chosen by the owner on any device), so
 * they are printed through the terminal escaping of Context.result like everything else from outside.
 */
import { createInterface } from "node:readline/promises";
import type { OwnDevice } from "@qpq/shared/client";
import { toHex } from "@qpq/shared/bytes";
import type { Context } from "../context.ts";
import { CliError, ExitCode } from "../exitCodes.ts";
import { resumeSession, type Session } from "../session.ts";
import { terminalSafe } from "../terminalSafe.ts";

/** Hex digits of the device key shown as a device's id; a prefix of at least MIN_PREFIX names one. */
const SHOWN_ID = 12;
const MIN_PREFIX = 4;

async function withSession<T>(ctx: Context, fn: (session: Session) => Promise<T>): Promise<T> {
  const session = await resumeSession(ctx);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

export function devices(ctx: Context): Promise<void> {
  return withSession(ctx, async (session) => {
    const list = await session.messenger.devices.list();
    ctx.result(list.flatMap(humanLines), list.map(deviceJson));
  });
}

export function rename(ctx: Context): Promise<void> {
  const [ref, ...words] = ctx.args as [string, ...string[]];
  const name = words.join(" ").trim();
  if (name.length === 0) throw new CliError(ExitCode.Usage, "a device needs a name");
  return withSession(ctx, async (session) => {
    const device = resolveDevice(await session.messenger.devices.list(), ref);
    await session.messenger.devices.rename(device.deviceKey, name);
    const renamed = (await session.messenger.devices.list()).find((d) => sameDevice(d, device)) ?? device;
    ctx.result(`renamed ${idOf(device)} to "${renamed.name}"`, deviceJson(renamed));
  });
}

export function revoke(ctx: Context): Promise<void> {
  return withSession(ctx, async (session) => {
    const device = resolveDevice(await session.messenger.devices.list(), ctx.args[0]!);
    if (device.current) {
      throw new CliError(
        ExitCode.Rejected,
        "this is the device you are using: run `qpq logout`, or revoke it from another device",
      );
    }
    if (device.revoked) {
      throw new CliError(ExitCode.Rejected, `${idOf(device)} "${device.name}" is already revoked`);
    }
    if (!ctx.options.yes) await confirm(`revoke ${idOf(device)} "${device.name}"?`);
    await session.messenger.devices.revoke(device.deviceKey);
    const revoked = (await session.messenger.devices.list()).find((d) => sameDevice(d, device)) ?? device;
    ctx.result(
      `revoked ${idOf(device)} "${device.name}": it is out of every conversation and cannot log in again`,
      deviceJson(revoked),
    );
  });
}

/** Asks on the terminal; without one, refuses (a script says --yes, it is not asked). */
async function confirm(question: string): Promise<void> {
  if (!process.stdin.isTTY) {
    throw new CliError(ExitCode.Usage, "no terminal to confirm on: add --yes to revoke without asking");
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${terminalSafe(question)} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError(ExitCode.Usage, "cancelled");
  } finally {
    prompt.close();
  }
}

/** DEVICE as typed: a name (of one device; unrevoked ones first), or a prefix of a device id. */
export function resolveDevice(list: OwnDevice[], ref: string): OwnDevice {
  const named = list.filter((d) => d.name === ref);
  const live = named.filter((d) => !d.revoked);
  const byName = live.length > 0 ? live : named;
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) throw ambiguous(ref, byName);
  const hex = ref.toLowerCase();
  if (hex.length >= MIN_PREFIX && /^[0-9a-f]+$/.test(hex)) {
    const byId = list.filter((d) => toHex(d.deviceKey).startsWith(hex));
    if (byId.length === 1) return byId[0]!;
    if (byId.length > 1) throw ambiguous(ref, byId);
  }
  throw new CliError(ExitCode.NotFound, `no device "${ref}" (see \`qpq devices\`)`);
}

function ambiguous(ref: string, matches: OwnDevice[]): CliError {
  return new CliError(
    ExitCode.Usage,
    `"${ref}" matches several devices; use an id: ${matches.map(idOf).join(", ")}`,
  );
}

function sameDevice(a: OwnDevice, b: OwnDevice): boolean {
  return toHex(a.deviceKey) === toHex(b.deviceKey);
}

const idOf = (d: { deviceKey: Uint8Array }) => toHex(d.deviceKey).slice(0, SHOWN_ID);

/** "2026-12-04 19:30" in UTC; "never" for 0 (the gateway tells the owner only). */
export function when(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString().replace("T", " ").slice(0, 16) + " UTC" : "never";
}

function humanLines(d: OwnDevice): string[] {
  const marks = [d.current ? "(this device)" : "", d.revoked ? `(revoked ${when(d.revokedAtMs)})` : ""];
  return [
    [`${d.current ? "*" : " "} ${idOf(d)}  ${d.name}`, ...marks.filter((m) => m !== "")].join("  "),
    `    added ${when(d.createdAtMs)}, last seen ${when(d.lastSeenMs)}, fingerprint ${d.fingerprint}`,
  ];
}

function deviceJson(d: OwnDevice) {
  return {
    id: toHex(d.deviceKey),
    name: d.name,
    current: d.current,
    revoked: d.revoked,
    createdAtMs: d.createdAtMs,
    lastSeenMs: d.lastSeenMs,
    revokedAtMs: d.revokedAtMs,
    fingerprint: d.fingerprint,
  };
}
