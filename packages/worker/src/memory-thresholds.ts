/**
 * The worker's memory thresholds, as fractions of its memory limit (Dask's model and defaults).
 * Parsed from `--memory-target 0.6` or `--memory-target false` and friends.
 */
import { SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization/errors";

export interface MemoryThresholds {
  /**
   * Above this fraction of the limit, measured as the bytes of results held in memory ("managed"
   * memory), the least recently used results are written to disk until they fit again.
   * @default 0.6
   */
  readonly target: number | false;
  /**
   * Above this fraction, measured as the process's memory (RSS), results are written to disk
   * whatever their total, until the process is back under `target`.
   * @default 0.7
   */
  readonly spill: number | false;
  /**
   * Above this fraction (RSS) the worker starts no new tasks and fetches no inputs, and tells the
   * scheduler, which sends it no new work; tasks already running go on and its data is still
   * served. Below it again, it resumes.
   * @default 0.8
   */
  readonly pause: number | false;
  /**
   * Above this fraction (RSS) the worker process exits (exit code 5) and its supervisor starts a
   * new one; the scheduler reschedules its tasks and recomputes the results it held.
   * @default 0.95
   */
  readonly terminate: number | false;
}

export const DEFAULT_MEMORY_THRESHOLDS: MemoryThresholds = { target: 0.6, spill: 0.7, pause: 0.8, terminate: 0.95 };

export const MEMORY_THRESHOLD_NAMES = ["target", "spill", "pause", "terminate"] as const;

/** Fill in the defaults, checking each given value. */
export function resolveMemoryThresholds(given: Partial<MemoryThresholds> = {}): MemoryThresholds {
  const resolved = { ...DEFAULT_MEMORY_THRESHOLDS };
  for (const name of MEMORY_THRESHOLD_NAMES) {
    const value = given[name];
    if (value !== undefined) resolved[name] = parseMemoryFraction(value, `memory ${name}`);
  }
  return resolved;
}

/** "0.6" → 0.6; "false" / false → false (that threshold is off). Anything else throws BAD_OPTION. */
export function parseMemoryFraction(value: unknown, what: string): number | false {
  if (value === false || value === "false") return false;
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0 || n > 1) {
    throw new SkeinError(
      "worker",
      SKEIN_ERROR_CODES.BAD_OPTION,
      `${what} must be a fraction of the memory limit between 0 and 1 (e.g. 0.7), or false to turn it off; got ${JSON.stringify(value)}`,
    );
  }
  return n;
}
