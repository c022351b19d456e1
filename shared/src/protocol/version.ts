/** Wire protocol versions this build speaks. Bump only for changes an older peer cannot ignore. */
export const PROTOCOL_VERSION = 1;
export const MIN_PROTOCOL_VERSION = 1;
