/** Types that let futures stand in for values anywhere in a task's arguments. */
import type { FunctionReference } from "@skein/serialization";
import type { Delayed } from "./delayed.js";
import type { Future } from "./future.js";

type Leaf = string | number | boolean | bigint | symbol | null | undefined | Date | RegExp | ArrayBufferView | ArrayBuffer | Set<unknown> | Function;

/** A value, a future or Delayed of it, or (for arrays, Maps and plain objects) a structure with those inside. */
export type Futurable<T> =
  | T
  | Future<T>
  | Delayed<T>
  | (T extends Leaf
      ? never
      : T extends readonly (infer E)[]
        ? readonly Futurable<E>[]
        : T extends ReadonlyMap<infer K, infer V>
          ? ReadonlyMap<K, Futurable<V>>
          : T extends object
            ? { [K in keyof T]: Futurable<T[K]> }
            : never);

/** Task arguments where each may be (or contain) futures. */
export type FuturableArgs<A extends readonly unknown[]> = { [K in keyof A]: Futurable<A[K]> };

/** Iterables for `map`: one per parameter, each element a value or a future of it. */
export type MapIterables<A extends readonly unknown[]> = { [K in keyof A]: Iterable<Futurable<A[K]>> };

/** What `gather` returns: the same structure with every future replaced by its result. */
export type Gathered<T> =
  T extends Future<infer U>
    ? U
    : T extends Leaf
      ? T
      : T extends readonly unknown[]
        ? { -readonly [K in keyof T]: Gathered<T[K]> }
        : T extends ReadonlyMap<infer K, infer V>
          ? Map<K, Gathered<V>>
          : T extends object
            ? { [K in keyof T]: Gathered<T[K]> }
            : T;

/** What `compute` and `persist` return: the same structure with every Delayed replaced by a Future of its result. */
export type Computed<T> =
  T extends Delayed<infer U>
    ? Future<U>
    : T extends Future<unknown> | Leaf
      ? T
      : T extends readonly unknown[]
        ? { -readonly [K in keyof T]: Computed<T[K]> }
        : T extends ReadonlyMap<infer K, infer V>
          ? Map<K, Computed<V>>
          : T extends object
            ? { [K in keyof T]: Computed<T[K]> }
            : T;

// biome-ignore lint: any is required to accept every function shape
export type AnyFunction = (...args: any[]) => unknown;

/** A function sent by reference, typed with the function it names. Make one with `fnRef`. */
export interface FunctionRef<F extends AnyFunction = AnyFunction> extends FunctionReference {
  /** Phantom: carries the function type for inference; never set. */
  readonly __fn?: F;
}

/**
 * Name a function by module and export instead of sending its source. The module must resolve on
 * the workers: an absolute `file://` URL (same path on a shared filesystem) or an installed package.
 *
 * ```ts
 * const simulate = fnRef<typeof import("./sim.js").simulate>(new URL("./sim.js", import.meta.url).href, "simulate");
 * ```
 */
export function fnRef<F extends AnyFunction>(module: string, exportName: string): FunctionRef<F> {
  return { module, export: exportName };
}
