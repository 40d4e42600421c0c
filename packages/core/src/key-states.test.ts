import { describe, expect, it } from "vitest";
import { KeyStates } from "./key-states.js";

const finished = { whoHas: ["ws://w:1"], nbytes: 1, typeName: "number" };

describe("KeyStates.allSettled", () => {
  it("resolves once every key is done, and leaves no listener behind", async () => {
    const keys = new KeyStates();
    const [a, b] = [keys.ensure("a"), keys.ensure("b")];
    let done = false;
    const waiting = keys.allSettled([a, b]).then(() => (done = true));
    keys.finish(a, finished);
    await Promise.resolve();
    expect(done).toBe(false);
    keys.finish(b, { ...finished, data: new Uint8Array([1]) });
    await waiting;
    expect(done).toBe(true);
    expect([a.listeners, b.listeners]).toEqual([undefined, undefined]);
    expect(b.inline).toEqual(new Uint8Array([1]));
  });

  it("rejects with the first failure at once, without waiting for the rest", async () => {
    const keys = new KeyStates();
    const [a, b] = [keys.ensure("a"), keys.ensure("b")];
    const waiting = keys.allSettled([a, b]);
    const boom = new Error("boom");
    keys.update(b, { status: "error", error: boom });
    await expect(waiting).rejects.toBe(boom);
    expect(a.listeners).toBeUndefined();
  });

  it("settles right away for keys already done", async () => {
    const keys = new KeyStates();
    const a = keys.ensure("a");
    keys.finish(a, finished);
    await expect(keys.allSettled([a])).resolves.toBeUndefined();
    const c = keys.ensure("c");
    const cancelled = new Error("cancelled");
    keys.update(c, { status: "cancelled", error: cancelled });
    await expect(keys.allSettled([a, c])).rejects.toBe(cancelled);
  });
});
