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
  /** Called whenever the status changes. */
  readonly listeners: Set<(state: KeyState) => void>;
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
      state = { key, refs: 0, status: "pending", version: 0, whoHas: [], nbytes: 0, typeName: "", error: undefined, inline: undefined, listeners: new Set() };
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
    for (const listener of [...state.listeners]) listener(state);
  }

  /** Resolves once the key is no longer pending (or right away). */
  settled(state: KeyState, signal?: AbortSignal): Promise<void> {
    if (state.status !== "pending") return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const listener = (s: KeyState) => {
        if (s.status === "pending") return;
        state.listeners.delete(listener);
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        state.listeners.delete(listener);
        reject(signal?.reason);
      };
      state.listeners.add(listener);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
