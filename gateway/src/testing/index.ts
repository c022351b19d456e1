export { startGatewayProcess, type GatewayProcess, type StartOptions } from "./gatewayProcess.ts";
export { connectGateway } from "./connect.ts";
export { generateSelfSigned } from "@qpq/transport/certificates";
