import { builtinModules } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";
import reactHooks from "eslint-plugin-react-hooks";

const root = dirname(fileURLToPath(import.meta.url));
const workspaces = ["shared", "transport", "gateway", "web", "cli", "e2e"];

/** The workspace a path belongs to, or undefined for the repository's own tooling (scripts/, configs). */
function workspaceOf(file) {
  const top = relative(root, file).split(sep)[0];
  return workspaces.includes(top) ? top : undefined;
}

const exportsCache = new Map();
function exportsOf(workspace) {
  let names = exportsCache.get(workspace);
  if (!names) {
    const manifest = JSON.parse(readFileSync(join(root, workspace, "package.json"), "utf8"));
    names = new Set(Object.keys(manifest.exports ?? {}));
    exportsCache.set(workspace, names);
  }
  return names;
}

/**
 * A package is used through its package.json exports, so its internals can move without breaking
 * its users. Relative paths are resolved against the importing file because a pattern on the
 * specifier alone cannot tell gateway's "../../shared/src/x.ts" from shared's own "../transport/x.ts".
 */
const noCrossPackageInternals = {
  meta: {
    type: "problem",
    schema: [],
    messages: {
      relative: "Reaches into @qpq/{{target}} by a relative path; import one of its package.json exports.",
      deep: "{{path}} is not among @qpq/{{target}}'s package.json exports.",
    },
  },
  create(context) {
    const from = workspaceOf(context.filename);
    function check(node) {
      const source = node.source;
      if (!source || source.type !== "Literal" || typeof source.value !== "string") return;
      const spec = source.value;
      if (spec.startsWith(".")) {
        const target = workspaceOf(resolve(dirname(context.filename), spec));
        if (target && target !== from)
          context.report({ node: source, messageId: "relative", data: { target } });
        return;
      }
      const named = /^@qpq\/([^/]+)(\/.*)?$/.exec(spec);
      const target = named?.[1];
      if (target && workspaces.includes(target) && !exportsOf(target).has(`.${named[2] ?? ""}`)) {
        context.report({ node: source, messageId: "deep", data: { target, path: spec } });
      }
    }
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};

const uiImports = {
  group: ["react", "react-dom", "react/*", "react-dom/*", "zustand", "zustand/*"],
  message: "shared/ is UI-free.",
};
// A regex, because a gitignore-style pattern "crypto" would also match shared's own "../crypto/x.ts".
const builtins = builtinModules.filter((m) => !m.startsWith("_")).map((m) => m.replace(/[/]/g, "\\/"));
const nodeImports = {
  regex: `^(node:|(${builtins.join("|")})(/|$)|better-sqlite3$|@matrixai/)`,
  message: "shared/ must run in browsers too.",
};
const benchImports = {
  group: ["**/bench/*", "@qpq/*/bench"],
  message: "Production code must not reach benchmark code.",
};

// Globals a browser tab or a worker lacks (Node's) or a worker or Node lacks (the window's).
const notEverywhere = [
  "Buffer",
  "process",
  "global",
  "require",
  "module",
  "exports",
  "__dirname",
  "__filename",
  "setImmediate",
  "clearImmediate",
  "window",
  "document",
  "localStorage",
  "sessionStorage",
  "history",
  "alert",
  "confirm",
  "prompt",
].map((name) => ({ name, message: "shared/ runs in browsers, workers and Node alike." }));

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
    plugins: { qpq: { rules: { "no-cross-package-internals": noCrossPackageInternals } } },
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "qpq/no-cross-package-internals": "error",
    },
  },
  {
    // Production sources of every package; tests may use benchmark helpers (the bench smoke tests do).
    files: ["{shared,transport,gateway,web,cli}/src/**/*.{ts,tsx}"],
    ignores: ["**/*.test.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [benchImports] }] },
  },
  {
    files: ["web/**/*.{ts,tsx}"],
    ...reactHooks.configs.flat.recommended,
  },
  {
    // The service worker is plain JS copied verbatim into the build; it runs in a ServiceWorkerGlobalScope.
    files: ["web/public/sw.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.serviceworker } },
  },
  {
    // The client core must run in a browser, a worker and Node alike: no UI frameworks, no DOM, no Node.
    files: ["shared/**/*.ts"],
    languageOptions: { globals: { ...globals["shared-node-browser"] } },
    rules: {
      "no-restricted-imports": ["error", { patterns: [uiImports, nodeImports, benchImports] }],
      "no-restricted-globals": ["error", ...notEverywhere],
      "no-restricted-properties": [
        "error",
        ...["Buffer", "process", "window", "document"].map((property) => ({
          object: "globalThis",
          property,
          message: "shared/ runs in browsers, workers and Node alike.",
        })),
      ],
    },
  },
  {
    // Tests run in Node only, so they may use Node (child_process for the schema staleness check,
    // node:fs for fixtures); what they test is still held to the rules above.
    files: ["shared/**/*.test.ts"],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "no-restricted-imports": ["error", { patterns: [uiImports] }],
      "no-restricted-globals": "off",
      "no-restricted-properties": "off",
    },
  },
);
