import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ReadyQueue, type Prioritised } from "./ready-queue.js";

const task = (key: string, priority: number[], resources?: Record<string, number>): Prioritised => ({ key, priority, ...(resources ? { resources } : {}) });
const all = (fits: (t: Prioritised) => boolean = () => true) => (q: ReadyQueue<Prioritised>) => {
  const out: string[] = [];
  for (let t = q.take(fits); t; t = q.take(fits)) out.push(t.key);
  return out;
};

describe("ReadyQueue", () => {
  it("takes lower priorities first, first come first served among equals", () => {
    const q = new ReadyQueue<Prioritised>();
    q.push(task("c", [1, 0]));
    q.push(task("a", [0, 5]));
    q.push(task("b", [0, 5]));
    q.push(task("d", [0, 1]));
    expect(q.size).toBe(4);
    expect(q.peek()?.key).toBe("d");
    expect(all()(q)).toEqual(["d", "a", "b", "c"]);
    expect(q.size).toBe(0);
  });

  it("removes by key (cancel, stealing), and a removed task is never taken", () => {
    const q = new ReadyQueue<Prioritised>();
    for (let i = 0; i < 10; i++) q.push(task(`t${i}`, [i]));
    expect(q.remove("t0")).toBe(true);
    expect(q.remove("t5")).toBe(true);
    expect(q.remove("t5")).toBe(false);
    expect(q.remove("nope")).toBe(false);
    expect(q.size).toBe(8);
    expect(all()(q)).toEqual(["t1", "t2", "t3", "t4", "t6", "t7", "t8", "t9"]);
  });

  it("a task that needs resources starts only when they fit, in priority order with the rest", () => {
    const q = new ReadyQueue<Prioritised>();
    q.push(task("gpu", [0], { GPU: 1 }));
    q.push(task("plain", [1]));
    q.push(task("gpu2", [2], { GPU: 1 }));
    expect(q.peek()?.key).toBe("gpu");
    expect(q.take(() => false)?.key).toBe("plain");
    expect(q.take((t) => t.key === "gpu2")?.key).toBe("gpu2");
    expect(q.take(() => false)).toBeUndefined();
    expect(q.size).toBe(1);
    expect(q.take(() => true)?.key).toBe("gpu");
  });

  it("a key pushed again replaces its earlier entry", () => {
    const q = new ReadyQueue<Prioritised>();
    q.push(task("x", [5], { R: 1 }));
    q.push(task("x", [0]));
    expect(q.size).toBe(1);
    expect(all()(q)).toEqual(["x"]);
  });

  it("gives the same order as a stable sort by priority, whatever the pushes and removals (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ p: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }), drop: fc.boolean() }), { maxLength: 200 }), (items) => {
        const q = new ReadyQueue<Prioritised>();
        items.forEach((item, i) => q.push(task(`k${i}`, item.p)));
        items.forEach((item, i) => item.drop && q.remove(`k${i}`));
        const cmp = (a: number[], b: number[]) => {
          for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
          return 0;
        };
        const expected = items.map((item, i) => ({ ...item, key: `k${i}` })).filter((item) => !item.drop).sort((a, b) => cmp(a.p, b.p)).map((item) => item.key);
        expect(all()(q)).toEqual(expected);
      }),
    );
  });
});
