/**
 * Paused workers (memory above the pause threshold, issue 5): they get no new tasks, keep the ones
 * they have, still hold and serve their results, and take work again once they resume. Engine
 * tests with `validate: true`, like engine.test.ts.
 */
import { describe, expect, test } from "vitest";
import { addressOf, computes, ops, Sim, task, workerIdOf, type Sent } from "./test-helpers.js";

function sim(workers: string[] = [], config: ConstructorParameters<typeof Sim>[0] = {}): Sim {
  const h = new Sim(config);
  h.addClient("c1");
  for (const w of workers) h.addWorker(w);
  return h;
}

function setStatus(h: Sim, worker: string, status: "running" | "paused"): Sent[] {
  return h.apply({ type: "worker-status-changed", workerId: workerIdOf(worker), status, stimulusId: h.nextStimulus("worker-status") });
}

const roots = (n: number, prefix = "r") => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe("a paused worker", () => {
  test("gets no root tasks; they go to running workers, and queue when those are full", () => {
    const h = sim(["w1", "w2"]);
    expect(setStatus(h, "w1", "paused")).toEqual([]);
    expect(h.worker("w1").status).toBe("paused");
    const keys = roots(5);
    const sent = h.submit(keys.map((k) => task(k)), keys);
    expect(computes(sent)).toEqual([
      ["w2", "r-0"],
      ["w2", "r-1"],
    ]);
    expect(h.state.queued.size).toBe(3);
    // A finished task makes room on w2 only.
    expect(computes(h.finish("r-0"))).toEqual([["w2", "r-2"]]);
  });

  test("takes queued root tasks again once it resumes", () => {
    const h = sim(["w1", "w2"]);
    setStatus(h, "w1", "paused");
    const keys = roots(6);
    h.submit(keys.map((k) => task(k)), keys);
    expect(h.state.queued.size).toBe(4);
    expect(computes(setStatus(h, "w1", "running"))).toEqual([
      ["w1", "r-2"],
      ["w1", "r-3"],
    ]);
    expect(h.worker("w1").status).toBe("running");
    h.runAll();
    expect(keys.map((k) => h.status(k))).toEqual(keys.map(() => "memory"));
  });

  test("keeps the tasks it was already sent: nothing is cancelled, moved or sent again", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("x-1", [], { workers: ["w1"] }), task("x-2", [], { workers: ["w1"] })], ["x-1", "x-2"]);
    expect(h.processingOn("x-1")).toBe("w1");
    expect(setStatus(h, "w1", "paused")).toEqual([]);
    expect([h.processingOn("x-1"), h.processingOn("x-2")]).toEqual(["w1", "w1"]);
    // Its results are accepted as usual while it is paused.
    const done = h.finish("x-1");
    expect(ops(done, "key-in-memory")).toHaveLength(1);
    expect(h.whoHas("x-1")).toEqual(["w1"]);
  });

  test("still counts as a holder of its results, but a dependent runs on a running worker and fetches from it", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("x-1", [], { workers: ["w1"] })], ["x-1"]);
    h.finish("x-1", { nbytes: 1e9 });
    setStatus(h, "w1", "paused");
    expect(h.whoHas("x-1")).toEqual(["w1"]);
    const sent = h.submit([task("y-1", ["x-1"])], ["y-1"]);
    expect(computes(sent)).toEqual([["w2", "y-1"]]);
    const compute = sent.find((s) => "worker" in s && s.msg.op === "compute-task");
    expect(compute?.msg).toMatchObject({ deps: [{ key: "x-1", whoHas: [addressOf("w1")] }] });
  });

  test("when every worker is paused, new tasks wait for one to resume", () => {
    const h = sim(["w1", "w2"]);
    setStatus(h, "w1", "paused");
    setStatus(h, "w2", "paused");
    expect(computes(h.submit([task("r-0")], ["r-0"]))).toEqual([]);
    expect(h.status("r-0")).toBe("no-worker");
    expect(computes(setStatus(h, "w2", "running"))).toEqual([["w2", "r-0"]]);
  });

  test("a task restricted to it waits in no-worker until it resumes; allowOtherWorkers runs elsewhere", () => {
    const h = sim(["w1", "w2"]);
    setStatus(h, "w1", "paused");
    h.submit([task("pinned-1", [], { workers: ["w1"] }), task("loose-1", [], { workers: ["w1"], allowOtherWorkers: true })], ["pinned-1", "loose-1"]);
    expect(h.status("pinned-1")).toBe("no-worker");
    expect(h.processingOn("loose-1")).toBe("w2");
    expect(computes(setStatus(h, "w1", "running"))).toEqual([["w1", "pinned-1"]]);
  });

  test("repeated and unknown status messages change nothing", () => {
    const h = sim(["w1"]);
    setStatus(h, "w1", "paused");
    expect(setStatus(h, "w1", "paused")).toEqual([]);
    expect(h.worker("w1").status).toBe("paused");
    expect(h.apply({ type: "worker-status-changed", workerId: "id-nobody", status: "paused", stimulusId: "s-x" })).toEqual([]);
    // Running while already running: no tasks are invented.
    setStatus(h, "w1", "running");
    expect(setStatus(h, "w1", "running")).toEqual([]);
  });

  test("a worker told to close does not become running again when its monitor reports", () => {
    const h = sim(["w1", "w2"]);
    const sent = h.apply({ type: "workers-retiring", workerIds: [workerIdOf("w1")], reason: "scale down", force: false, stimulusId: "retire-1" });
    expect(ops(sent, "close-worker")).toHaveLength(1);
    expect(h.worker("w1").status).toBe("closing");
    setStatus(h, "w1", "running");
    expect(h.worker("w1").status).toBe("closing");
    const keys = roots(2);
    expect(computes(h.submit(keys.map((k) => task(k)), keys)).map(([w]) => w)).toEqual(["w2", "w2"]);
  });

  test("its tasks go back when it dies, counted like any death", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("x-1", [], { workers: ["w1"], allowOtherWorkers: true })], ["x-1"]);
    setStatus(h, "w1", "paused");
    const sent = h.removeWorker("w1", { reason: "connection lost" });
    expect(computes(sent)).toEqual([["w2", "x-1"]]);
    expect(h.task("x-1").suspicious).toEqual(["w1"]);
  });
});

describe("work stealing and paused workers", () => {
  /** Three unrestricted tasks of a prefix known to take 1 s (worth stealing), all on w1 while w2 is paused. */
  function busyW1WhileW2Paused(h: Sim): { keys: string[]; sent: Sent[] } {
    h.submit([task("slow-0", [], { workers: ["w1"] })], ["slow-0"]);
    h.finish("slow-0", { durationMs: 1000 });
    setStatus(h, "w2", "paused");
    const keys = ["slow-1", "slow-2", "slow-3"];
    const sent = h.submit(keys.map((k) => task(k)), keys);
    expect(keys.map((k) => h.processingOn(k))).toEqual(["w1", "w1", "w1"]);
    return { keys, sent };
  }

  test("a paused worker never steals; once running, it does", () => {
    const h = sim(["w1", "w2"], { saturationTasksPerThread: 3, workStealing: true });
    const { sent } = busyW1WhileW2Paused(h);
    expect(ops(sent, "steal-request")).toEqual([]);
    const resumed = setStatus(h, "w2", "running");
    expect(ops(resumed, "steal-request").length).toBeGreaterThan(0);
  });

  test("tasks waiting on a paused worker may be taken by a running one", () => {
    const h = sim(["w1", "w2"], { saturationTasksPerThread: 3, workStealing: true });
    busyW1WhileW2Paused(h);
    expect(ops(setStatus(h, "w1", "paused"), "steal-request")).toEqual([]);
    const steals = ops(setStatus(h, "w2", "running"), "steal-request");
    expect(steals.length).toBeGreaterThan(0);
    for (const s of steals) expect("worker" in s && s.worker).toBe("w1");
    for (const s of steals) {
      const key = (s.msg as { key: string }).key;
      // w1 gives it back (it had not started it while paused): it runs on w2.
      h.running.splice(
        h.running.findIndex((r) => r.worker === "w1" && r.key === key),
        1,
      );
      const moved = h.apply({ type: "steal-response", workerId: workerIdOf("w1"), key, stolen: true, stimulusId: h.nextStimulus("steal") });
      expect(computes(moved)).toEqual([["w2", key]]);
    }
  });
});
