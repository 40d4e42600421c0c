import * as v from "valibot";
import { nonNegativeInteger, validateOptions } from "./options.js";

/** Per-call options. Pass them with `client.with({ … }).submit(fn, …args)`; they never mix with the function's own arguments. */
export interface TaskOptions {
  /**
   * The task's key. For `map`: a prefix (`"${key}-${i}"`) or one key per element.
   * A key names a computation: submitting an existing key reuses its result.
   */
  key?: string | readonly string[];
  /**
   * Treat the function as pure: identical calls (same function source, same arguments) get the same
   * key and run once. Skein's default is `false` (unlike Dask): JavaScript functions often read
   * clocks, randomness or I/O, so every call is a new task unless you say otherwise.
   * @default false
   */
  pure?: boolean;
  /** Run again this many times when the task throws. @default 0 */
  retries?: number;
  /** Higher runs first; equal priorities run in submission order. @default 0 */
  priority?: number;
  /** Run only on these workers (names, addresses or hosts). */
  workers?: string | readonly string[];
  /** With `workers`: run elsewhere when none of them is there. @default false */
  allowOtherWorkers?: boolean;
  /** Abstract resources the task consumes while running, e.g. `{ GPU: 1 }` (scheduled from issue 5 on). */
  resources?: Readonly<Record<string, number>>;
}

const TaskOptionsSchema = v.strictObject({
  key: v.optional(v.union([v.pipe(v.string(), v.minLength(1, "must not be empty"), v.maxLength(1024)), v.array(v.pipe(v.string(), v.minLength(1)))], "must be a string or an array of strings")),
  pure: v.optional(v.boolean("must be true or false")),
  retries: v.optional(nonNegativeInteger),
  priority: v.optional(v.pipe(v.number("must be a number"), v.finite("must be finite"))),
  workers: v.optional(v.union([v.string(), v.array(v.string())], "must be a worker name or an array of names")),
  allowOtherWorkers: v.optional(v.boolean("must be true or false")),
  resources: v.optional(v.record(v.string(), v.pipe(v.number("must be a number"), v.minValue(0)), "must be an object of numbers")),
});

export function validateTaskOptions(options: unknown): TaskOptions {
  return validateOptions(TaskOptionsSchema, options ?? {}, { component: "client", source: "task options" }) as TaskOptions;
}
