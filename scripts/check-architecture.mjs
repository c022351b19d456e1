// Keeps docs/architecture.md true to the tree: every path its module tables name exists, every
// `@qpq/...` entry point they name is exported, and every top-level folder of every package is in
// its package's table. Run by `npm test`; `node scripts/check-architecture.mjs` on its own.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SOURCE_EXT = /\.(ts|tsx|mjs|js|json|capnp|css|html)$/;

/** Per package section ("### `gateway/` — ..."): rows of [first-column tokens, description tokens]. */
export function parseTables(markdown) {
  const sections = new Map();
  let current;
  for (const line of markdown.split("\n")) {
    const heading = /^### `([\w-]+)\/`/.exec(line);
    if (heading) {
      current = [];
      sections.set(heading[1], current);
      continue;
    }
    if (line.startsWith("## ") || line.startsWith("### ")) current = undefined;
    if (!current || !line.startsWith("|") || /^\|\s*-/.test(line)) continue;
    const [first = "", ...rest] = line.split("|").slice(1, -1);
    if (first.trim() === "module") continue;
    current.push([ticks(first), ticks(rest.join("|"))]);
  }
  return sections;
}

function ticks(text) {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
}

const isPath = (token) =>
  /^[\w.-]+(\/[\w.-]+)*\/?$/.test(token) && (token.endsWith("/") || SOURCE_EXT.test(token));
const isEntryPoint = (token) => /^@qpq\/[\w-]+(\/[\w./-]+)?$/.test(token);

function exportsOf(pkg) {
  const file = join(root, pkg, "package.json");
  if (!existsSync(file)) return undefined;
  return new Set(Object.keys(JSON.parse(readFileSync(file, "utf8")).exports ?? {}));
}

function checkEntryPoint(token, workspaces) {
  const [, pkg, sub = ""] = /^@qpq\/([\w-]+)(\/.*)?$/.exec(token);
  if (!workspaces.includes(pkg)) return `${token}: no workspace ${pkg}/`;
  const names = exportsOf(pkg);
  // A bare package name is also a fine way to name the package, with or without a "." export.
  if (sub === "" || names?.has(`.${sub}`)) return undefined;
  return `${token}: not among ${pkg}/package.json exports`;
}

/** Package-relative paths a token may mean, most specific first. */
function candidates(pkg, token, dirs) {
  const clean = token.replace(/\/$/, "");
  const inPackage = [...dirs.map((d) => posix.join(d, clean)), posix.join("src", clean), clean];
  return inPackage.map((p) => posix.join(pkg, p));
}

export function checkArchitecture(markdown, files, workspaces) {
  const problems = [];
  const sections = parseTables(markdown);
  const exists = (p) => existsSync(join(root, p));
  for (const pkg of workspaces) {
    const rows = sections.get(pkg);
    if (!rows) {
      problems.push(`docs/architecture.md has no "### \`${pkg}/\`" section`);
      continue;
    }
    const named = [];
    for (const [modules, described] of rows) {
      const dirs = [];
      for (const token of modules) {
        if (isEntryPoint(token)) {
          const problem = checkEntryPoint(token, workspaces);
          if (problem) problems.push(`${pkg}/ table: ${problem}`);
          continue;
        }
        if (!isPath(token)) continue;
        const found = candidates(pkg, token, []).find(exists);
        if (!found) {
          problems.push(`${pkg}/ table: \`${token}\` names nothing in ${pkg}/`);
          continue;
        }
        const rel = posix.relative(pkg, found);
        named.push(rel);
        dirs.push(token.endsWith("/") ? rel : posix.dirname(rel));
      }
      for (const token of described) {
        if (isEntryPoint(token)) {
          const problem = checkEntryPoint(token, workspaces);
          if (problem) problems.push(`${pkg}/ table: ${problem}`);
        } else if (isPath(token) && ![...candidates(pkg, token, dirs), token].some(exists)) {
          problems.push(`${pkg}/ table: \`${token}\` is mentioned but does not exist`);
        }
      }
    }
    for (const folder of topLevelFolders(pkg, files)) {
      const covered = named.some((n) => n === folder || n.startsWith(`${folder}/`));
      if (!covered) problems.push(`${pkg}/${folder}/ is not named in the ${pkg}/ table`);
    }
  }
  return problems;
}

/** `src/<dir>` for folders under src/, `<dir>` for the package's other folders. */
export function topLevelFolders(pkg, files) {
  const folders = new Set();
  for (const file of files) {
    const parts = file.split("/");
    if (parts[0] !== pkg) continue;
    if (parts[1] === "src" && parts.length > 3) folders.add(`src/${parts[2]}`);
    else if (parts[1] !== "src" && parts.length > 2) folders.add(parts[1]);
  }
  return [...folders].sort();
}

function trackedFiles() {
  const out = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
    cwd: root,
    encoding: "utf8",
  });
  // Deleted but not yet staged files are still listed by --cached; the tree is what counts.
  return out.split("\n").filter((f) => f && existsSync(join(root, f)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const markdown = readFileSync(join(root, "docs/architecture.md"), "utf8");
  const workspaces = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).workspaces;
  const problems = checkArchitecture(markdown, trackedFiles(), workspaces);
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`docs/architecture.md: ${problems.length} problem(s)`);
    process.exit(1);
  }
  console.log("docs/architecture.md matches the tree");
}
