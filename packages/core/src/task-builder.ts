/**
 * Turning `submit(fn, ...args)` into a task description: the function's spec (cached per function
 * object), the encoded arguments with the keys of the futures inside them, and the task key.
 */
import { createHash, randomUUID } from "node:crypto";
import {
  SKEIN_ERROR_CODES,
  SkeinError,
  encodeValue,
  functionSpecOf,
  functionSpecOfReference,
  isFunctionReference,
  registerRefClass,
  type FunctionSpec,
  type TaskSpec,
} from "@skein/serialization";
import { Future, hostOf, type FutureHost } from "./future.js";
import type { TaskOptions } from "./task-options.js";

let encodingFor: FutureHost | undefined;

// Futures inside arguments encode as references to their keys, checked against the submitting client.
registerRefClass(Future, (future) => {
  const host = hostOf(future);
  if (encodingFor && host !== encodingFor) {
    throw new SkeinError(
      "client",
      SKEIN_ERROR_CODES.FOREIGN_FUTURE,
      `future ${future.key} belongs to another client; a task can only use futures of the client it is submitted to. Gather the value and pass it, or submit through that client.`,
    );
  }
  if (future.released) {
    throw new SkeinError("client", SKEIN_ERROR_CODES.BAD_OPTION, `future ${future.key} was released and cannot be passed to a task`);
  }
  return future.key;
});

const specCache = new WeakMap<Function, FunctionSpec>();

/** The wire description of a function or a `{ module, export }` reference. */
export function specOf(fn: unknown): FunctionSpec {
  if (typeof fn === "function") {
    let spec = specCache.get(fn);
    if (!spec) {
      spec = functionSpecOf(fn);
      specCache.set(fn, spec);
    }
    return spec;
  }
  if (isFunctionReference(fn)) return functionSpecOfReference(fn);
  throw new SkeinError(
    "client",
    SKEIN_ERROR_CODES.BAD_FUNCTION,
    `expected a function or a function reference ({ module, export }) as the first argument, got ${describe(fn)}`,
  );
}

export interface BuiltTask {
  spec: TaskSpec;
  deps: string[];
}

/** Encode one call. `key` is the explicit key (already validated) or undefined to generate one. */
export function buildTask(host: FutureHost, fn: FunctionSpec, args: readonly unknown[], options: TaskOptions, key: string | undefined): TaskSpec {
  encodingFor = host;
  let encoded;
  try {
    encoded = encodeValue(args);
  } finally {
    encodingFor = undefined;
  }
  const deps = [...new Set(encoded.refs)];
  const taskKey = key ?? (options.pure ? `${fn.name}-${pureHash(fn.hash, encoded.bytes)}` : `${fn.name}-${randomUUID().replaceAll("-", "")}`);
  if (deps.includes(taskKey)) {
    throw new SkeinError("client", SKEIN_ERROR_CODES.BAD_OPTION, `task key ${taskKey} is also the key of one of its own arguments; a task cannot depend on itself`);
  }
  const spec: TaskSpec = { key: taskKey, fnHash: fn.hash, args: encoded.bytes, deps, priority: options.priority ?? 0, retries: options.retries ?? 0 };
  if (options.workers !== undefined) spec.workers = typeof options.workers === "string" ? [options.workers] : [...options.workers];
  if (options.allowOtherWorkers !== undefined) spec.allowOtherWorkers = options.allowOtherWorkers;
  if (options.resources !== undefined) spec.resources = { ...options.resources };
  return spec;
}

function pureHash(fnHash: string, args: Uint8Array): string {
  return createHash("sha256").update(fnHash).update(args).digest("hex").slice(0, 32);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object without module/export" : `${typeof value} ${JSON.stringify(value)}`;
}
