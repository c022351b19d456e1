export * from "./keyPackageInfo.ts";
export * from "./suites.ts";
export * from "./identity.ts";
export * from "./keyPackages.ts";
export * from "./group.ts";
export * from "./padding.ts";
export * from "./delivery.ts";
