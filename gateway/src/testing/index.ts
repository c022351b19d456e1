export { startGatewayProcess, type GatewayProcess, type StartOptions } from "./gatewayProcess.ts";
export { connectGateway } from "./connect.ts";
export { generateSelfSigned } from "../tls/selfSigned.ts";
export {
  IN_PROCESS_BASE_URL,
  inProcessGateway,
  testConfig,
  type ConnectOptions,
  type InProcessGateway,
  type InProcessOptions,
} from "./inProcess.ts";
export { createServices, type Clock } from "../services/createServices.ts";
