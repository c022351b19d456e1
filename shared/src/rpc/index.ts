export { RpcClient, type CallOptions, type PushHandler, type RpcClientOptions } from "./rpcClient.ts";
