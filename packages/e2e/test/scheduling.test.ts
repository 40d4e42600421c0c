/** Scheduling beyond placement: work stealing to idle workers, and abstract resources. */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { Client, createCluster, type Cluster } from "@skein/core";
import { expectNoProcessesLeft, TEST_MARK, until } from "./helpers.js";

let cluster: Cluster | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.close();
  await cluster?.close();
  client = undefined;
  cluster = undefined;
  await expectNoProcessesLeft();
});

async function start(workers: number) {
  cluster = await createCluster({ backend: "local" }, { env: {}, userConfigDir: "/nonexistent" });
  await cluster.scale(workers);
  await cluster.waitForWorkers(workers, { timeout: 30_000 });
  client = await Client.connect(cluster);
  return { cluster, client };
}

const pidOf = (c: Cluster, name: string) => [...c.scheduler.state.workers.values()].find((w) => w.name === name)?.pid;

describe("work stealing", () => {
  it("moves queued tasks from a busy worker to an idle one, running each exactly once", async () => {
    const { cluster, client } = await start(2);
    const log = join(mkdtempSync(join(tmpdir(), "skein-steal-")), "runs.log");
    // The input lives on skein-0-0 only, so placement puts every task there first.
    const input = await client.scatter({ weight: 2 }, { workers: "skein-0-0" });
    const slowWork = async (data: { weight: number }, i: number, file: string) => {
      const { appendFileSync } = await import("node:fs");
      appendFileSync(file, `${i}\n`);
      await new Promise((r) => setTimeout(r, 400));
      return { i: i * data.weight, pid: process.pid };
    };
    const results = await client.gather(
      client.map(
        slowWork,
        Array(8).fill(input),
        Array.from({ length: 8 }, (_, i) => i),
        Array(8).fill(log),
      ),
    );
    expect(results.map((r) => r.i)).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
    expect(new Set(results.map((r) => r.pid))).toEqual(new Set([pidOf(cluster, "skein-0-0"), pidOf(cluster, "skein-1-0")]));
    const runs = readFileSync(log, "utf8").trim().split("\n");
    expect(runs.sort()).toEqual(["0", "1", "2", "3", "4", "5", "6", "7"]);
  });

  it("a worker that joins later takes queued work from the busy one, each task still run once", async () => {
    const { cluster, client } = await start(1);
    const log = join(mkdtempSync(join(tmpdir(), "skein-steal-new-")), "runs.log");
    const slowWork = async (i: number, file: string) => {
      const { appendFileSync } = await import("node:fs");
      appendFileSync(file, `${i}\n`);
      await new Promise((r) => setTimeout(r, 500));
      return process.pid;
    };
    const futures = client.map(slowWork, [0, 1, 2, 3, 4, 5, 6, 7], Array(8).fill(log));
    // Every task is placed (on the only worker, or queued for it) before the second one exists.
    await until(() => [...cluster.scheduler.state.workers.values()][0]!.processing.size > 0 && cluster.scheduler.state.tasks.size >= 8, { what: "tasks running on skein-0-0" });
    await cluster.scale(2);
    const pids = await client.gather(futures);
    expect(new Set(pids)).toEqual(new Set([pidOf(cluster, "skein-0-0"), pidOf(cluster, "skein-1-0")]));
    expect(readFileSync(log, "utf8").trim().split("\n").sort()).toEqual(["0", "1", "2", "3", "4", "5", "6", "7"]);
  });

  it("leaves short tasks where their inputs are", async () => {
    const { cluster, client } = await start(2);
    const input = await client.scatter([1, 2, 3], { workers: "skein-0-0" });
    const pids = await client.gather(client.map((x: number) => ({ x, pid: process.pid }), input));
    expect(new Set(pids.map((p) => p.pid))).toEqual(new Set([pidOf(cluster, "skein-0-0")]));
  });
});

describe("resources", () => {
  it("run tasks only on workers that offer them, and never more at once than offered", async () => {
    const { cluster, client } = await start(1);
    const bin = fileURLToPath(new URL("../../worker/dist/bin.js", import.meta.url));
    const gpuWorker = spawn(process.execPath, [bin, cluster.schedulerAddress, "--name", "gpu", "--nthreads", "2", "--resources", "GPU=1"], {
      env: { ...process.env, SKEIN_SECRET: cluster.secret, SKEIN_TEST_MARK: TEST_MARK },
      stdio: "ignore",
    });
    try {
      await cluster.waitForWorkers(2, { timeout: 30_000 });
      const onGpu = client.with({ resources: { GPU: 1 } }).map(
        async (i: number) => {
          const start = Date.now();
          await new Promise((r) => setTimeout(r, 150));
          return { i, pid: process.pid, start, end: Date.now() };
        },
        [1, 2, 3, 4],
      );
      const runs = await client.gather(onGpu);
      expect(new Set(runs.map((r) => r.pid))).toEqual(new Set([pidOf(cluster, "gpu-0")]));
      // One GPU: the runs never overlap, although the worker has two threads.
      const ordered = [...runs].sort((a, b) => a.start - b.start);
      for (let k = 1; k < ordered.length; k++) expect(ordered[k]!.start).toBeGreaterThanOrEqual(ordered[k - 1]!.end);

      const tooBig = client.with({ resources: { GPU: 2 } }).submit(() => "never");
      await until(() => cluster.scheduler.state.tasks.get(tooBig.key)?.status === "no-worker", { what: "the task waiting for a worker with 2 GPUs" });
      expect(tooBig.status).toBe("pending");
      await client.cancel(tooBig);
    } finally {
      gpuWorker.kill("SIGTERM");
    }
  });
});
