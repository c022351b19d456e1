export * from "./storage.ts";
export { MemoryClientStore } from "./memoryClientStore.ts";
export { GatewayClient, type KeyStretching, type LoginResult } from "./gatewayClient.ts";
export { Messenger, type MessengerOptions } from "./messenger.ts";
export type { MessengerEvents } from "./session.ts";
export { decodeAppMessage, encodeAppMessage, type AppMessage } from "./appMessage.ts";
export { discoverGateway, parseDiscovery, type GatewayLocation } from "./discovery.ts";
export { ConnectionManager, type ConnectionOptions, type ConnectionStatus } from "./connection.ts";
export type { StoreSource } from "./messenger.ts";
