import { describe, expect, test } from "vitest";
import { before, TaskQueue } from "./task-queue.js";
import { newTask, type TaskState } from "./task-state.js";

/** A task as the scheduler would make it: user priority `user`, submitted `seq`-th. */
const t = (key: string, user: number, seq: number): TaskState => newTask(key, [-user, seq]);

function drainAll(q: TaskQueue): string[] {
  const out: string[] = [];
  for (let ts = q.pop(); ts; ts = q.pop()) out.push(ts.key);
  return out;
}

describe("before", () => {
  test("higher user priority first, then earlier submission; equal is not before", () => {
    expect(before(t("a", 5, 9), t("b", 0, 1))).toBe(true);
    expect(before(t("b", 0, 1), t("a", 5, 9))).toBe(false);
    expect(before(t("a", 0, 1), t("b", 0, 2))).toBe(true);
    expect(before(t("b", 0, 2), t("a", 0, 1))).toBe(false);
    const same = t("s", 1, 1);
    expect(before(same, t("s2", 1, 1))).toBe(false);
  });
});

describe("TaskQueue", () => {
  test("pops highest priority first, FIFO within a priority", () => {
    const q = new TaskQueue();
    for (const ts of [t("low-0", -1, 0), t("mid-1", 0, 1), t("high-2", 10, 2), t("mid-3", 0, 3), t("high-4", 10, 4), t("low-5", -1, 5)]) q.add(ts);
    expect(q.size).toBe(6);
    expect(q.peek()?.key).toBe("high-2");
    expect(drainAll(q)).toEqual(["high-2", "high-4", "mid-1", "mid-3", "low-0", "low-5"]);
    expect(q.size).toBe(0);
    expect(q.peek()).toBeUndefined();
    expect(q.pop()).toBeUndefined();
  });

  test("adding a member twice keeps one entry", () => {
    const q = new TaskQueue();
    const a = t("a", 0, 0);
    q.add(a);
    q.add(a);
    expect(q.size).toBe(1);
    expect(drainAll(q)).toEqual(["a"]);
  });

  test("delete is lazy: size, has and iteration change at once; pop and peek skip the stale entry", () => {
    const q = new TaskQueue();
    const [a, b, c] = [t("a", 0, 0), t("b", 0, 1), t("c", 0, 2)];
    q.add(a);
    q.add(b);
    q.add(c);
    q.delete(a);
    q.delete(t("never-added", 0, 9)); // harmless
    expect(q.size).toBe(2);
    expect(q.has(a)).toBe(false);
    expect([...q].map((ts) => ts.key).sort()).toEqual(["b", "c"]);
    expect(q.peek()?.key).toBe("b");
    expect(drainAll(q)).toEqual(["b", "c"]);
  });

  test("a task deleted and added again comes out once, in its place", () => {
    const q = new TaskQueue();
    const [a, b] = [t("a", 0, 0), t("b", 0, 1)];
    q.add(a);
    q.add(b);
    q.delete(a); // its heap entry stays behind
    q.add(a);
    expect(q.size).toBe(2);
    expect(drainAll(q)).toEqual(["a", "b"]);
    // The leftover entry of `a` must not resurrect it.
    q.add(b);
    expect(drainAll(q)).toEqual(["b"]);
  });

  test("pop then add again (as takeFromQueue does) keeps the order", () => {
    const q = new TaskQueue();
    const tasks = Array.from({ length: 10 }, (_, i) => t(`r-${i}`, 0, i));
    for (const ts of tasks) q.add(ts);
    const taken = [q.pop(), q.pop(), q.pop()] as TaskState[];
    for (const ts of taken) q.add(ts);
    expect(drainAll(q)).toEqual(tasks.map((ts) => ts.key));
  });

  test("a cancel storm compacts the heap and keeps the order of what is left", () => {
    const q = new TaskQueue();
    const tasks = Array.from({ length: 200 }, (_, i) => t(`r-${i}`, i % 3, i));
    for (const ts of tasks) q.add(ts);
    // Deleting 190 of 200 crosses the compaction threshold (heap > 64 and > 4 × members) several times.
    const kept = tasks.filter((_, i) => i % 20 === 7);
    for (const ts of tasks) if (!kept.includes(ts)) q.delete(ts);
    expect(q.size).toBe(10);
    const expected = [...kept].sort((x, y) => (before(x, y) ? -1 : 1)).map((ts) => ts.key);
    expect(drainAll(q)).toEqual(expected);
  });

  test("random adds, deletes and pops agree with a plain set (seeded)", () => {
    for (let seed = 1; seed <= 20; seed++) {
      let s = seed;
      const random = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const q = new TaskQueue();
      const model = new Set<TaskState>();
      const pool = Array.from({ length: 300 }, (_, i) => t(`k-${i}`, Math.floor(random() * 5) - 2, i));
      const mismatches: string[] = [];
      for (let op = 0; op < 3000; op++) {
        const x = random();
        const ts = pool[Math.floor(random() * pool.length)] as TaskState;
        if (x < 0.5) {
          q.add(ts);
          model.add(ts);
        } else if (x < 0.75) {
          q.delete(ts);
          model.delete(ts);
        } else {
          let first: TaskState | undefined;
          for (const m of model) if (!first || before(m, first)) first = m;
          if (first) model.delete(first);
          const popped = q.pop();
          if (popped !== first) mismatches.push(`seed ${seed} op ${op}: popped ${popped?.key}, expected ${first?.key}`);
        }
        if (q.size !== model.size) mismatches.push(`seed ${seed} op ${op}: size ${q.size}, expected ${model.size}`);
      }
      expect(mismatches).toEqual([]);
      expect(drainAll(q)).toEqual([...model].sort((a, b) => (before(a, b) ? -1 : 1)).map((ts) => ts.key));
    }
  });
});
