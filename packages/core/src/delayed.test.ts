/** Building lazy graphs on the client: keys, deduplication, ordering, validation. No processes. */
import { SKEIN_ERROR_CODES, TaskRef, decodeValue } from "@skein/serialization";
import { describe, expect, expectTypeOf, it } from "vitest";
import { Delayed, delayed, delayedIn, planGraph, replaceDelayed } from "./delayed.js";
import { Future, type FutureHost } from "./future.js";
import { buildTask, specOf } from "./task-builder.js";
import type { Computed, Futurable } from "./types.js";

/** A client stand-in: futures need a host, planning needs to know whose futures they are. */
function fakeHost(id = "c1"): FutureHost {
  return {
    id,
    statusOf: () => "pending",
    resultOf: async () => undefined,
    exceptionOf: async () => undefined,
    retain: () => {},
    release: () => {},
    cancel: async () => {},
    retry: () => {},
    fireAndForget: () => {},
    settled: async () => {},
  };
}

const inc = delayed(function inc(x: number) {
  return x + 1;
});
const add = delayed(function add(a: number, b: number) {
  return a + b;
});
const sum = delayed(function sum(xs: number[]) {
  return xs.reduce((a, b) => a + b, 0);
});

/** Keys of the planned tasks, in the order they would be sent. */
const order = (outputs: Delayed[], host = fakeHost()) => planGraph(outputs, host).map((p) => p.task.key);

describe("delayed calls", () => {
  it("record a call without running it: a key like submit's, the dependency keys, nothing else", () => {
    let ran = false;
    const f = delayed((x: number) => {
      ran = true;
      return x;
    });
    const a = inc(1);
    const b = add(a, 2);
    expect(a).toBeInstanceOf(Delayed);
    expect(a.key).toMatch(/^inc-[0-9a-f]{32}$/);
    expect(b.key).toMatch(/^add-[0-9a-f]{32}$/);
    expect(b.dependencies).toEqual([a.key]);
    f(1);
    expect(ran).toBe(false);
    expect(String(b)).toBe(`Delayed<${b.key}>`);
    expect("then" in b).toBe(false);
  });

  it("give every call a new key by default, like submit (pure: false)", () => {
    expect(inc(1).key).not.toBe(inc(1).key);
  });

  it("with pure: true, key by content, dependencies included, and agree with submit's pure keys", () => {
    const pinc = delayed((x: number) => x + 1, { pure: true });
    const padd = delayed((a: number, b: number) => a + b, { pure: true });
    expect(pinc(1).key).toBe(pinc(1).key);
    expect(pinc(1).key).not.toBe(pinc(2).key);
    expect(padd(pinc(1), 0).key).toBe(padd(pinc(1), 0).key);
    expect(padd(pinc(1), 0).key).not.toBe(padd(pinc(2), 0).key);
    // A non-pure dependency has a new key every time, so its dependents do too.
    expect(padd(inc(1), 0).key).not.toBe(padd(inc(1), 0).key);
    const fn = (x: number) => x * 3;
    const submitted = buildTask(fakeHost(), specOf(fn), [7], { pure: true }, undefined);
    expect(delayed(fn, { pure: true })(7).key).toBe(submitted.key);
  });

  it("take an explicit key and the other task options", () => {
    const d = delayed((x: number) => x, { key: "my-key", priority: 5, retries: 2, workers: "w1", resources: { GPU: 1 } })(1);
    expect(d.key).toBe("my-key");
    const [planned] = planGraph([d], fakeHost());
    expect(planned?.task).toMatchObject({ key: "my-key", priority: 5, retries: 2, workers: ["w1"], resources: { GPU: 1 }, deps: [] });
  });

  it("reject bad options and functions at once", () => {
    expect(() => delayed((x: number) => x, { retries: -1 })).toThrow(expect.objectContaining({ code: SKEIN_ERROR_CODES.BAD_OPTION }));
    expect(() => delayed((x: number) => x, { key: ["a"] } as never)).toThrow(/must be a string/);
    expect(() => delayed(42 as never)).toThrow(expect.objectContaining({ code: SKEIN_ERROR_CODES.BAD_FUNCTION }));
  });

  it("encode Delayed arguments at any depth as references that a worker resolves", () => {
    const a = inc(1);
    const d = delayed((o: { xs: number[]; m: Map<string, number> }) => o)({ xs: [a], m: new Map([["k", a]]) });
    expect(d.dependencies).toEqual([a.key]);
    const [, planned] = planGraph([d], fakeHost());
    const decoded = decodeValue(planned?.task.args as Uint8Array, (key) => `value of ${key}`);
    expect(decoded).toEqual([{ xs: [`value of ${a.key}`], m: new Map([["k", `value of ${a.key}`]]) }]);
  });
});

describe("planning a graph", () => {
  it("sends each node once, dependencies first, depth-first from the outputs branch by branch", () => {
    const [a, b, c, d] = [inc(1), inc(2), inc(3), inc(4)];
    const s1 = add(a, b);
    const s2 = add(c, d);
    const t = add(s1, s2);
    expect(order([t])).toEqual([a.key, b.key, s1.key, c.key, d.key, s2.key, t.key]);
  });

  it("deduplicates a diamond and shared subgraphs of several outputs", () => {
    const root = inc(0);
    const left = inc(root);
    const right = add(root, 10);
    const join = add(left, right);
    const other = inc(left);
    expect(order([join, other, join])).toEqual([root.key, left.key, right.key, join.key, other.key]);
  });

  it("deduplicates by key: two calls with one pure key are one task", () => {
    const pinc = delayed((x: number) => x + 1, { pure: true });
    const first = pinc(1);
    const second = pinc(1);
    expect(first).not.toBe(second);
    expect(order([add(first, second)])).toEqual([first.key, expect.stringMatching(/^add-/)]);
  });

  it("lists each task's dependency keys, futures included", () => {
    const host = fakeHost();
    const future = new Future(host, "data-1");
    const a = inc(future as never);
    const b = add(a, future as never);
    const planned = planGraph([b], host);
    expect(planned.map((p) => [p.task.key, p.task.deps])).toEqual([
      [a.key, ["data-1"]],
      [b.key, [a.key, "data-1"]],
    ]);
    // The function of each task travels with it (the client sends each function once).
    expect(planned.map((p) => p.fn.name)).toEqual(["inc", "add"]);
  });

  it("finds the Delayed values in a structure and replaces them", () => {
    const a = inc(1);
    const b = inc(2);
    const x = { list: [a, 3], map: new Map([["b", b]]), a };
    expect(delayedIn(x)).toEqual([a, b, a]);
    expect(replaceDelayed(x, (d) => d.key)).toEqual({ list: [a.key, 3], map: new Map([["b", b.key]]), a: a.key });
  });

  it("handles a 10 000-task fan-out and fan-in (map 5 000 + a tree of sums) in one linear pass", () => {
    const leaves = Array.from({ length: 5000 }, (_, i) => inc(i));
    let level: Delayed<number>[] = leaves;
    while (level.length > 1) {
      const next: Delayed<number>[] = [];
      for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? add(level[i] as Delayed<number>, level[i + 1] as Delayed<number>) : (level[i] as Delayed<number>));
      level = next;
    }
    const total = sum([level[0] as Delayed<number>, ...leaves.slice(0, 10)]);
    const planned = planGraph([total], fakeHost());
    expect(planned.length).toBe(5000 + 4999 + 1);
    const position = new Map(planned.map((p, i) => [p.task.key, i]));
    for (const [i, p] of planned.entries()) for (const dep of p.task.deps) expect(position.get(dep)).toBeLessThan(i);
    expect(planned.at(-1)?.task.key).toBe(total.key);
  });

  it("handles a 10 000-long chain without overflowing the stack", () => {
    let d: Delayed<number> = inc(0);
    for (let i = 0; i < 10_000; i++) d = inc(d);
    expect(planGraph([d], fakeHost())).toHaveLength(10_001);
  });
});

describe("graphs that cannot run are rejected before anything is sent", () => {
  it("a cycle made with explicit keys names the keys on it", () => {
    const first = delayed((x: number) => x, { key: "k-a" })(1);
    const middle = delayed((x: number) => x, { key: "k-b" })(first);
    const last = delayed((x: number) => x, { key: "k-a" })(middle); // the same key as `first`
    const attempt = () => planGraph([last], fakeHost());
    expect(attempt).toThrow(expect.objectContaining({ code: SKEIN_ERROR_CODES.BAD_GRAPH }));
    expect(attempt).toThrow(/the task graph has a cycle: k-a -> k-b -> k-a/);
  });

  it("a call given the key of its own input is a cycle at once", () => {
    const first = delayed((x: number) => x, { key: "self-1" })(1);
    expect(() => delayed((x: number) => x, { key: "self-1" })(first)).toThrow(/cycle: self-1 -> self-1/);
  });

  it("a call given the key of a future it depends on is a cycle", () => {
    const host = fakeHost();
    const future = new Future(host, "f-1");
    const d = delayed((x: number) => x, { key: "f-1" })(inc(future as never));
    expect(() => planGraph([d], host)).toThrow(/cycle: f-1 -> inc-[0-9a-f]+ -> f-1/);
  });

  it("a dependency on a released future is missing, and named", () => {
    const host = fakeHost();
    const future = new Future(host, "gone-1");
    const d = inc(future as never);
    future.release();
    expect(() => planGraph([add(d, 1)], host)).toThrow(new RegExp(`missing dependencies: ${d.key} depends on gone-1\\b`));
  });

  it("a reference to a key that is neither in the graph nor held is missing", () => {
    const d = inc(new TaskRef("nowhere-1") as never);
    expect(() => planGraph([d], fakeHost())).toThrow(expect.objectContaining({ code: SKEIN_ERROR_CODES.BAD_GRAPH, message: expect.stringContaining("depends on nowhere-1") }));
  });

  it("a future of another client is refused", () => {
    const mine = fakeHost("c1");
    const theirs = fakeHost("c2");
    const d = inc(new Future(theirs, "theirs-1") as never);
    expect(() => planGraph([d], mine)).toThrow(expect.objectContaining({ code: SKEIN_ERROR_CODES.FOREIGN_FUTURE }));
  });
});

describe("types", () => {
  it("type calls like submit, and Delayed stands in for its value where a value is expected", () => {
    const d = add(inc(1), 2);
    expectTypeOf(d).toEqualTypeOf<Delayed<number>>();
    expectTypeOf(inc).parameter(0).toEqualTypeOf<Futurable<number>>();
    expectTypeOf<Delayed<number>>().toMatchTypeOf<Futurable<number>>();
    expectTypeOf<Delayed<string>>().not.toMatchTypeOf<Futurable<number>>();
    expectTypeOf(sum).parameter(0).toMatchTypeOf<Futurable<number[]>>();
    const asyncOne = delayed(async (x: number) => String(x));
    expectTypeOf(asyncOne(1)).toEqualTypeOf<Delayed<string>>();
    expectTypeOf<Computed<{ a: Delayed<number>; b: [Delayed<string>, number]; m: Map<string, Delayed<boolean>> }>>().toEqualTypeOf<{
      a: Future<number>;
      b: [Future<string>, number];
      m: Map<string, Future<boolean>>;
    }>();
    expectTypeOf<Computed<Future<number>>>().toEqualTypeOf<Future<number>>();
  });
});
