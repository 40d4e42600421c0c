/**
 * Sizes and durations as users write them. Memory units follow the SI/IEC split exactly:
 * "32GB" is 32 × 10^9 bytes, "32GiB" is 32 × 2^30 bytes; a bare "G" is SI, like "GB".
 */
import { SKEIN_ERROR_CODES, SkeinError } from "./errors.js";

const BYTE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** "32GB" → 32e9, "1.5GiB" → 1610612736, 1024 → 1024. Throws with the accepted forms. */
export function parseBytes(value: string | number, what = "memory"): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return Math.floor(value);
  } else {
    const match = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]*)\s*$/i.exec(value);
    const unit = match?.[2]?.toLowerCase() ?? "";
    if (match && unit in BYTE_UNITS) return Math.floor(Number(match[1]) * (BYTE_UNITS[unit] as number));
  }
  throw new SkeinError(
    "options",
    SKEIN_ERROR_CODES.BAD_OPTION,
    `${what} must be a number of bytes or a size like "32GB" (10^9) or "32GiB" (2^30), got ${JSON.stringify(value)}`,
  );
}

/** 32e9 → "32 GB", 1536 → "1.5 kB". For messages; directives use the batch system's own format. */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ${units[unit]}`;
}

/** "00:20:00" → 1200, "1:00:00:00" (D:HH:MM:SS) → 86400, "45:00" (MM:SS) → 2700, 90 → 90. */
export function parseWalltime(value: string | number, what = "walltime"): number {
  if (typeof value === "number" && Number.isFinite(value) && value > 0) return Math.floor(value);
  if (typeof value === "string" && /^\d+(:\d{1,2}){0,3}$/.test(value.trim())) {
    const parts = value.trim().split(":").map(Number);
    const multipliers = [1, 60, 3600, 86400];
    const seconds = parts.reverse().reduce((sum, part, i) => sum + part * (multipliers[i] as number), 0);
    if (seconds > 0) return seconds;
  }
  throw new SkeinError("options", SKEIN_ERROR_CODES.BAD_OPTION, `${what} must look like HH:MM:SS (e.g. "02:00:00") or be seconds, got ${JSON.stringify(value)}`);
}

/** 1200 → "00:20:00"; days roll into hours ("36:00:00"), as PBS and Slurm both accept. */
export function formatWalltime(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return [h, m, s].map((n) => String(n).padStart(2, "0")).join(":");
}
