/**
 * What one pending task costs the scheduler, checked by structure rather than by bytes: 100 000
 * pending tasks once took ~3 KB each, most of it empty Sets and views that kept whole
 * update-graph frames alive (issue 6).
 */
import { describe, expect, test } from "vitest";
import { Sim, argsOf, task } from "./test-helpers.js";
import { NO_MEMBERS, type Relation, type TaskState } from "./task-state.js";

const RELATIONS: readonly Relation[] = ["dependencies", "dependents", "waitingOn", "waiters", "whoWants", "whoHas"];

/** A client.map of `n` calls of one function, with no workers: every task ends up no-worker. */
function pendingMap(n: number): { h: Sim; tasks: TaskState[] } {
  const h = new Sim();
  h.addClient();
  const specs = Array.from({ length: n }, (_, i) => task(`inc-${i}`));
  h.submit(specs, specs.map((s) => s.key));
  return { h, tasks: specs.map((s) => h.task(s.key)) };
}

describe("the footprint of a pending task", () => {
  test("a pending task of a map owns one Set, for the client that wants it; its empty relations are the shared NO_MEMBERS", () => {
    const { tasks } = pendingMap(2000);
    const owned = new Set<ReadonlySet<unknown>>();
    for (const ts of tasks) {
      expect(ts.status).toBe("no-worker");
      for (const relation of RELATIONS) {
        if (ts[relation] === NO_MEMBERS) continue;
        expect(relation).toBe("whoWants");
        owned.add(ts[relation]);
      }
      expect(ts.whoWants.size).toBe(1);
    }
    expect(owned.size).toBe(tasks.length);
  });

  test("the arguments of one graph are copied out of the message into one buffer, shared by its tasks", () => {
    const h = new Sim();
    h.addClient();
    const specs = Array.from({ length: 100 }, (_, i) => task(`inc-${i}`));
    h.submit(specs, specs.map((s) => s.key));
    const buffers = new Set(specs.map((s) => h.task(s.key).run?.args.buffer));
    expect(buffers.size).toBe(1);
    for (const spec of specs) {
      const args = h.task(spec.key).run?.args as Uint8Array;
      expect(args.buffer).not.toBe(spec.args.buffer);
      expect([...args]).toEqual([...argsOf(spec.key)]);
    }
  });

  test("the tasks of one function share its hash and their group's prefix", () => {
    const { h, tasks } = pendingMap(50);
    expect(new Set(tasks.map((ts) => ts.run?.fnHash))).toEqual(new Set([...h.state.functions.keys()]));
    expect([...h.state.prefixes.keys()]).toEqual(["inc"]);
  });

  test("a relation that empties goes back to NO_MEMBERS", () => {
    const h = new Sim();
    h.addClient();
    h.addWorker("w1");
    h.submit([task("load-1"), task("sum-1", ["load-1"])], ["sum-1"]);
    const sum = h.task("sum-1");
    expect(sum.waitingOn.size).toBe(1);
    h.finish("load-1");
    expect(sum.waitingOn).toBe(NO_MEMBERS);
    const load = h.task("load-1");
    expect(load.waiters.size).toBe(1);
    h.finish("sum-1");
    // sum-1 no longer reads load-1, which is released: it waits for nobody now.
    expect(load.status).toBe("released");
    expect(load.waiters).toBe(NO_MEMBERS);
    expect(load.whoHas).toBe(NO_MEMBERS);
    h.release(["sum-1"]);
    expect(h.state.tasks.size).toBe(0);
    expect(sum.whoWants).toBe(NO_MEMBERS);
    expect(load.dependents).toBe(NO_MEMBERS);
  });

  test("NO_MEMBERS cannot be added to: relations change through link()", () => {
    expect(() => (NO_MEMBERS as unknown as Set<number>).add(1)).toThrow(/link\(\)/);
    expect(NO_MEMBERS.size).toBe(0);
  });
});
