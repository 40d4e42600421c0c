/**
 * Validating user options with valibot, with errors that name the key, the value, where it came
 * from, and what to write instead.
 */
import * as v from "valibot";
import { SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization";

/** Parse `value` with `schema`; throw a BAD_OPTION error that names the first wrong key. */
export function validateOptions<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  where: { component: string; source: string | ((key: string) => string) },
): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = issue.path?.map((p) => String(p.key)).join(".");
  const topKey = path?.split(".")[0] ?? "";
  const source = typeof where.source === "function" ? where.source(topKey) : where.source;
  const known = knownKeys(schema);
  let message: string;
  if (issue.type === "strict_object" && path) {
    message = unknownOptionMessage(path, source, known);
  } else if (!path && (issue.type === "object" || issue.type === "strict_object")) {
    message = `options${source ? ` from ${source}` : ""} must be an object, got ${describe(value)}`;
  } else {
    message = `option "${path ?? "?"}"${source ? ` from ${source}` : ""} ${issue.message}, got ${describe(issue.input)}`;
  }
  throw new SkeinError(where.component, SKEIN_ERROR_CODES.BAD_OPTION, message);
}

/** `unknown option "wallclock" in skein.config.yaml (did you mean "walltime"?). Known options: …` */
export function unknownOptionMessage(key: string, source: string, known: readonly string[]): string {
  const suggestion = closest(key.split(".").pop() as string, known);
  return `unknown option "${key}"${source ? ` in ${source}` : ""}${suggestion ? ` (did you mean "${suggestion}"?)` : ""}. Known options: ${known.join(", ")}`;
}

function knownKeys(schema: v.GenericSchema): string[] {
  const entries = (schema as { entries?: Record<string, unknown> }).entries;
  return entries ? Object.keys(entries) : [];
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return `an array`;
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return String(value);
}

/** The known key within edit distance 2, for "did you mean". */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] as number;
}

// --- shared pieces ---

export const positiveInteger = v.pipe(v.number("must be a number"), v.integer("must be a whole number"), v.minValue(1, "must be at least 1"));
export const nonNegativeInteger = v.pipe(v.number("must be a number"), v.integer("must be a whole number"), v.minValue(0, "must be 0 or more"));
