/**
 * Placement as a pure function of the state: workers come from worker-added events, tasks and
 * their replicas are set up by hand so each test controls exactly the numbers decideWorker reads.
 */
import { describe, expect, test } from "vitest";
import { decideWorker, estimateDuration, isSaturated, occupancyOf, recordDuration, takeFromQueue, validWorkers } from "./placement.js";
import { link, newTask, type SchedulerState, type TaskState, type WorkerState } from "./state/task-state.js";
import { addressOf, Sim } from "./state/test-helpers.js";
import { addReplica } from "./state/transitions/common.js";

function cluster(workers: Record<string, number>, config: ConstructorParameters<typeof Sim>[0] = {}) {
  const h = new Sim(config);
  for (const [name, nthreads] of Object.entries(workers)) h.addWorker(name, { nthreads });
  return { state: h.state, w: (name: string) => h.worker(name) };
}

let seq = 0;
function root(key: string, user = 0): TaskState {
  return newTask(key, [-user, seq++]);
}

/** A task whose inputs are in memory on the given workers. */
function dependent(key: string, inputs: { nbytes: number; on: WorkerState[] }[]): TaskState {
  const ts = root(key);
  inputs.forEach((input, i) => {
    const dep = root(`${key}-in${i}`);
    dep.status = "memory";
    dep.nbytes = input.nbytes;
    for (const ws of input.on) addReplica(dep, ws);
    link(ts, "dependencies", dep);
    link(dep, "dependents", ts);
  });
  return ts;
}

/** Pretend `ws` runs `count` tasks of their own kind, estimated at `seconds` in total. */
function load(state: SchedulerState, ws: WorkerState, count: number, seconds: number): void {
  const prefix = `busy${ws.name}`;
  ws.processing.clear();
  ws.processingPrefixes.clear();
  for (let i = 0; i < count; i++) ws.processing.add(root(`${prefix}-${i}`));
  ws.processingPrefixes.set(prefix, count);
  state.durations.set(prefix, seconds / count);
}

function restrict(ts: TaskState, workers: string[], allowOtherWorkers = false): TaskState {
  ts.restrictions = { workers: new Set(workers), allowOtherWorkers };
  return ts;
}

describe("validWorkers", () => {
  test("every running worker, without restrictions; a closing worker never", () => {
    const { state, w } = cluster({ w1: 1, w2: 1 });
    w("w2").status = "closing";
    expect(validWorkers(state, root("x"))).toEqual([w("w1")]);
  });

  test("restrictions match a worker's name, address or host", () => {
    const { state, w } = cluster({ w1: 1, w2: 1, w3: 1 });
    expect(validWorkers(state, restrict(root("x"), ["w2", addressOf("w3")]))).toEqual([w("w2"), w("w3")]);
    expect(validWorkers(state, restrict(root("x"), ["w1.test"]))).toEqual([w("w1")]);
  });

  test("no named worker present: nothing, or every worker with allowOtherWorkers", () => {
    const { state, w } = cluster({ w1: 1, w2: 1 });
    expect(validWorkers(state, restrict(root("x"), ["gpu"]))).toEqual([]);
    expect(validWorkers(state, restrict(root("x"), ["gpu"], true))).toEqual([w("w1"), w("w2")]);
    // With the named worker present, allowOtherWorkers does not widen the choice.
    expect(validWorkers(state, restrict(root("x"), ["w2"], true))).toEqual([w("w2")]);
  });
});

describe("durations", () => {
  test("unknown prefixes cost unknownDuration; measurements are averaged with the previous estimate", () => {
    const { state } = cluster({}, { unknownDuration: 0.25 });
    const ts = root("inc-1");
    expect(estimateDuration(state, ts)).toBe(0.25);
    recordDuration(state, "inc", 1);
    expect(estimateDuration(state, ts)).toBe(1);
    recordDuration(state, "inc", 0.5);
    expect(estimateDuration(state, ts)).toBe(0.75);
    expect(estimateDuration(state, root("other-1"))).toBe(0.25);
  });
});

describe("occupancyOf", () => {
  test("is the running tasks' count per prefix times today's estimate, so a better estimate updates it", () => {
    const { state, w } = cluster({ w1: 1 }, { unknownDuration: 0.5 });
    w("w1").processingPrefixes.set("inc", 3);
    w("w1").processingPrefixes.set("sum", 1);
    expect(occupancyOf(state, w("w1"))).toBe(2);
    recordDuration(state, "inc", 0.25);
    expect(occupancyOf(state, w("w1"))).toBe(1.25);
  });
});

describe("isSaturated", () => {
  test("needs both enough tasks per thread and enough seconds per thread", () => {
    const { state, w } = cluster({ w1: 2 }); // defaults: 2 tasks and 0.05 s per thread
    load(state, w("w1"), 3, 1);
    expect(isSaturated(state, w("w1"))).toBe(false); // 3 < 4 tasks
    load(state, w("w1"), 4, 0.09);
    expect(isSaturated(state, w("w1"))).toBe(false); // 0.09 < 0.1 s
    load(state, w("w1"), 4, 0.1);
    expect(isSaturated(state, w("w1"))).toBe(true);
  });
});

describe("decideWorker", () => {
  test("no candidates: undefined", () => {
    const { state } = cluster({});
    expect(decideWorker(state, root("x"))).toBeUndefined();
    const { state: s2 } = cluster({ w1: 1 });
    expect(decideWorker(s2, restrict(root("x"), ["gpu"]))).toBeUndefined();
  });

  test("a root task goes to the least loaded worker, load being occupancy per thread", () => {
    const { state, w } = cluster({ w1: 1, w2: 4 });
    load(state, w("w1"), 1, 0.3);
    load(state, w("w2"), 1, 0.8); // 0.2 s per thread
    expect(decideWorker(state, root("x"))).toBe(w("w2"));
  });

  test("a root task skips saturated workers, and with all saturated returns undefined (to be queued)", () => {
    const { state, w } = cluster({ w1: 1, w2: 1 });
    load(state, w("w1"), 2, 1);
    expect(decideWorker(state, root("x"))).toBe(w("w2"));
    load(state, w("w2"), 2, 0.5);
    expect(decideWorker(state, root("x"))).toBeUndefined();
  });

  test("a task with inputs is placed even when every worker is saturated", () => {
    const { state, w } = cluster({ w1: 1, w2: 1 });
    load(state, w("w1"), 5, 2);
    load(state, w("w2"), 5, 2);
    expect(decideWorker(state, dependent("y", [{ nbytes: 8, on: [w("w2")] }]))).toBe(w("w2"));
  });

  test("locality: with equal load, the worker holding the input wins, whichever comes first", () => {
    const { state, w } = cluster({ w1: 1, w2: 1, w3: 1 });
    expect(decideWorker(state, dependent("y", [{ nbytes: 8, on: [w("w3")] }]))).toBe(w("w3"));
    expect(decideWorker(state, dependent("y", [{ nbytes: 8, on: [w("w1")] }]))).toBe(w("w1"));
  });

  test("a task with inputs runs on a worker that holds some of them, even when another is idle", () => {
    const { state, w } = cluster({ w1: 1, w2: 1 });
    recordDuration(state, "y", 0.1);
    load(state, w("w1"), 3, 30);
    expect(decideWorker(state, dependent("y", [{ nbytes: 8, on: [w("w1")] }]))).toBe(w("w1"));
  });

  test("among the holders, load decides when the inputs are small", () => {
    const { state, w } = cluster({ w1: 1, w2: 1, w3: 1 });
    load(state, w("w1"), 1, 0.5);
    expect(decideWorker(state, dependent("y", [{ nbytes: 8, on: [w("w1"), w("w2")] }]))).toBe(w("w2"));
  });

  test("among the holders, bytes to move decide when they cost more than the load difference", () => {
    const { state, w } = cluster({ w1: 1, w2: 1 });
    load(state, w("w1"), 1, 0.5);
    // w2 would have to fetch 100 MB (about 1 s at the assumed 100 MB/s); w1 is busy for 0.5 s.
    const y = dependent("y", [
      { nbytes: 100e6, on: [w("w1")] },
      { nbytes: 8, on: [w("w2")] },
    ]);
    expect(decideWorker(state, y)).toBe(w("w1"));
  });

  test("inputs on several workers: the one that needs the fewest bytes moved wins", () => {
    const { state, w } = cluster({ w1: 1, w2: 1, w3: 1, w4: 1 });
    const y = dependent("y", [
      { nbytes: 10e6, on: [w("w1")] },
      { nbytes: 30e6, on: [w("w2")] },
      { nbytes: 1e6, on: [w("w1"), w("w3")] },
    ]);
    expect(decideWorker(state, y)).toBe(w("w2"));
  });

  test("an exact tie goes to the worker with fewer tasks", () => {
    const { state, w } = cluster({ w1: 1, w2: 2 });
    load(state, w("w1"), 3, 0.5); // 0.5 s per thread
    load(state, w("w2"), 1, 1); // 0.5 s per thread, one task
    expect(decideWorker(state, dependent("y", [{ nbytes: 8, on: [w("w1"), w("w2")] }]))).toBe(w("w2"));
  });

  test("restrictions come first: with no allowed holder, the task still runs on an allowed worker", () => {
    const { state, w } = cluster({ w1: 1, w2: 1 });
    const y = restrict(dependent("y", [{ nbytes: 100e6, on: [w("w1")] }]), ["w2"]);
    expect(decideWorker(state, y)).toBe(w("w2"));
  });
});

describe("takeFromQueue", () => {
  function queue(state: SchedulerState, tasks: TaskState[]): void {
    for (const ts of tasks) {
      ts.status = "queued";
      state.queued.add(ts);
    }
  }

  test("takes the highest priority first, up to saturation, and leaves everything in the queue", () => {
    const { state, w } = cluster({ w1: 1 });
    const tasks = [root("r-0"), root("r-1"), root("hi-0", 5), root("r-2")];
    queue(state, tasks);
    expect(takeFromQueue(state, w("w1")).map((ts) => ts.key)).toEqual(["hi-0", "r-0"]);
    // The transition to processing takes them out; until then the queue and the statuses agree.
    expect(state.queued.size).toBe(4);
    expect(state.queued.peek()?.key).toBe("hi-0");
  });

  test("counts what the worker already runs", () => {
    const { state, w } = cluster({ w1: 2 });
    load(state, w("w1"), 3, 1.5);
    queue(state, [root("r-0"), root("r-1")]);
    expect(takeFromQueue(state, w("w1")).map((ts) => ts.key)).toEqual(["r-0"]);
    load(state, w("w1"), 4, 2);
    expect(takeFromQueue(state, w("w1"))).toEqual([]);
  });

  test("fast tasks: keeps taking until the estimated work also reaches saturationSeconds", () => {
    const { state, w } = cluster({ w1: 1 });
    recordDuration(state, "r", 1 / 64); // 4 of them make 0.0625 s ≥ 0.05 s
    queue(
      state,
      Array.from({ length: 10 }, (_, i) => root(`r-${i}`)),
    );
    expect(takeFromQueue(state, w("w1"))).toHaveLength(4);
  });

  test("skips tasks restricted to other workers and leaves them queued in order", () => {
    const { state, w } = cluster({ w1: 1, w2: 1 });
    queue(state, [restrict(root("pinned-0", 9), ["w2"]), root("r-0"), restrict(root("pinned-1", 9), ["w2"]), root("r-1"), root("r-2")]);
    expect(takeFromQueue(state, w("w1")).map((ts) => ts.key)).toEqual(["r-0", "r-1"]);
    expect(takeFromQueue(state, w("w2")).map((ts) => ts.key)).toEqual(["pinned-0", "pinned-1"]);
    expect(state.queued.size).toBe(5);
  });

  test("a closing worker takes nothing", () => {
    const { state, w } = cluster({ w1: 1 });
    queue(state, [root("r-0")]);
    w("w1").status = "closing";
    expect(takeFromQueue(state, w("w1"))).toEqual([]);
  });
});
