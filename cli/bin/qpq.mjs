#!/usr/bin/env node
// The `qpq` executable. The project runs its TypeScript through tsx (as the gateway does), so the
// CLI needs no build step; the loader is registered before the entry module is imported.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
