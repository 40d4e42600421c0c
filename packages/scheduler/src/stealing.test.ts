import { describe, expect, test } from "vitest";
import { Sim, computes, ops, task, workerIdOf } from "./state/test-helpers.js";

/** Two workers with one thread each; `slow-*` tasks measured at `durationMs`, all placed on w1 through an input only w1 holds. */
function busyW1(durationMs: number) {
  const h = new Sim({ workStealing: true, saturationTasksPerThread: 5 });
  h.addClient();
  h.addWorker("w1");
  h.addWorker("w2");
  h.submit([task("input-0", [], { workers: ["w1"] })], ["input-0"]);
  h.finish("input-0");
  h.submit([task("slow-0", ["input-0"])], ["slow-0"]);
  h.finish("slow-0", { durationMs });
  const keys = ["slow-1", "slow-2", "slow-3", "slow-4"];
  const sent = h.submit(
    keys.map((k) => task(k, ["input-0"])),
    keys,
  );
  return { h, keys, sent };
}

describe("work stealing", () => {
  test("asks the busy worker for tasks waiting behind its thread, for the idle one", () => {
    const { h, keys, sent } = busyW1(1000);
    expect(keys.map((k) => h.processingOn(k))).toEqual(["w1", "w1", "w1", "w1"]);
    const steals = ops(sent, "steal-request");
    // w2 has one free thread: one request, for a task w1 will reach last.
    expect(steals).toHaveLength(1);
    expect(steals[0]).toMatchObject({ worker: "w1", msg: { op: "steal-request", key: "slow-4" } });
  });

  test("a stolen task runs on the thief; a refused one stays", () => {
    const { h } = busyW1(1000);
    h.running.splice(h.running.findIndex((r) => r.key === "slow-4"), 1);
    const moved = h.apply({ type: "steal-response", workerId: workerIdOf("w1"), key: "slow-4", stolen: true, stimulusId: h.nextStimulus("steal") });
    expect(computes(moved)).toEqual([["w2", "slow-4"]]);
    const refused = h.apply({ type: "steal-response", workerId: workerIdOf("w1"), key: "slow-3", stolen: false, stimulusId: h.nextStimulus("steal") });
    expect(computes(refused)).toEqual([]);
    expect(h.processingOn("slow-3")).toBe("w1");
  });

  test("leaves short tasks and never-measured ones where their inputs are", () => {
    expect(ops(busyW1(5).sent, "steal-request")).toEqual([]);
  });

  test("never steals tasks pinned to workers", () => {
    const h = new Sim({ workStealing: true, saturationTasksPerThread: 5 });
    h.addClient();
    h.addWorker("w1");
    h.addWorker("w2");
    h.submit([task("slow-0", [], { workers: ["w1"] })], ["slow-0"]);
    h.finish("slow-0", { durationMs: 1000 });
    const sent = h.submit(
      ["slow-1", "slow-2", "slow-3"].map((k) => task(k, [], { workers: ["w1"] })),
      ["slow-1", "slow-2", "slow-3"],
    );
    expect(ops(sent, "steal-request")).toEqual([]);
  });
});
