export { startGatewayProcess, type GatewayProcess, type StartOptions } from "./gatewayProcess.ts";
export { connectGateway } from "./connect.ts";
export { generateSelfSigned } from "@qpq/transport/certificates";
export {
  IN_PROCESS_BASE_URL,
  inProcessGateway,
  testConfig,
  type ConnectOptions,
  type InProcessGateway,
  type InProcessOptions,
} from "./inProcess.ts";
export { createServices, type Clock } from "../services/createServices.ts";
