/**
 * docs/benchmarks.md is written by several benchmark scripts; each owns one "## " section and replaces
 * only that one, so running one benchmark never erases another's numbers.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as prettier from "prettier";

/** Replaces the section starting with `heading` (up to the next "## " heading), or appends it. */
export function withSection(current: string, heading: string, section: string): string {
  const text = "\n" + current; // so a section at the very top is found like any other
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) return current.replace(/\n*$/, "\n\n") + section;
  const after = text.indexOf("\n## ", start + 1);
  const next = text.slice(0, start + 1) + section + (after >= 0 ? "\n" + text.slice(after + 1) : "");
  return next.slice(1);
}

/** Writes one section into the file, formatted like the rest of the repository. */
export async function writeBenchSection(file: string, heading: string, section: string): Promise<void> {
  const current = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const options = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(
    file,
    await prettier.format(withSection(current, heading, section), { ...options, filepath: file }),
  );
}
