export * from "./storage.ts";
export { MemoryClientStore, type ClientStoreSnapshot, type NumberedMessage } from "./memoryClientStore.ts";
export { GatewayClient, type KeyStretching, type LoginResult } from "./gatewayClient.ts";
export { Messenger, type MessengerOptions } from "./messenger.ts";
export type { MessengerEvents } from "./session.ts";
export { decodeAppMessage, encodeAppMessage, type AppMessage } from "./appMessage.ts";
export { discoverGateway, parseDiscovery, type GatewayLocation } from "./discovery.ts";
export { ConnectionManager, type ConnectionOptions, type ConnectionStatus } from "./connection.ts";
export type { StoreSource } from "./messenger.ts";
export { safetyNumber } from "./safetyNumber.ts";
export type { ContactView } from "./contacts.ts";
export { conversationTitle } from "./titles.ts";
export { GroupLifecycle, WEEK_MS, type LifecycleOptions } from "./groupLifecycle.ts";
export {
  Conversations,
  isDirect,
  byActivity,
  type Conversation,
  type ConversationView,
} from "./conversations.ts";
export { canonicalUsername, sameUsername } from "./username.ts";
export { AccountDevices, deviceFingerprint, type OwnDevice, type VerifiedDevice } from "./devices.ts";
export type { RestoreResult } from "./historyBackup.ts";
export { DEFAULT_DEVICE_NAME } from "./account.ts";
