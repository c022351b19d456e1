/** Every operation the gateway serves, by request type: the dispatcher's single lookup table. */
import { ack, enqueue, fetch, subscribe } from "./queue.ts";
import { loginFinish, loginStart, logout, registerFinish, registerStart, resumeSession } from "./auth.ts";
import { createChannel, sealedEnqueue } from "./channels.ts";
import type { HandlerTable } from "./context.ts";
import { health, hello } from "./hello.ts";
import { fetchHybridKey, publishHybridKey } from "./hybridKeys.ts";
import { fetchKeyPackage, fetchKeyPackages, publishKeyPackages } from "./keyPackages.ts";
import { fetchBackup, putBackup } from "./backup.ts";
import {
  attachDevice,
  getAccountBundle,
  listDevices,
  putAccountBundle,
  renameDevice,
  revokeDevice,
} from "./devices.ts";
import { resolveUser } from "./users.ts";

export const handlers: HandlerTable = {
  hello,
  health,
  registerStart,
  registerFinish,
  loginStart,
  loginFinish,
  resumeSession,
  logout,
  publishKeyPackages,
  fetchKeyPackage,
  resolveUser,
  enqueue,
  fetch,
  ack,
  subscribe,
  createChannel,
  sealedEnqueue,
  publishHybridKey,
  fetchHybridKey,
  attachDevice,
  listDevices,
  renameDevice,
  revokeDevice,
  putAccountBundle,
  getAccountBundle,
  putBackup,
  fetchBackup,
  fetchKeyPackages,
};

/** Requests allowed before hello: hello itself, and health for load balancers and probes. */
export const beforeHello = new Set(["hello", "health"]);

export type { ConnectionState, Services, AuthenticatedSession } from "./context.ts";
