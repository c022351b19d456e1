/**
 * Writes brotli (.br) and gzip (.gz) copies next to the web app's compressible build output, so the
 * gateway can send compressed bytes without compressing on every request. Run by the Vite build (see
 * vite.config.ts); also usable by hand: `npx tsx scripts/precompress.ts web/dist`.
 */
import { readdir, readFile, unlink, writeFile } from "node:fs/promises";
import { extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";

const brotli = promisify(brotliCompress);
const gz = promisify(gzip);

/** Already-compressed formats (PNG, fonts) gain nothing and are left alone. */
export const COMPRESSIBLE = new Set([
  ".js",
  ".mjs",
  ".css",
  ".html",
  ".svg",
  ".json",
  ".webmanifest",
  ".wasm",
  ".txt",
]);

export interface PrecompressResult {
  files: number;
  raw: number;
  br: number;
  gzip: number;
}

async function* walk(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}

/**
 * Writes `variant` only when it is smaller than the original; otherwise removes a leftover one, which
 * the gateway would otherwise still send. Written after the original, so it is not older than it: the
 * gateway ignores a variant clearly older than its original (the original was edited after the build).
 */
async function writeVariant(path: string, original: Buffer, variant: Buffer): Promise<number> {
  if (variant.length >= original.length) {
    await unlink(path).catch(() => undefined);
    return original.length;
  }
  await writeFile(path, variant);
  return variant.length;
}

export async function precompressDir(dir: string): Promise<PrecompressResult> {
  const result: PrecompressResult = { files: 0, raw: 0, br: 0, gzip: 0 };
  const jobs: Promise<void>[] = [];
  for await (const path of walk(dir)) {
    if (!COMPRESSIBLE.has(extname(path))) continue;
    jobs.push(
      (async () => {
        const original = await readFile(path);
        // Build output is written once and served many times, so the slowest, smallest settings pay off.
        const [br, gzipped] = await Promise.all([
          brotli(original, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
              [constants.BROTLI_PARAM_SIZE_HINT]: original.length,
            },
          }),
          gz(original, { level: constants.Z_BEST_COMPRESSION }),
        ]);
        result.files += 1;
        result.raw += original.length;
        result.br += await writeVariant(`${path}.br`, original, br);
        result.gzip += await writeVariant(`${path}.gz`, original, gzipped);
      })(),
    );
  }
  await Promise.all(jobs);
  return result;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = resolve(process.argv[2] ?? "web/dist");
  const r = await precompressDir(dir);
  const kib = (n: number): string => (n / 1024).toFixed(1);
  console.log(
    `precompressed ${r.files} files: ${kib(r.raw)} KiB, br ${kib(r.br)} KiB, gzip ${kib(r.gzip)} KiB`,
  );
}
