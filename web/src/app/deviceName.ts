/**
 * The name a new device of the account gets ("Chromium on Linux"), from the browser's user agent:
 * short and printable, since the account's other devices show it in their "a new device was added"
 * notice. The user can rename it from the device list.
 */
const BROWSERS: [RegExp, string][] = [
  [/Edg(e|A|iOS)?\//, "Edge"],
  [/OPR\/|Opera/, "Opera"],
  [/Firefox\/|FxiOS\//, "Firefox"],
  [/Chromium\//, "Chromium"],
  [/Chrome\/|CriOS\//, "Chrome"],
  [/Safari\//, "Safari"],
];

const SYSTEMS: [RegExp, string][] = [
  [/Android/, "Android"],
  [/iPhone|iPad|iPod/, "iOS"],
  [/CrOS/, "ChromeOS"],
  [/Windows/, "Windows"],
  [/Mac OS X|Macintosh/, "macOS"],
  [/Linux|X11/, "Linux"],
];

const MAX_LENGTH = 64;

function pick(table: [RegExp, string][], userAgent: string): string | undefined {
  return table.find(([pattern]) => pattern.test(userAgent))?.[1];
}

/**
 * "Browser on System", "Browser", or "Web browser" when nothing is recognised. Chromium's brand in
 * navigator.userAgentData wins over the user agent string, which says "Chrome" for Chromium too.
 */
export function deviceNameFor(userAgent: string, brands: readonly { brand: string }[] = []): string {
  const browser =
    (brands.some((b) => b.brand === "Chromium") && !brands.some((b) => /Chrome|Edge|Opera/.test(b.brand))
      ? "Chromium"
      : undefined) ??
    pick(BROWSERS, userAgent) ??
    "Web browser";
  const system = pick(SYSTEMS, userAgent);
  return (system ? `${browser} on ${system}` : browser).slice(0, MAX_LENGTH);
}

interface NavigatorWithBrands {
  userAgentData?: { brands?: readonly { brand: string }[] };
}

/** This browser's device name. */
export function thisDeviceName(): string {
  const brands = (navigator as Navigator & NavigatorWithBrands).userAgentData?.brands ?? [];
  return deviceNameFor(navigator.userAgent, brands);
}
