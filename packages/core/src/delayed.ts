/**
 * Lazy task graphs. `delayed(fn)(...args)` records a call without running it: a `Delayed` node
 * with the function, the arguments (encoded once, when the call is made) and the Delayed values
 * and futures among them. `client.compute(x)` / `client.persist(x)` plan every node reachable from
 * `x` (`planGraph`) and send them in one update-graph message.
 *
 * Keys work as for `submit`: `name-<random>` by default, a content hash with `pure: true` (the
 * encoded arguments hold the keys of the Delayed values and futures inside, so the hash covers the
 * dependencies), or the key you give.
 */
import { inspect } from "node:util";
import { SKEIN_ERROR_CODES, SkeinError, registerRefClass, type FunctionReference, type FunctionSpec, type TaskSpec } from "@skein/serialization";
import { badOption } from "./errors.js";
import { Future, hostOf, type FutureHost } from "./future.js";
import { findAll, replaceAll } from "./structure.js";
import { encodeArguments, noteRefObject, specOf, taskKeyOf, taskSpecOf } from "./task-builder.js";
import { validateTaskOptions, type TaskOptions } from "./task-options.js";
import type { AnyFunction, FunctionRef, FuturableArgs } from "./types.js";

/** Options of a delayed function; they apply to every call of it. */
export interface DelayedOptions extends Omit<TaskOptions, "key"> {
  /** The task's key. Every call of this delayed function then names the same computation. */
  key?: string;
}

/** One recorded call. Plain data, built once; planning a graph only reads it. */
interface DelayedNode {
  readonly key: string;
  readonly fn: FunctionSpec;
  readonly args: Uint8Array;
  /** Keys of the Delayed values and futures in the arguments, each once, in order of appearance. */
  readonly deps: readonly string[];
  /** The Delayed values and futures in the arguments, each once. */
  readonly inputs: readonly (Delayed | Future)[];
  readonly options: TaskOptions;
}

let nodeOf: (value: Delayed) => DelayedNode;

/**
 * A call that has not run: the node of a lazy task graph. Pass it to other delayed calls, to
 * `client.submit`/`map`, or to `client.compute`/`persist`, which send the graph to the cluster.
 * Not a thenable, and never sent anywhere by itself.
 */
export class Delayed<T = unknown> {
  /** The task key the call will have on the cluster. */
  readonly key: string;
  readonly #node: DelayedNode;
  declare readonly __resultType?: T;

  static {
    nodeOf = (value) => value.#node;
  }

  /** @internal Made by `delayed(fn)(...args)`; not meant to be constructed by users. */
  constructor(node: DelayedNode) {
    this.key = node.key;
    this.#node = node;
  }

  /** Keys this call depends on directly (Delayed values and futures in its arguments). */
  get dependencies(): readonly string[] {
    return this.#node.deps;
  }

  get [Symbol.toStringTag](): string {
    return "Delayed";
  }

  [inspect.custom](): string {
    return `Delayed<${this.key}>`;
  }

  toString(): string {
    return `Delayed<${this.key}>`;
  }
}

// Inside arguments a Delayed value encodes as a reference to its key, like a future.
registerRefClass(Delayed, (value) => {
  noteRefObject(value);
  return value.key;
});

/**
 * Make `fn` lazy: `delayed(fn)(...args)` returns a `Delayed` instead of running anything.
 * Arguments may be (or contain, at any depth) Delayed values, futures and plain values.
 *
 * ```ts
 * const inc = delayed((x: number) => x + 1);
 * const add = delayed((a: number, b: number) => a + b);
 * const total = add(inc(1), inc(2));            // nothing sent yet
 * console.log(await client.compute(total).result()); // 5
 * ```
 */
export function delayed<F extends AnyFunction>(fn: F | FunctionRef<F>, options?: DelayedOptions): (...args: FuturableArgs<Parameters<F>>) => Delayed<Awaited<ReturnType<F>>>;
/** A function by reference without a type: `delayed({ module, export })`. */
export function delayed<R = unknown>(fn: FunctionReference, options?: DelayedOptions): (...args: unknown[]) => Delayed<R>;
export function delayed(fn: unknown, options: DelayedOptions = {}): (...args: unknown[]) => Delayed {
  const checked = validateTaskOptions(options);
  if (Array.isArray(checked.key)) throw badOption("client", "option key for delayed must be a string");
  const spec = specOf(fn);
  return (...args: unknown[]) => makeDelayed(spec, args, checked);
}

function makeDelayed(fn: FunctionSpec, args: readonly unknown[], options: TaskOptions): Delayed {
  const encoded = encodeArguments(undefined, args);
  const key = taskKeyOf(fn, encoded.bytes, options, options.key as string | undefined);
  if (encoded.deps.includes(key)) throw cycleError([key, key]);
  const inputs = encoded.objects.filter((o): o is Delayed | Future => o instanceof Delayed || o instanceof Future);
  return new Delayed({ key, fn, args: encoded.bytes, deps: encoded.deps, inputs, options });
}

export function isDelayed(value: unknown): value is Delayed {
  return value instanceof Delayed;
}

/** Every Delayed value inside `value` (arrays, Maps, plain objects, at any depth), in order of appearance. */
export function delayedIn(value: unknown): Delayed[] {
  return findAll(value, isDelayed);
}

/** `value` with every Delayed replaced by `resolve(it)`; the structure is copied. */
export function replaceDelayed(value: unknown, resolve: (value: Delayed) => unknown): unknown {
  return replaceAll(value, isDelayed, resolve);
}

export interface PlannedTask {
  readonly fn: FunctionSpec;
  readonly task: TaskSpec;
}

/**
 * The tasks to send for `outputs`: every Delayed node reachable from them, once per key (a key
 * names one computation: of two nodes with the same key, the first met is sent), in the order the
 * scheduler should prefer them.
 *
 * Order: depth-first from the outputs, in argument order, each task after its dependencies. The
 * scheduler breaks ties between equal user priorities by arrival order, so the leaves of one branch
 * run, and their results are reduced and freed, before the next branch starts (dask.order's aim,
 * with a much simpler rule).
 *
 * Rejected with `SKEIN_ERR_BAD_GRAPH`, before anything is sent: a cycle (possible only with
 * explicit keys), or a dependency that is neither in the graph nor a live future of `host`. A
 * future of another client is `SKEIN_ERR_FOREIGN_FUTURE`. Linear in nodes plus edges.
 */
export function planGraph(outputs: readonly Delayed[], host: FutureHost): PlannedTask[] {
  const { byKey, held } = collectNodes(outputs, host);
  const order: DelayedNode[] = [];
  const missing: [string, string][] = [];
  /** 1: on the current path; 2: done. */
  const marks = new Map<string, 1 | 2>();
  for (const output of outputs) {
    if (marks.has(output.key)) continue;
    marks.set(output.key, 1);
    const path: { node: DelayedNode; next: number }[] = [{ node: byKey.get(output.key) as DelayedNode, next: 0 }];
    while (path.length > 0) {
      const frame = path[path.length - 1] as { node: DelayedNode; next: number };
      if (frame.next === frame.node.deps.length) {
        path.pop();
        marks.set(frame.node.key, 2);
        order.push(frame.node);
        continue;
      }
      const dep = frame.node.deps[frame.next++] as string;
      const child = byKey.get(dep);
      if (!child) {
        if (!held.has(dep)) missing.push([frame.node.key, dep]);
        continue;
      }
      const mark = marks.get(dep);
      if (mark === 2) continue;
      if (mark === 1) {
        const keys = path.map((f) => f.node.key);
        throw cycleError([...keys.slice(keys.indexOf(dep)), dep]);
      }
      marks.set(dep, 1);
      path.push({ node: child, next: 0 });
    }
  }
  if (missing.length > 0) throw missingError(missing);
  return order.map((node) => ({ fn: node.fn, task: taskSpecOf(node.key, node.fn, node.args, [...node.deps], node.options) }));
}

/** Every node reachable from `outputs` by key, and the keys of the live futures of `host` among their inputs. */
function collectNodes(outputs: readonly Delayed[], host: FutureHost): { byKey: Map<string, DelayedNode>; held: Set<string> } {
  const byKey = new Map<string, DelayedNode>();
  const held = new Set<string>();
  const seen = new Set<Delayed>();
  const stack = [...outputs].reverse();
  while (stack.length > 0) {
    const value = stack.pop() as Delayed;
    if (seen.has(value)) continue;
    seen.add(value);
    const node = nodeOf(value);
    if (!byKey.has(node.key)) byKey.set(node.key, node);
    for (let i = node.inputs.length - 1; i >= 0; i--) {
      const input = node.inputs[i] as Delayed | Future;
      if (input instanceof Delayed) {
        if (!seen.has(input)) stack.push(input);
        continue;
      }
      if (hostOf(input) !== host) {
        throw new SkeinError(
          "client",
          SKEIN_ERROR_CODES.FOREIGN_FUTURE,
          `task ${node.key} uses future ${input.key}, which belongs to another client; a graph can only use futures of the client that computes it`,
        );
      }
      // A released future no longer keeps its result on the cluster: the dependency is missing.
      if (!input.released) held.add(input.key);
    }
  }
  return { byKey, held };
}

function cycleError(keys: readonly string[]): SkeinError {
  return new SkeinError(
    "client",
    SKEIN_ERROR_CODES.BAD_GRAPH,
    `the task graph has a cycle: ${keys.join(" -> ")} (read -> as "depends on"). Only explicit keys can make one: two different calls given the same key, or a call given the key of one of its own inputs. Nothing was sent.`,
  );
}

function missingError(missing: readonly [string, string][]): SkeinError {
  const shown = missing.slice(0, 5).map(([task, dep]) => `${task} depends on ${dep}`);
  const more = missing.length > shown.length ? ` and ${missing.length - shown.length} more` : "";
  return new SkeinError(
    "client",
    SKEIN_ERROR_CODES.BAD_GRAPH,
    `missing dependencies: ${shown.join("; ")}${more}. Such a key is neither in this graph nor a future this client holds (was the future released?). Nothing was sent.`,
  );
}
