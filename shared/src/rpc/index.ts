export { RpcClient, type CallOptions, type PushHandler, type RpcClientOptions } from "./rpcClient.ts";
export {
  createMemoryTransportPair,
  type MemoryTransport,
  type MemoryTransportOptions,
} from "./testing/memoryTransport.ts";
