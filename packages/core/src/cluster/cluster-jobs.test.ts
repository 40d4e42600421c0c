/**
 * Cluster's bookkeeping of job arrays and multi-node jobs, against a fake backend that records what
 * it is asked (the real batch systems are exercised in the backends' integration tests).
 */
import { afterEach, describe, expect, it } from "vitest";
import { asJobId, type ClusterBackend, type JobId, type JobSpec, type JobState, type SubmittedArray } from "./backend.js";
import { Cluster } from "./cluster.js";
import { resolveClusterSettings, type ClusterOptions } from "./cluster-options.js";

interface Fake extends ClusterBackend {
  readonly submitted: JobSpec[];
  readonly arrays: (JobSpec & { arraySize: number })[];
  readonly cancelled: JobId[][];
}

function fakeBackend(options: { arrays?: boolean; multiNode?: boolean; nodesPerJob?: number } = {}): Fake {
  let next = 100;
  const states = new Map<JobId, JobState>();
  const submitted: JobSpec[] = [];
  const arrays: (JobSpec & { arraySize: number })[] = [];
  const cancelled: JobId[][] = [];
  return {
    name: "fake",
    // Not remote: no secret file or job ledger in the home directory.
    capabilities: { walltime: false, logs: false, remoteWorkers: false, arrays: options.arrays ?? true, multiNode: options.multiNode ?? true },
    defaultPollIntervalSeconds: 3600,
    ...(options.nodesPerJob !== undefined ? { nodesPerJob: options.nodesPerJob } : {}),
    submitted,
    arrays,
    cancelled,
    jobScript: () => "#!/bin/sh\n",
    async submit(job) {
      submitted.push(job);
      const id = asJobId(String(next++));
      states.set(id, { state: "queued" });
      return id;
    },
    ...(options.arrays === false
      ? {}
      : {
          async submitArray(job: JobSpec & { arraySize: number }): Promise<SubmittedArray> {
            arrays.push(job);
            const id = asJobId(String(next++));
            const elements = Array.from({ length: job.arraySize }, (_, i) => asJobId(`${id}_${i + 1}`));
            for (const element of elements) states.set(element, { state: "queued" });
            return { id, elements };
          },
        }),
    async status(ids) {
      return new Map(ids.map((id) => [id, states.get(id) ?? { state: "exited", exitCode: null }]));
    },
    async cancel(ids) {
      cancelled.push([...ids]);
      for (const id of ids) states.set(id, { state: "exited", exitCode: null, reason: "cancelled" });
    },
  };
}

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const start = async (backend: ClusterBackend, options: ClusterOptions) => {
  cluster = await Cluster.start(backend, resolveClusterSettings({ dashboard: false, workerCommand: ["/usr/bin/node", "/w/bin.js"], ...options }));
  return cluster;
};

describe("job arrays", () => {
  it("scale(n) submits ONE array of ceil(n / processes) elements, one job record per element", async () => {
    const backend = fakeBackend();
    const c = await start(backend, { name: "arr", cores: 2, processes: 2, jobArrays: true });
    await c.scale(5);
    expect(backend.submitted).toEqual([]);
    expect(backend.arrays.map((j) => j.arraySize)).toEqual([3]);
    expect(backend.arrays[0]?.workerArgs).toContain("arr-0");
    expect(c.jobs.map((j) => [j.id, j.arrayId, j.workerPrefix])).toEqual([
      ["100_1", "100", "arr-0-1"],
      ["100_2", "100", "arr-0-2"],
      ["100_3", "100", "arr-0-3"],
    ]);
  });

  it("scale-down cancels elements (newest first); scale-up beyond the array submits another array; one missing job is a plain job", async () => {
    const backend = fakeBackend();
    const c = await start(backend, { name: "arr", jobArrays: true });
    await c.scale(4);
    await c.scale(2);
    expect(backend.cancelled).toEqual([["100_4", "100_3"]]);
    // Cancelled jobs stay listed until the batch system reports them gone.
    const kept = () => c.jobs.filter((j) => !backend.cancelled.flat().includes(j.id));
    expect(kept().map((j) => j.id)).toEqual(["100_1", "100_2"]);
    await c.scale(5);
    expect(backend.arrays.map((j) => j.arraySize)).toEqual([4, 3]);
    expect(kept().map((j) => j.workerPrefix)).toEqual(["arr-0-1", "arr-0-2", "arr-1-1", "arr-1-2", "arr-1-3"]);
    await c.scale(6);
    expect(backend.submitted).toHaveLength(1);
    expect(kept().at(-1)).toMatchObject({ id: "102", workerPrefix: "arr-2" });
    expect(kept().at(-1)?.arrayId).toBeUndefined();
  });

  it("close cancels every element", async () => {
    const backend = fakeBackend();
    const c = await start(backend, { jobArrays: true });
    await c.scale(3);
    cluster = undefined;
    await c.close();
    expect(backend.cancelled.flat().sort()).toEqual(["100_1", "100_2", "100_3"]);
  });

  it("is refused on a backend without arrays", async () => {
    await expect(start(fakeBackend({ arrays: false }), { jobArrays: true })).rejects.toThrow(/jobArrays: backend fake has no job arrays/);
  });
});

describe("jobs on several nodes", () => {
  it("count nodes × processes workers per job", async () => {
    const backend = fakeBackend();
    const c = await start(backend, { cores: 4, processes: 2, nodes: 2 });
    expect(c.workersPerJob).toBe(4);
    await c.scale(9);
    expect(backend.submitted).toHaveLength(3);
    expect(backend.submitted.map((j) => j.nodes)).toEqual([2, 2, 2]);
  });

  it("take the node count from the backend's resource request, and refuse a contradicting nodes option", async () => {
    const c = await start(fakeBackend({ nodesPerJob: 2 }), { processes: 1 });
    expect(c.workersPerJob).toBe(2);
    await c.close();
    cluster = undefined;
    await expect(start(fakeBackend({ nodesPerJob: 2 }), { nodes: 3 })).rejects.toThrow(/"nodes" is 3, but backend fake's resource request asks for 2 nodes/);
    await expect(start(fakeBackend({ multiNode: false }), { nodes: 2 })).rejects.toThrow(/cannot start workers on 2 nodes/);
  });
});

describe("scheduler in a job", () => {
  it("needs a batch backend", async () => {
    await expect(start(fakeBackend(), { scheduler: { inJob: true } })).rejects.toThrow(/needs a batch backend/);
  });
});
