import { MemoryStore } from "./memoryStore.ts";
import { runStoreContract } from "./storeContract.ts";

runStoreContract("MemoryStore", async () => new MemoryStore());
