/**
 * The reference scenario, for real: a PBS cluster with the user's options, `scale(48)` through
 * qsub, 48 workers connecting from 4 jobs, map/map/sum, and nothing left in the queue after close.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, expect, it } from "vitest";
import { Client, createCluster, type Cluster } from "@skein/core";
import { commandRecorder, describeOnTestCluster, processesWith, qstatJobs, squeueNames, until } from "./helpers.js";

describeOnTestCluster("the reference scenario through qsub on the test cluster", () => {
  let cluster: Cluster | undefined;
  let client: Client | undefined;
  let recorder: ReturnType<typeof commandRecorder>;
  let dir: string;

  beforeAll(() => {
    recorder = commandRecorder();
    dir = mkdtempSync(join(tmpdir(), "skein-reference-"));
  });

  afterEach(async () => {
    await client?.close().catch(() => undefined);
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
    recorder.remove();
  }, 120_000);

  it("scale(48) submits 4 jobs named exDaskCluster, 48 workers compute -96, and close leaves no job", async () => {
    cluster = await createCluster(
      {
        backend: "pbs",
        name: "exDaskCluster",
        shebang: "#!/bin/tcsh",
        resourceSpec: "nodes=1:c18a:ppn=12",
        walltime: "00:20:00",
        cores: 12,
        processes: 12,
        memory: "32GB",
        interface: "lo", // the user's is "ib0"; the test cluster has no InfiniBand
        // Test plumbing only: a recorder that execs the real commands, and a private shared directory.
        commands: recorder.commands,
        sharedDirectory: dir,
      },
      { cwd: dir, env: {}, userConfigDir: join(dir, "no-user-config") },
    );
    expect(cluster.jobScript().split("\n").slice(0, 6)).toEqual([
      "#!/bin/tcsh",
      "#PBS -N exDaskCluster",
      "#PBS -l nodes=1:c18a:ppn=12",
      "#PBS -l walltime=00:20:00",
      "#PBS -j oe",
      "# Skein job for cluster exDaskCluster. The worker reads the cluster secret from the file in SKEIN_SECRET_FILE.",
    ]);

    await cluster.scale(48);
    expect(recorder.calls().filter((c) => c[0] === "qsub")).toHaveLength(4);
    const ids: string[] = cluster.jobs.map((j) => j.id);
    expect(qstatJobs().filter((j) => ids.includes(j.id)).map((j) => j.name)).toEqual(Array(4).fill("exDaskCluster"));

    await cluster.waitForWorkers(48, { timeout: 150_000 });
    expect(cluster.workers).toHaveLength(48);
    expect(new Set(cluster.workers.map((w) => w.jobId))).toEqual(new Set(ids));
    expect(cluster.workers.every((w) => w.name.startsWith("exDaskCluster-"))).toBe(true);
    expect(qstatJobs().filter((j) => ids.includes(j.id)).map((j) => [j.name, j.state])).toEqual(Array(4).fill(["exDaskCluster", "R"]));

    client = await Client.connect(cluster);
    const A = client.map((x: number) => x * 2, Array(48).fill(1));
    const B = client.map((x: number) => -x, A);
    const total = client.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), B);
    expect(await total.result()).toBe(-96);
    await client.close();
    client = undefined;

    const address = cluster.schedulerAddress;
    await cluster.close();
    // Finished jobs stay listed as C for MinJobAge; nothing is queued, running or completing.
    expect(qstatJobs().filter((j) => ids.includes(j.id) && j.state !== "C")).toEqual([]);
    expect(squeueNames()).not.toContain("exDaskCluster");
    await until(() => `no worker process of ${address} left`, () => processesWith(address).length === 0, 30_000);

    const calls = recorder.calls();
    expect(calls.filter((c) => c[0] === "qsub")).toHaveLength(4);
    // One qdel for all four jobs, once.
    expect(calls.filter((c) => c[0] === "qdel").map((c) => c.slice(1).sort())).toEqual([[...ids].sort()]);
    // Every status poll asked about all live jobs in one qstat call.
    const polls = calls.filter((c) => c[0] === "qstat");
    expect(polls.length).toBeGreaterThan(0);
    for (const poll of polls) expect(poll.slice(2).sort()).toEqual([...ids].sort());
    console.log(`reference scenario: ${calls.length} batch commands (4 qsub, ${polls.length} qstat, 1 qdel)`);
  }, 300_000);
});
