/**
 * What a client knows about each key it holds futures for: how many live futures point at it,
 * whether it is done, where the result lives. Futures of the same key share one record.
 */
import type { FutureStatus } from "./future.js";

export interface KeyState {
  readonly key: string;
  /** Live Future objects for this key. */
  refs: number;
  status: FutureStatus;
  /** Bumped on every notification, so a failed fetch can tell whether news arrived meanwhile. */
  version: number;
  whoHas: string[];
  nbytes: number;
  typeName: string;
  error: Error | undefined;
  /** The encoded result, when the scheduler sent it along (small results): nothing to fetch. */
  inline: Uint8Array | undefined;
  /** Called whenever the status changes; made at the first listener (most keys never get one). */
  listeners: Set<(state: KeyState) => void> | undefined;
}

export class KeyStates {
  readonly #states = new Map<string, KeyState>();

  get size(): number {
    return this.#states.size;
  }

  get(key: string): KeyState | undefined {
    return this.#states.get(key);
  }

  /** The record for `key`, created pending if new. */
  ensure(key: string): KeyState {
    let state = this.#states.get(key);
    if (!state) {
      state = { key, refs: 0, status: "pending", version: 0, whoHas: [], nbytes: 0, typeName: "", error: undefined, inline: undefined, listeners: undefined };
      this.#states.set(key, state);
    }
    return state;
  }

  delete(key: string): void {
    this.#states.delete(key);
  }

  values(): IterableIterator<KeyState> {
    return this.#states.values();
  }

  /** Change a key's status and tell whoever listens. */
  update(state: KeyState, change: Partial<Pick<KeyState, "status" | "whoHas" | "nbytes" | "typeName" | "error" | "inline">>): void {
    Object.assign(state, change);
    state.version += 1;
    if (state.listeners) for (const listener of [...state.listeners]) listener(state);
  }

  /** The result of a key that came with its notice (small results), for reading it without a fetch. */
  finish(state: KeyState, notice: { whoHas: string[]; nbytes: number; typeName: string; data?: Uint8Array | undefined }): void {
    state.status = "finished";
    state.whoHas = notice.whoHas;
    state.nbytes = notice.nbytes;
    state.typeName = notice.typeName;
    state.error = undefined;
    state.inline = notice.data;
    state.version += 1;
    if (state.listeners) for (const listener of [...state.listeners]) listener(state);
  }

  /** Resolves once the key is no longer pending (or right away). */
  settled(state: KeyState, signal?: AbortSignal): Promise<void> {
    if (state.status !== "pending") return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const listener = (s: KeyState) => {
        if (s.status === "pending") return;
        removeListener(state, listener);
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        removeListener(state, listener);
        reject(signal?.reason);
      };
      (state.listeners ??= new Set()).add(listener);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Resolves once none of `states` is pending; rejects at once with the error of the first that
   * fails or is cancelled. One promise and one listener for them all: `gather` of 100 000 futures
   * costs no promise per key while it waits.
   */
  allSettled(states: readonly KeyState[]): Promise<void> {
    let pending = 0;
    for (const state of states) {
      if (state.status === "pending") pending++;
      else if (state.status !== "finished") return Promise.reject(state.error);
    }
    if (pending === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiting = states.filter((state) => state.status === "pending");
      const stop = () => {
        for (const state of waiting) removeListener(state, listener);
      };
      const listener = (s: KeyState) => {
        if (s.status === "pending") return;
        removeListener(s, listener);
        if (s.status !== "finished") {
          stop();
          reject(s.error);
        } else if (--pending === 0) {
          resolve();
        }
      };
      for (const state of waiting) (state.listeners ??= new Set()).add(listener);
    });
  }
}

function removeListener(state: KeyState, listener: (state: KeyState) => void): void {
  state.listeners?.delete(listener);
  if (state.listeners?.size === 0) state.listeners = undefined;
}
