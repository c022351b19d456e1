#!/usr/bin/env node
/**
 * Generates the PWA icons in web/public/icons/ (they are checked in; rerun after changing the design):
 *
 *   node scripts/make-icons.mjs
 *
 * The glyph is a white speech bubble with a lock in it, on the app's brand blue. It is drawn from signed
 * distance functions (rounded boxes, a polygon, a circle, a stroked arc), so every edge gets analytic
 * anti-aliasing at any size with no image library: the PNG is encoded by hand (IHDR, IDAT, IEND with
 * CRC-32) and compressed with Node's zlib.
 *
 * Outputs:
 *   icon-32.png, icon-192.png, icon-512.png  purpose "any": rounded square, transparent corners
 *   icon-maskable-512.png                     purpose "maskable": full bleed, glyph inside the safe zone
 *                                              (the centre circle of radius 40%), checked below
 *   apple-touch-icon.png (180)                opaque full bleed; iOS rounds the corners itself
 */
import { deflateSync } from "node:zlib";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "web", "public", "icons");

// Keep in sync with theme_color in web/public/manifest.webmanifest and web/index.html.
const BRAND = [0x2f, 0x5b, 0xd3]; // #2f5bd3, the app's --brand (web/src/styles.css)
const WHITE = [0xff, 0xff, 0xff];

// ---------------------------------------------------------------------------------------------------
// Signed distance functions. Coordinates are glyph units (0..1, y down); negative = inside.

const len = (x, y) => Math.hypot(x, y);
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/** Rounded box centred on (cx, cy) with half extents (hx, hy) and corner radius r. */
function roundedBox(px, py, cx, cy, hx, hy, r) {
  const qx = Math.abs(px - cx) - hx + r;
  const qy = Math.abs(py - cy) - hy + r;
  return len(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}

function circle(px, py, cx, cy, r) {
  return len(px - cx, py - cy) - r;
}

/** Exact distance to a closed polygon (even-odd sign), after Inigo Quilez's sdPolygon. */
function polygon(px, py, pts) {
  let d = Infinity;
  let sign = 1;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [ax, ay] = pts[i];
    const [bx, by] = pts[j];
    const ex = bx - ax;
    const ey = by - ay;
    const wx = px - ax;
    const wy = py - ay;
    const t = clamp((wx * ex + wy * ey) / (ex * ex + ey * ey), 0, 1);
    d = Math.min(d, len(wx - ex * t, wy - ey * t));
    const c1 = py >= ay;
    const c2 = py < by;
    const c3 = ex * wy > ey * wx;
    if ((c1 && c2 && c3) || (!c1 && !c2 && !c3)) sign = -sign;
  }
  return sign * d;
}

/** Distance to segment (ax, ay)-(bx, by). */
function segment(px, py, ax, ay, bx, by) {
  const ex = bx - ax;
  const ey = by - ay;
  const t = clamp(((px - ax) * ex + (py - ay) * ey) / (ex * ex + ey * ey), 0, 1);
  return len(px - ax - ex * t, py - ay - ey * t);
}

/** Union with a soft fillet of size k, so the bubble's tail flows into its body. */
function smoothUnion(a, b, k) {
  const h = clamp(0.5 + (0.5 * (b - a)) / k, 0, 1);
  return b + (a - b) * h - k * h * (1 - h);
}

// ---------------------------------------------------------------------------------------------------
// The glyph, in a 1x1 box.

// The tail leaves the lower left of the body and flares out a little to a slightly rounded tip.
const TAIL = [
  [0.2, 0.5],
  [0.44, 0.72],
  [0.1, 0.91],
];

function bubble(x, y) {
  const body = roundedBox(x, y, 0.5, 0.43, 0.4, 0.31, 0.17);
  return smoothUnion(body, polygon(x, y, TAIL) - 0.012, 0.05);
}

const SHACKLE = { cx: 0.5, cy: 0.37, r: 0.09, w: 0.052, bottom: 0.47 };

function lock(x, y) {
  const lockBody = roundedBox(x, y, 0.5, 0.5, 0.15, 0.115, 0.035);
  // The shackle is a stroked path: the upper half circle, then two legs down into the body. Below the
  // arc's centre the nearest arc point is one of its ends, which the legs contain, so this is exact.
  const { cx, cy, r, w, bottom } = SHACKLE;
  const toPath =
    y <= cy
      ? Math.abs(len(x - cx, y - cy) - r)
      : Math.min(segment(x, y, cx - r, cy, cx - r, bottom), segment(x, y, cx + r, cy, cx + r, bottom));
  return Math.min(lockBody, toPath - w / 2);
}

function keyhole(x, y) {
  return Math.min(circle(x, y, 0.5, 0.485, 0.034), roundedBox(x, y, 0.5, 0.535, 0.014, 0.045, 0.008));
}

// ---------------------------------------------------------------------------------------------------
// Rendering.

/** Pixel coverage from a signed distance in pixels: a one pixel wide linear ramp across the edge. */
const coverage = (dPx) => clamp(0.5 - dPx, 0, 1);

const mix = (a, b, t) => a.map((v, i) => v + (b[i] - v) * t);

/**
 * @param size     icon edge in pixels
 * @param glyph    edge of the glyph box as a fraction of the icon
 * @param corner   background corner radius as a fraction of the icon (0 = full bleed square)
 * @param opaque   keep alpha 1 everywhere (corner must be 0)
 */
function render(size, { glyph, corner }) {
  const rgba = new Uint8Array(size * size * 4);
  const g = glyph * size; // glyph box edge in pixels
  const off = (size - g) / 2;
  let maxInkRadius = 0;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      // Sample at the pixel centre; distances are scaled back to pixels for anti-aliasing.
      const sx = px + 0.5;
      const sy = py + 0.5;
      const x = (sx - off) / g;
      const y = (sy - off) / g;

      const bg =
        corner > 0 ? coverage(roundedBox(sx, sy, size / 2, size / 2, size / 2, size / 2, corner * size)) : 1;
      const inBubble = coverage(bubble(x, y) * g);
      const inLock = coverage(lock(x, y) * g);
      const inKeyhole = coverage(keyhole(x, y) * g);

      let color = mix(BRAND, WHITE, inBubble);
      color = mix(color, BRAND, inLock);
      color = mix(color, WHITE, inKeyhole);

      if (inBubble > 0) {
        maxInkRadius = Math.max(maxInkRadius, len(sx - size / 2, sy - size / 2) / size);
      }
      const i = (py * size + px) * 4;
      rgba[i] = Math.round(color[0]);
      rgba[i + 1] = Math.round(color[1]);
      rgba[i + 2] = Math.round(color[2]);
      rgba[i + 3] = Math.round(bg * 255);
    }
  }
  return { rgba, maxInkRadius };
}

// ---------------------------------------------------------------------------------------------------
// PNG encoding (8-bit RGBA, no interlace).

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One chunk: length, type, data, and a CRC over type + data. */
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "ascii");
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function encodePng(size, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); // width
  ihdr.writeUInt32BE(size, 4); // height
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type: truecolour with alpha
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method 0
  ihdr[12] = 0; // no interlace

  // Each scanline is prefixed with its filter type; "Up" (2) compresses these flat shapes well.
  const stride = size * 4;
  const raw = Buffer.alloc((stride + 1) * size);
  for (let y = 0; y < size; y++) {
    const row = y * (stride + 1);
    raw[row] = 2;
    for (let x = 0; x < stride; x++) {
      const above = y > 0 ? rgba[(y - 1) * stride + x] : 0;
      raw[row + 1 + x] = (rgba[y * stride + x] - above) & 0xff;
    }
  }

  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

// ---------------------------------------------------------------------------------------------------

const ANY = { glyph: 0.74, corner: 0.22 };
const FULL_BLEED = { glyph: 0.74, corner: 0 };
const MASKABLE = { glyph: 0.68, corner: 0 };

const ICONS = [
  { file: "icon-32.png", size: 32, style: ANY },
  { file: "icon-192.png", size: 192, style: ANY },
  { file: "icon-512.png", size: 512, style: ANY },
  { file: "icon-maskable-512.png", size: 512, style: MASKABLE, safeZone: 0.4 },
  { file: "apple-touch-icon.png", size: 180, style: FULL_BLEED },
];

mkdirSync(OUT_DIR, { recursive: true });
for (const { file, size, style, safeZone } of ICONS) {
  const { rgba, maxInkRadius } = render(size, style);
  if (safeZone !== undefined && maxInkRadius > safeZone) {
    throw new Error(`${file}: glyph reaches ${maxInkRadius.toFixed(3)} of the edge, outside the safe zone`);
  }
  const png = encodePng(size, rgba);
  writeFileSync(join(OUT_DIR, file), png);
  console.log(`${file}: ${size}x${size}, ${png.length} bytes`);
}
