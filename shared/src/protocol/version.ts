/**
 * Wire protocol versions this build speaks. Bump only for changes an older peer cannot ignore.
 * Version 2 is the channels-only reset: every delivery goes through a channel, the codec is generated
 * from the schema, and ordinals and error codes were renumbered; version 1 peers are refused at hello.
 */
export const PROTOCOL_VERSION = 2;
export const MIN_PROTOCOL_VERSION = 2;
