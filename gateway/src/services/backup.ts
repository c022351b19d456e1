/**
 * The account's history backup (docs/cryptography/devices.md): entries sealed by its devices under a
 * key the gateway never sees, appended as devices store messages and read back by a new device. The
 * gateway keeps the first entry of each key (two devices backing up the same message send the same
 * key), bounds each account's total, and cuts pages by bytes like queue pages.
 */
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { ENVELOPE_OVERHEAD_BYTES, envelopeBudget } from "../delivery/frameBudget.ts";
import type { Handler } from "./context.ts";
import { requireSession } from "./guards.ts";
import { sessionKey } from "./throttle.ts";

const ENTRY_KEY_BYTES = 32;
const MAX_ENTRY_BYTES = 64 * 1024;
const MAX_ENTRIES_PER_PUT = 500;
const MAX_ENTRIES_PER_PAGE = 500;

export const putBackup: Handler<"putBackup"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  const { backupBytesPerAccount, backupPutPerSession } = services.config.limits;
  services.throttle.take(
    [{ key: `backup-put:${sessionKey(session.tokenHash)}`, rule: backupPutPerSession }],
    "backup upload",
  );
  if (req.entries.length === 0 || req.entries.length > MAX_ENTRIES_PER_PUT) {
    throw new QpqError(ErrorCode.InvalidArgument, `1-${MAX_ENTRIES_PER_PUT} backup entries per call`);
  }
  const entries = req.entries.map((e) => {
    if (e.key.length !== ENTRY_KEY_BYTES) {
      throw new QpqError(ErrorCode.InvalidArgument, `a backup entry key is ${ENTRY_KEY_BYTES} bytes`);
    }
    if (e.ciphertext.length === 0 || e.ciphertext.length > MAX_ENTRY_BYTES) {
      throw new QpqError(ErrorCode.InvalidArgument, `a backup entry is 1-${MAX_ENTRY_BYTES} bytes`);
    }
    return { key: e.key, ciphertext: e.ciphertext };
  });
  const outcome = await services.store.putBackupEntries(session.username, entries, backupBytesPerAccount);
  if (outcome.status === "full") {
    throw new QpqError(
      ErrorCode.BackupFull,
      `the backup holds ${outcome.usedBytes} of ${backupBytesPerAccount} bytes; this upload does not fit`,
    );
  }
  return {
    stored: outcome.stored,
    usedBytes: outcome.usedBytes,
    limitBytes: backupBytesPerAccount,
  };
};

export const fetchBackup: Handler<"fetchBackup"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  const limit = req.limit === 0 ? MAX_ENTRIES_PER_PAGE : Math.min(req.limit, MAX_ENTRIES_PER_PAGE);
  // The store counts key and ciphertext bytes; each entry's list element and padding come on top.
  const maxBytes = envelopeBudget(services.config.limits.maxFrameBytes) - limit * ENVELOPE_OVERHEAD_BYTES;
  const page = await services.store.fetchBackupEntries(session.username, req.afterSeq, { limit, maxBytes });
  return {
    entries: page.entries.map((e) => ({ key: e.key, ciphertext: e.ciphertext, seq: e.seq })),
    more: page.more,
  };
};
