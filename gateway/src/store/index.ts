/** Gateway storage: the Store interface, its implementations and the factory the gateway uses. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { MemoryStore } from "./memoryStore.ts";
import { SqliteStore } from "./sqliteStore.ts";
import type { Store } from "./types.ts";

export type {
  ClaimedKeyPackage,
  NewEnvelope,
  SessionRecord,
  Store,
  StoredEnvelope,
  UserRecord,
} from "./types.ts";
export { MemoryStore } from "./memoryStore.ts";
export { SqliteStore, type SqliteStoreOptions } from "./sqliteStore.ts";
export { SchemaTooNewError, latestVersion, migrations, type Migration } from "./migrations.ts";

export interface StoreConfig {
  kind: "sqlite" | "memory";
  /** Directory for the SQLite file (created with mode 0700); unused by the memory store. */
  dataDir: string;
  synchronous: "full" | "normal";
}

export const SQLITE_FILE_NAME = "qpq.sqlite";

export async function openStore(config: StoreConfig): Promise<Store> {
  switch (config.kind) {
    case "memory":
      return new MemoryStore();
    case "sqlite": {
      mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
      return SqliteStore.open({
        path: join(config.dataDir, SQLITE_FILE_NAME),
        synchronous: config.synchronous,
      });
    }
    default: {
      const unknownKind: never = config.kind;
      throw new Error(`unknown store kind: ${String(unknownKind)}`);
    }
  }
}
