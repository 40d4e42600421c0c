/** Walking user structures (arrays, plain objects, Maps) to find futures and to rebuild with results. */
import { Future } from "./future.js";

/** Every future inside `value`, at any depth, in order of appearance. */
export function futuresOf(value: unknown, found: Future[] = [], seen = new Set<object>()): Future[] {
  return findAll(value, (v): v is Future => v instanceof Future, found, seen);
}

/** `value` with every future replaced by `resolve(future)`; other values are kept as they are. */
export function replaceFutures(value: unknown, resolve: (future: Future) => unknown): unknown {
  return replaceAll(value, (v): v is Future => v instanceof Future, resolve);
}

/** Every value inside `value` (arrays, Maps, plain objects, at any depth) that passes `test`, in order of appearance. */
export function findAll<T>(value: unknown, test: (v: unknown) => v is T, found: T[] = [], seen = new Set<object>()): T[] {
  if (test(value)) {
    found.push(value);
    return found;
  }
  if (value === null || typeof value !== "object" || seen.has(value)) return found;
  seen.add(value);
  if (Array.isArray(value)) for (const item of value) findAll(item, test, found, seen);
  else if (value instanceof Map) for (const item of value.values()) findAll(item, test, found, seen);
  else if (isPlainObject(value)) for (const item of Object.values(value)) findAll(item, test, found, seen);
  return found;
}

/** `value` with every value that passes `test` replaced by `resolve(it)`; the structure is copied, other values kept. */
export function replaceAll<T>(value: unknown, test: (v: unknown) => v is T, resolve: (found: T) => unknown): unknown {
  if (test(value)) return resolve(value);
  if (Array.isArray(value)) return value.map((item) => replaceAll(item, test, resolve));
  if (value instanceof Map) return new Map([...value].map(([k, item]) => [k, replaceAll(item, test, resolve)]));
  if (value !== null && typeof value === "object" && isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(value)) out[k] = replaceAll(item, test, resolve);
    return out;
  }
  return value;
}

export function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
