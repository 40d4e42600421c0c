/**
 * Graph events on the state machine: fire-and-forget, retry, cycles and large graphs in one
 * update-graph. Same style as engine.test.ts: every Sim runs with `validate: true`, and checks
 * after every event that nothing unneeded is kept.
 */
import { SKEIN_ERROR_CODES } from "@skein/serialization";
import { describe, expect, test } from "vitest";
import { FIRE_AND_FORGET } from "./transitions/common.js";
import { addressOf, computes, ops, Sim, task, type Sent } from "./test-helpers.js";

const free = (worker: string, ...keys: string[]): Sent => ({ worker, msg: { op: "free-keys", keys } });
const inMemory = (client: string, key: string, holders: string[]): Sent => ({
  client,
  msg: { op: "key-in-memory", key, nbytes: 8, typeName: "number", whoHas: holders.map(addressOf) },
});
const protocol = (message: string) => ({ name: "SkeinError", code: SKEIN_ERROR_CODES.PROTOCOL, message });

function sim(workers: string[] = ["w1"]): Sim {
  const h = new Sim();
  h.addClient("c1");
  for (const w of workers) h.addWorker(w);
  return h;
}

function fireAndForget(h: Sim, keys: string[], client = "c1"): Sent[] {
  return h.apply({ type: "keys-fire-and-forget", clientId: `id-${client}`, keys, stimulusId: h.nextStimulus("fire-and-forget") });
}

function retry(h: Sim, keys: string[], client = "c1"): Sent[] {
  return h.apply({ type: "keys-retried", clientId: `id-${client}`, keys, stimulusId: h.nextStimulus("retry") });
}

describe("fire-and-forget", () => {
  test("the task runs to completion after its client left, then its result and inputs are freed", () => {
    const h = sim();
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["b-1"]);
    expect(fireAndForget(h, ["b-1"])).toEqual([]);
    expect(h.removeClient("c1")).toEqual([]);
    expect(h.statuses(["a-1", "b-1"])).toEqual({ "a-1": "processing", "b-1": "waiting" });
    expect(computes(h.finish("a-1"))).toEqual([["w1", "b-1"]]);
    expect(h.finish("b-1")).toEqual([free("w1", "a-1"), free("w1", "b-1")]);
    expect(h.state.tasks.size).toBe(0);
    expect(h.state.clients.get(FIRE_AND_FORGET)?.wants.size).toBe(0);
  });

  test("without fire-and-forget the same departure frees the work at once (the test above can fail)", () => {
    const h = sim();
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["b-1"]);
    expect(h.removeClient("c1")).toEqual([free("w1", "a-1")]);
    expect(h.state.tasks.size).toBe(0);
  });

  test("a fire-and-forget task that fails is let go: nobody is told, and it is forgotten", () => {
    const h = sim();
    h.submit([task("x-1")], ["x-1"]);
    fireAndForget(h, ["x-1"]);
    h.release(["x-1"]);
    expect(h.status("x-1")).toBe("processing");
    expect(h.fail("x-1")).toEqual([]);
    expect(h.status("x-1")).toBe("forgotten");
  });

  test("the client still hears about a key it holds; the holder lets go once it is done", () => {
    const h = sim();
    h.submit([task("x-1")], ["x-1"]);
    fireAndForget(h, ["x-1"]);
    expect(h.finish("x-1")).toEqual([inMemory("c1", "x-1", ["w1"])]);
    expect([...h.task("x-1").whoWants].map((c) => c.id)).toEqual(["id-c1"]);
    expect(h.release(["x-1"])).toEqual([free("w1", "x-1")]);
  });

  test("keys already done, or unknown, are not held", () => {
    const h = sim();
    h.submit([task("x-1")], ["x-1"]);
    h.finish("x-1");
    expect(fireAndForget(h, ["x-1", "nope-1"])).toEqual([]);
    expect(h.release(["x-1"])).toEqual([free("w1", "x-1")]);
    expect(h.state.tasks.size).toBe(0);
  });

  test("a plain cancel leaves a fire-and-forget task running; a forced one stops it and tells only real clients", () => {
    const h = sim();
    h.submit([task("x-1"), task("y-1")], ["x-1", "y-1"]);
    fireAndForget(h, ["x-1", "y-1"]);
    expect(h.cancel(["x-1"])).toEqual([{ client: "c1", msg: { op: "key-cancelled", key: "x-1", reason: "cancelled" } }]);
    expect(h.status("x-1")).toBe("processing");
    expect(h.cancel(["y-1"], { force: true })).toEqual([{ client: "c1", msg: { op: "key-cancelled", key: "y-1", reason: "cancelled (forced)" } }, free("w1", "y-1")]);
    expect(h.status("y-1")).toBe("forgotten");
  });

  test("events for a client the scheduler does not know change nothing", () => {
    const h = sim();
    h.submit([task("x-1")], ["x-1"]);
    expect(fireAndForget(h, ["x-1"], "ghost")).toEqual([]);
    expect(h.state.clients.has(FIRE_AND_FORGET)).toBe(false);
  });
});

describe("retry", () => {
  test("an erred task runs again with its retries renewed, and its client hears the new outcome", () => {
    const h = sim();
    h.submit([task("flaky-1", [], { retries: 1 })], ["flaky-1"]);
    h.fail("flaky-1");
    expect(ops(h.fail("flaky-1"), "key-erred")).toHaveLength(1);
    expect(h.task("flaky-1").retries).toBe(0);
    expect(computes(retry(h, ["flaky-1"]))).toEqual([["w1", "flaky-1"]]);
    expect(h.task("flaky-1").retries).toBe(1);
    expect(h.task("flaky-1").exception).toBeUndefined();
    expect(computes(h.fail("flaky-1"))).toEqual([["w1", "flaky-1"]]); // the renewed retry
    expect(h.finish("flaky-1")).toEqual([inMemory("c1", "flaky-1", ["w1"])]);
  });

  test("a dependent that failed by blame runs again with the dependency that failed", () => {
    const h = sim();
    h.submit([task("a-1"), task("b-1", ["a-1"]), task("c-1", ["b-1"])], ["c-1"]);
    h.fail("a-1");
    expect(h.statuses(["a-1", "b-1", "c-1"])).toEqual({ "a-1": "erred", "b-1": "erred", "c-1": "erred" });
    expect(computes(retry(h, ["c-1"]))).toEqual([["w1", "a-1"]]);
    expect(h.statuses(["a-1", "b-1", "c-1"])).toEqual({ "a-1": "processing", "b-1": "waiting", "c-1": "waiting" });
    expect(computes(h.finish("a-1"))).toEqual([["w1", "b-1"]]);
    expect(computes(h.finish("b-1"))).toEqual([["w1", "c-1"]]);
    expect(ops(h.finish("c-1"), "key-in-memory")).toEqual([inMemory("c1", "c-1", ["w1"])]);
  });

  test("a task that failed for a reason running cannot cure fails again at once, naming the same blame", () => {
    const h = sim();
    h.submit([task("y-1", ["gone-1"]), task("z-1", ["y-1"])], ["z-1"]);
    const sent = retry(h, ["z-1"]);
    expect(computes(sent)).toEqual([]);
    expect(sent).toEqual([{ client: "c1", msg: { op: "key-erred", key: "z-1", blame: "y-1", error: expect.objectContaining({ code: SKEIN_ERROR_CODES.PROTOCOL }) } }]);
    expect(h.statuses(["y-1", "z-1"])).toEqual({ "y-1": "erred", "z-1": "erred" });
    // Asking for the uncurable task itself repeats its error too.
    expect(ops(retry(h, ["y-1"]), "key-erred")).toEqual([
      { client: "c1", msg: { op: "key-erred", key: "y-1", blame: "y-1", error: expect.objectContaining({ code: SKEIN_ERROR_CODES.PROTOCOL }) } },
    ]);
  });

  test("keys that did not fail: in memory is announced again, pending is left alone, unknown is an error", () => {
    const h = sim();
    h.submit([task("m-1"), task("p-1", ["m-1"])], ["m-1", "p-1"]);
    h.finish("m-1");
    expect(retry(h, ["m-1", "p-1", "old-1"])).toEqual([
      inMemory("c1", "m-1", ["w1"]),
      { client: "c1", msg: { op: "key-erred", key: "old-1", blame: "old-1", error: protocol("key old-1 is unknown to the scheduler and cannot be retried: it was released") } },
    ]);
    expect(h.status("p-1")).toBe("processing");
  });

  test("a task failed by dying workers gets a fresh allowance", () => {
    const h = new Sim({ allowedFailures: 1 });
    h.addClient("c1");
    h.addWorker("w1");
    h.submit([task("boom-1")], ["boom-1"]);
    expect(ops(h.removeWorker("w1"), "key-erred")).toHaveLength(1);
    h.addWorker("w2");
    expect(computes(retry(h, ["boom-1"]))).toEqual([["w2", "boom-1"]]);
    expect(h.task("boom-1").suspicious).toBeUndefined();
  });
});

describe("cycles in a new graph", () => {
  test("tasks that depend on each other fail with an error naming them; nothing runs", () => {
    const h = sim();
    const sent = h.submit([task("a-1", ["b-1"]), task("b-1", ["a-1"]), task("c-1", ["a-1"])], ["c-1"]);
    const message =
      "task a-1 is part of a dependency cycle among a-1, b-1: tasks that wait for each other can never run. The graph used one key for two different tasks, or gave a task the key of one of its own inputs.";
    expect(sent).toEqual([{ client: "c1", msg: { op: "key-erred", key: "c-1", blame: "a-1", error: protocol(message) } }]);
    expect(h.statuses(["a-1", "b-1", "c-1"])).toEqual({ "a-1": "erred", "b-1": "forgotten", "c-1": "erred" });
    expect(h.worker("w1").processing.size).toBe(0);
    h.release(["c-1"]);
    expect(h.state.tasks.size).toBe(0);
  });

  test("every task of a longer cycle fails; a task outside it that only the cycle needed is dropped", () => {
    const h = sim();
    const sent = h.submit([task("x-1", ["y-1", "d-1"]), task("y-1", ["z-1"]), task("z-1", ["x-1"]), task("d-1")], ["x-1", "y-1", "z-1"]);
    expect(ops(sent, "key-erred").map((s) => (s.msg.op === "key-erred" ? [s.msg.key, s.msg.blame] : []))).toEqual([
      ["x-1", "x-1"],
      ["y-1", "y-1"],
      ["z-1", "z-1"],
    ]);
    expect(h.status("d-1")).toBe("forgotten");
    expect(computes(sent)).toEqual([]);
  });

  test("a graph without a cycle that reuses tasks of an earlier graph is not mistaken for one", () => {
    const h = sim();
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["b-1"]);
    const sent = h.submit([task("b-1", ["a-1"]), task("c-1", ["b-1", "a-1"])], ["c-1"]);
    expect(ops(sent, "key-erred")).toEqual([]);
    h.runAll();
    // a-1 is freed, and kept as a recipe while results built on it live.
    expect(h.statuses(["a-1", "b-1", "c-1"])).toEqual({ "a-1": "released", "b-1": "memory", "c-1": "memory" });
    expect(h.whoHas("b-1")).toEqual(["w1"]);
  });

  test("an inner task whose dependent already exists (and keeps its recipe) is dropped, not kept for good", () => {
    const h = sim();
    h.submit([task("out-1")], ["out-1"]);
    h.submit([task("in-1"), task("out-1", ["in-1"])], ["out-1"]);
    expect(h.status("in-1")).toBe("forgotten");
  });
});

describe("large graphs in one update-graph", () => {
  // The 10 000-task version runs on real processes (e2e graphs.test.ts): here every event also
  // validates the whole state, which makes a run quadratic in the number of tasks.
  test("a fan-out and fan-in of 2 002 tasks in one update-graph runs to the end", () => {
    const h = sim(["w1", "w2"]);
    const leaves = Array.from({ length: 1000 }, (_, i) => `leaf-${i}`);
    const tasks = [task("src-0"), ...leaves.map((k) => task(k, ["src-0"]))];
    // A tree of pairwise sums over the leaves.
    let level = leaves;
    let n = 0;
    while (level.length > 1) {
      const next: string[] = [];
      for (let i = 0; i < level.length; i += 2) {
        const key = `sum-${n++}`;
        tasks.push(task(key, level.slice(i, i + 2)));
        next.push(key);
      }
      level = next;
    }
    expect(tasks.length).toBe(2002);
    const root = level[0] as string;
    const first = computes(h.submit(tasks, [root]));
    const sent = h.runAll();
    expect(ops(sent, "key-in-memory")).toEqual([inMemory("c1", root, h.whoHas(root))]);
    // Every task ran once.
    expect(new Set([...first, ...computes(sent)].map(([, k]) => k)).size).toBe(2002);
    expect(first.length + computes(sent).length).toBe(2002);
    expect([...h.state.tasks.values()].filter((ts) => ts.status !== "released").map((ts) => ts.key)).toEqual([root]);
  });

  test("a cycle at the end of a 10 000-long chain is found without overflowing the stack", () => {
    const h = sim();
    const tasks = [task("link-0", ["link-9999"])];
    for (let i = 1; i < 10_000; i++) tasks.push(task(`link-${i}`, [`link-${i - 1}`]));
    const sent = h.submit(tasks, ["link-9999"]);
    expect(sent).toEqual([{ client: "c1", msg: { op: "key-erred", key: "link-9999", blame: "link-9999", error: expect.objectContaining({ code: SKEIN_ERROR_CODES.PROTOCOL }) } }]);
    expect(h.state.tasks.size).toBe(1);
  });

  test("cancelling the first task of a 10 000-long chain cancels the wanted end, without overflowing the stack", () => {
    const h = sim();
    const tasks = [task("link-0")];
    for (let i = 1; i < 10_000; i++) tasks.push(task(`link-${i}`, [`link-${i - 1}`]));
    h.submit(tasks, ["link-0", "link-9999"]);
    expect(h.cancel(["link-0"])).toEqual([
      { client: "c1", msg: { op: "key-cancelled", key: "link-0", reason: "cancelled" } },
      { client: "c1", msg: { op: "key-cancelled", key: "link-9999", reason: "its dependency link-9998 was cancelled" } },
      free("w1", "link-0"),
    ]);
    expect(h.state.tasks.size).toBe(0);
  });

  test("queued tasks run in the order they arrived in, a higher user priority first", () => {
    const h = sim();
    const keys = ["r-5", "r-4", "r-3", "r-2", "r-1", "r-0"];
    const sent = h.submit(
      keys.map((k) => task(k, [], { priority: k === "r-0" ? 1 : 0 })),
      keys,
    );
    expect(computes(sent)).toEqual([
      ["w1", "r-5"],
      ["w1", "r-4"],
    ]);
    expect(computes(h.runAll()).map(([, k]) => k)).toEqual(["r-0", "r-3", "r-2", "r-1"]);
  });
});
