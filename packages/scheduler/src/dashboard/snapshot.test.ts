import { describe, expect, it } from "vitest";
import { Sim, task, workerIdOf } from "../state/test-helpers.js";
import { buildSnapshot, jobRow, type SchedulerLoad } from "./snapshot.js";
import { TaskStream } from "./task-stream.js";

const NOW = 1_700_000_000_000;
const LOAD: SchedulerLoad = { eventLoopDelayMs: { p50: 1, p99: 4, max: 9 }, cpuPercent: 12.5, rssBytes: 80e6, heapUsedBytes: 30e6, uptimeSeconds: 42 };

/** Two workers; inc-1 done, inc-2 failed, inc-3 and double-1 running. */
function scenario() {
  const sim = new Sim();
  sim.addClient();
  sim.addWorker("w-10", { nthreads: 2 });
  sim.addWorker("w-2");
  sim.submit([task("inc-1"), task("inc-2"), task("inc-3"), task("double-1", ["inc-1"])], ["inc-1", "inc-2", "inc-3", "double-1"]);
  sim.finish("inc-1", { nbytes: 100 });
  sim.fail("inc-2");
  const w10 = sim.state.workers.get(workerIdOf("w-10"));
  if (!w10) throw new Error("no worker w-10");
  w10.metrics = { executing: 1, ready: 0, rss: 500e6 };
  w10.lastSeen = NOW - 1500;
  for (const ws of sim.state.workers.values()) if (ws !== w10) ws.lastSeen = NOW;
  return sim;
}

describe("buildSnapshot", () => {
  it("lists workers (sorted by name, numbers in order) with load, memory and data held", () => {
    const sim = scenario();
    const s = buildSnapshot({ state: sim.state, schedulerId: "scheduler-1", address: "ws://127.0.0.1:1", now: NOW, load: LOAD });
    expect(s.workers.map((w) => w.name)).toEqual(["w-2", "w-10"]);
    const w10 = s.workers.find((w) => w.name === "w-10");
    const holder = [...sim.state.workers.values()].find((ws) => [...ws.hasWhat].some((t) => t.key === "inc-1"));
    expect(w10).toMatchObject({ host: "w-10.test", status: "running", nthreads: 2, executing: 1, busyPercent: 50, rssBytes: 500e6, memoryLimitBytes: 2 ** 30, lastSeenSecondsAgo: 1.5 });
    expect(s.workers.reduce((n, w) => n + w.processing, 0)).toBe(2);
    expect(s.workers.find((w) => w.name === holder?.name)).toMatchObject({ inMemory: 1, nbytes: 100 });
    expect(s.totals).toEqual({
      tasks: { released: 0, waiting: 0, queued: 0, "no-worker": 0, processing: 2, memory: 1, erred: 1, forgotten: 0 },
      workers: { running: 2, paused: 0, "closing-gracefully": 0, closing: 0 },
      threads: 3,
      bytesHeld: 100,
      clients: 1,
    });
    expect(s.load).toBe(LOAD);
    expect(s.jobs).toBeUndefined();
  });

  it("counts each task group by state, in the order the groups arrived, with totals since the start", () => {
    const sim = scenario();
    const stream = new TaskStream();
    stream.record({ worker: "w-2", key: "inc-1", prefix: "inc", start: NOW - 10, stop: NOW - 5, ok: true });
    stream.record({ worker: "w-2", key: "inc-2", prefix: "inc", start: NOW - 10, stop: NOW - 4, ok: false });
    stream.record({ worker: "w-2", key: "old-1", prefix: "old", start: NOW - 99, stop: NOW - 90, ok: true });
    const s = buildSnapshot({ state: sim.state, schedulerId: "s", address: "a", now: NOW, load: LOAD, groupTotals: stream.groups });
    expect(s.groups.map((g) => [g.prefix, g.total, g.states.memory, g.states.processing, g.states.erred, g.finishedEver, g.erredEver])).toEqual([
      ["inc", 3, 1, 1, 1, 2, 1],
      ["double", 1, 0, 1, 0, 0, 0],
      // Its tasks are forgotten: it stays on the page with its totals.
      ["old", 0, 0, 0, 0, 1, 0],
    ]);
    const limited = buildSnapshot({ state: sim.state, schedulerId: "s", address: "a", now: NOW, load: LOAD, groupTotals: stream.groups, maxGroups: 1 });
    expect(limited.groups.map((g) => g.prefix)).toEqual(["inc"]);
    expect(limited.hiddenGroups).toBe(2);
  });

  it("shows the jobs a cluster reports, newest first, with queued and running times", () => {
    const sim = scenario();
    const jobs = [
      { id: "1.server", state: "running", host: "node1", submittedAt: NOW - 100_000, startedAt: NOW - 60_000, walltimeSeconds: 3600, workers: ["w-10"] },
      { id: "2.server", state: "queued", detail: "Resources", submittedAt: NOW - 30_000, workers: [] },
    ];
    const s = buildSnapshot({ state: sim.state, schedulerId: "s", address: "a", now: NOW, load: LOAD, jobs, jobLogs: true });
    expect(s.jobLogs).toBe(true);
    expect(s.jobs?.map((j) => j.id)).toEqual(["2.server", "1.server"]);
    expect(s.jobs?.[0]).toMatchObject({ state: "queued", detail: "Resources", queuedSeconds: 30 });
    expect(s.jobs?.[0]?.runningSeconds).toBeUndefined();
    expect(s.jobs?.[1]).toMatchObject({ queuedSeconds: 40, runningSeconds: 60, walltimeLeftSeconds: 3540, workers: ["w-10"] });
    expect(buildSnapshot({ state: sim.state, schedulerId: "s", address: "a", now: NOW, load: LOAD, jobs, maxJobs: 1 })).toMatchObject({ hiddenJobs: 1 });
    expect(buildSnapshot({ state: sim.state, schedulerId: "s", address: "a", now: NOW, load: LOAD, jobs: [] }).jobs).toEqual([]);
  });

  it("survives JSON, which is how the page receives it", () => {
    const sim = scenario();
    const s = buildSnapshot({ state: sim.state, schedulerId: "s", address: "a", now: NOW, load: LOAD, jobs: [] });
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});

describe("jobRow", () => {
  it("freezes the times of a job that ended and shows no walltime left", () => {
    const row = jobRow({ id: "7", state: "exited", detail: "exit code 0", submittedAt: 0, startedAt: 5_000, endedAt: 65_000, walltimeSeconds: 600, workers: [] }, 1_000_000);
    expect(row).toMatchObject({ queuedSeconds: 5, runningSeconds: 60 });
    expect(row.walltimeLeftSeconds).toBeUndefined();
  });

  it("never shows negative walltime left, nor any without an enforced walltime", () => {
    expect(jobRow({ id: "8", state: "running", submittedAt: 0, startedAt: 0, walltimeSeconds: 10, workers: [] }, 60_000).walltimeLeftSeconds).toBe(0);
    expect(jobRow({ id: "9", state: "running", submittedAt: 0, startedAt: 0, workers: [] }, 60_000).walltimeLeftSeconds).toBeUndefined();
  });

  it("counts a job that ended while queued as queued until it ended", () => {
    expect(jobRow({ id: "10", state: "exited", submittedAt: 0, endedAt: 20_000, workers: [] }, 99_000)).toMatchObject({ queuedSeconds: 20 });
  });
});
