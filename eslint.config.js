import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "**/dist/**",
      "**/.tsbuild/**",
      "**/.scratch/**",
      "shared/src/protocol/generated/**",
      "data/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    // The service worker is plain JS copied verbatim into the build; it runs in a ServiceWorkerGlobalScope.
    files: ["web/public/sw.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.serviceworker } },
  },
  {
    // The client core must run in a browser, a worker and Node alike: no UI frameworks, no DOM.
    files: ["shared/**/*.ts"],
    languageOptions: { globals: { ...globals["shared-node-browser"] } },
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["react", "react-dom", "react/*", "react-dom/*", "zustand", "zustand/*"],
              message: "shared/ is UI-free.",
            },
            {
              group: ["node:*", "better-sqlite3", "@matrixai/*"],
              message: "shared/ must run in browsers too.",
            },
          ],
        },
      ],
    },
  },
  {
    // Tests run in Node only, so they may use Node built-ins (e.g. child_process for the schema check).
    files: ["shared/**/*.test.ts"],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["react", "react-dom", "react/*", "react-dom/*", "zustand", "zustand/*"],
              message: "shared/ is UI-free.",
            },
          ],
        },
      ],
    },
  },
);
