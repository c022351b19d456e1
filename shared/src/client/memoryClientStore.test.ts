import { runClientStoreContract } from "./clientStoreContract.ts";
import { MemoryClientStore } from "./memoryClientStore.ts";

runClientStoreContract("MemoryClientStore", async () => new MemoryClientStore());
