/**
 * The reference scenario on Grid Engine: `backend: "sge"` with the user's options, `scale(48)` through
 * qsub (4 jobs of `-pe smp 12`), 48 workers, map/map/sum = -96, and no job left in qstat after close.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, expect, it } from "vitest";
import { Client, createCluster, type Cluster } from "@skein/core";
import { commandRecorder, describeOnGridEngine, processesWith, qstatJobs, SGE_QUEUE, until } from "./helpers.js";

describeOnGridEngine("the reference scenario through Grid Engine's qsub on the test cluster", () => {
  let cluster: Cluster | undefined;
  let client: Client | undefined;
  let recorder: ReturnType<typeof commandRecorder>;
  let dir: string;

  beforeAll(() => {
    recorder = commandRecorder();
    dir = mkdtempSync(join(tmpdir(), "skein-sge-reference-"));
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
        backend: "sge",
        name: "exDaskCluster",
        queue: SGE_QUEUE,
        shebang: "#!/bin/tcsh",
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
    expect(cluster.jobScript().split("\n").slice(0, 10)).toEqual([
      "#!/bin/tcsh",
      "#$ -N exDaskCluster",
      "#$ -S /bin/tcsh",
      "#$ -q all.q",
      "#$ -pe smp 12",
      "#$ -l h_rt=00:20:00",
      // 32·10^9 bytes over 12 slots, rounded up to whole 10^6 bytes; each process may map 12 × 2667m
      "#$ -l h_vmem=2667m",
      "#$ -j y",
      "# Skein job for cluster exDaskCluster. The worker reads the cluster secret from the file in SKEIN_SECRET_FILE.",
      expect.stringMatching(/^exec env SKEIN_SECRET_FILE=\S+ \S+ \S+ ws:\/\/\S+ --nworkers 12 --nthreads 1 --name exDaskCluster-0 .* --lifetime 1140 --lifetime-stagger 30$/),
    ]);

    await cluster.scale(48);
    expect(recorder.calls().filter((c) => c[0] === "qsub")).toHaveLength(4);
    const ids: string[] = cluster.jobs.map((j) => j.id);
    expect(qstatJobs().filter((j) => ids.includes(j.id)).map((j) => [j.name, j.slots])).toEqual(Array(4).fill(["exDaskCluster", "12"]));

    await cluster.waitForWorkers(48, { timeout: 150_000 });
    expect(cluster.workers).toHaveLength(48);
    expect(new Set(cluster.workers.map((w) => w.jobId))).toEqual(new Set(ids));
    expect(cluster.workers.every((w) => w.name.startsWith("exDaskCluster-"))).toBe(true);
    // qstat may still say t (transferring) for a moment after a job's script started.
    expect(qstatJobs().filter((j) => ids.includes(j.id)).map((j) => [j.name, j.state])).toEqual(Array(4).fill(["exDaskCluster", expect.stringMatching(/^[rt]$/)]));

    client = await Client.connect(cluster);
    const A = client.map((x: number) => x * 2, Array(48).fill(1));
    const B = client.map((x: number) => -x, A);
    const total = client.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), B);
    expect(await total.result()).toBe(-96);
    await client.close();
    client = undefined;

    const address = cluster.schedulerAddress;
    await cluster.close();
    // Grid Engine forgets a job as soon as it ends: nothing of this cluster is left in qstat.
    await until(() => `no exDaskCluster job in qstat (${JSON.stringify(qstatJobs())})`, () => !qstatJobs().some((j) => j.name === "exDaskCluster"), 30_000);
    await until(() => `no worker process of ${address} left`, () => processesWith(address).length === 0, 30_000);

    const calls = recorder.calls();
    expect(calls.filter((c) => c[0] === "qsub")).toHaveLength(4);
    // One qdel for all four jobs, once.
    expect(calls.filter((c) => c[0] === "qdel").map((c) => c.slice(1).sort())).toEqual([[...ids].sort()]);
    // Every status poll is one qstat -xml for all jobs.
    const polls = calls.filter((c) => c[0] === "qstat");
    expect(polls.length).toBeGreaterThan(0);
    for (const poll of polls) expect(poll.slice(1)).toEqual(["-xml"]);
    console.log(`reference scenario: ${calls.length} Grid Engine commands (4 qsub, ${polls.length} qstat, 1 qdel, ${calls.filter((c) => c[0] === "qacct").length} qacct)`);
  }, 300_000);
});
