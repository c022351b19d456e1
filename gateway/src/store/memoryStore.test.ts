import { MemoryStore } from "./memoryStore.ts";
import { runDeviceContract } from "./deviceContract.ts";
import { runHybridKeyContract } from "./hybridKeyContract.ts";
import { runStoreContract } from "./storeContract.ts";

runStoreContract("MemoryStore", async () => new MemoryStore());
runHybridKeyContract("MemoryStore", async () => new MemoryStore());
runDeviceContract("MemoryStore", async () => new MemoryStore());
