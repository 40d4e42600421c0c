/** Walking user structures (arrays, plain objects, Maps) to find futures and to rebuild with results. */
import { Future } from "./future.js";

/** Every future inside `value`, at any depth, in order of appearance. */
export function futuresOf(value: unknown, found: Future[] = [], seen = new Set<object>()): Future[] {
  if (value instanceof Future) {
    found.push(value);
    return found;
  }
  if (value === null || typeof value !== "object" || seen.has(value)) return found;
  seen.add(value);
  if (Array.isArray(value)) for (const item of value) futuresOf(item, found, seen);
  else if (value instanceof Map) for (const item of value.values()) futuresOf(item, found, seen);
  else if (isPlainObject(value)) for (const item of Object.values(value)) futuresOf(item, found, seen);
  return found;
}

/** `value` with every future replaced by `resolve(future)`; other values are kept as they are. */
export function replaceFutures(value: unknown, resolve: (future: Future) => unknown): unknown {
  if (value instanceof Future) return resolve(value);
  if (Array.isArray(value)) return value.map((item) => replaceFutures(item, resolve));
  if (value instanceof Map) return new Map([...value].map(([k, item]) => [k, replaceFutures(item, resolve)]));
  if (value !== null && typeof value === "object" && isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(value)) out[k] = replaceFutures(item, resolve);
    return out;
  }
  return value;
}

export function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
