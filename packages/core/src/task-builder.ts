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
/** Futures and Delayed values met while encoding arguments (see `encodeArguments`). */
let refObjects: object[] | undefined;

/** Called by the codec hooks of futures and Delayed values: note the object for `encodeArguments`. */
export function noteRefObject(value: object): void {
  refObjects?.push(value);
}

// Futures inside arguments encode as references to their keys, checked against the submitting client.
registerRefClass(Future, (future) => {
  noteRefObject(future);
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

export interface EncodedArguments {
  bytes: Uint8Array;
  /** Keys of the futures and Delayed values inside, each once, in order of appearance. */
  deps: string[];
  /** The Future and Delayed objects met while encoding, each once. */
  objects: object[];
}

/** Encode a call's arguments; with `host`, futures of another client are refused. */
export function encodeArguments(host: FutureHost | undefined, args: readonly unknown[]): EncodedArguments {
  const previous = [encodingFor, refObjects] as const;
  const objects: object[] = [];
  encodingFor = host;
  refObjects = objects;
  try {
    const encoded = encodeValue(args);
    return { bytes: encoded.bytes, deps: [...new Set(encoded.refs)], objects: [...new Set(objects)] };
  } finally {
    [encodingFor, refObjects] = previous;
  }
}

/** The task key for a call: the explicit one, a content hash (`pure`), or the function name and a random id. */
export function taskKeyOf(fn: FunctionSpec, args: Uint8Array, options: TaskOptions, key: string | undefined): string {
  return key ?? (options.pure ? `${fn.name}-${pureHash(fn.hash, args)}` : `${fn.name}-${randomUUID().replaceAll("-", "")}`);
}

/** Encode one call. `key` is the explicit key (already validated) or undefined to generate one. */
export function buildTask(host: FutureHost, fn: FunctionSpec, args: readonly unknown[], options: TaskOptions, key: string | undefined): TaskSpec {
  return buildTaskWithInputs(host, fn, args, options, key).task;
}

/** `buildTask`, also returning the futures and Delayed values met in the arguments. */
export function buildTaskWithInputs(host: FutureHost, fn: FunctionSpec, args: readonly unknown[], options: TaskOptions, key: string | undefined): { task: TaskSpec; inputs: object[] } {
  const encoded = encodeArguments(host, args);
  const taskKey = taskKeyOf(fn, encoded.bytes, options, key);
  if (encoded.deps.includes(taskKey)) {
    throw new SkeinError("client", SKEIN_ERROR_CODES.BAD_OPTION, `task key ${taskKey} is also the key of one of its own arguments; a task cannot depend on itself`);
  }
  return { task: taskSpecOf(taskKey, fn, encoded.bytes, encoded.deps, options), inputs: encoded.objects };
}

/** The wire description of one task whose arguments are already encoded. */
export function taskSpecOf(taskKey: string, fn: FunctionSpec, args: Uint8Array, deps: string[], options: TaskOptions): TaskSpec {
  const spec: TaskSpec = { key: taskKey, fnHash: fn.hash, args, deps, priority: options.priority ?? 0, retries: options.retries ?? 0 };
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
