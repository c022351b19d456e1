import { MemoryStore } from "./memoryStore.ts";
import { runHybridKeyContract } from "./hybridKeyContract.ts";
import { runStoreContract } from "./storeContract.ts";

runStoreContract("MemoryStore", async () => new MemoryStore());
runHybridKeyContract("MemoryStore", async () => new MemoryStore());
