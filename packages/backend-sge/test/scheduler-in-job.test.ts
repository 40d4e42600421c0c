/**
 * `scheduler: { inJob: true }` on Grid Engine: the scheduler runs in a job of its own (`skein
 * scheduler --scheduler-file`), workers and clients find it through the file, the reference
 * computation gives -96, and close() leaves no job of either kind in qstat and no process.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, expect, it } from "vitest";
import { Client, createCluster, type Cluster } from "@skein/core";
import { describeOnGridEngine, processesWith, qstatJobs, SGE_BIN, SGE_QUEUE, until } from "./helpers.js";

describeOnGridEngine("the scheduler in a Grid Engine job", () => {
  let cluster: Cluster | undefined;
  let clients: Client[] = [];
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skein-sge-scheduler-job-"));
  });

  afterEach(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    clients = [];
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("submits the scheduler's job, connects through the file, computes -96 on 2 worker jobs, and close leaves nothing", async () => {
    cluster = await createCluster(
      { backend: "sge", name: "sgesched", queue: SGE_QUEUE, binDir: SGE_BIN, cores: 2, processes: 2, interface: "lo", memoryResource: false, sharedDirectory: dir, scheduler: { inJob: true } },
      { cwd: dir, env: {}, userConfigDir: join(dir, "no-user-config") },
    );
    const { id: schedulerJobId, schedulerFile } = cluster.schedulerJob as NonNullable<Cluster["schedulerJob"]>;
    expect(statSync(schedulerFile).mode & 0o777).toBe(0o600);
    const written = JSON.parse(readFileSync(schedulerFile, "utf8")) as { address: string; pid: number };
    expect(written.address).toBe(cluster.schedulerAddress);
    expect(written.pid).not.toBe(process.pid);
    // qstat may still say t (transferring) for a moment after the job's script started.
    expect(qstatJobs().find((j) => j.id === schedulerJobId)).toMatchObject({ name: "sgesched-scheduler", state: expect.stringMatching(/^[rt]$/) });
    expect(cluster.jobScript()).toContain(`--scheduler-file ${schedulerFile}`);

    await cluster.scale(4);
    const ids = cluster.jobs.map((j) => j.id);
    expect(ids).toHaveLength(2);
    await cluster.waitForWorkers(4, { timeout: 90_000 });
    const client = await Client.connect(cluster);
    clients.push(client);
    const A = client.map((x: number) => x * 2, Array(48).fill(1));
    const B = client.map((x: number) => -x, A);
    expect(await client.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), B).result()).toBe(-96);
    const viaFile = await Client.connectSchedulerFile(schedulerFile);
    clients.push(viaFile);
    expect((await viaFile.identity()).workers).toHaveLength(4);

    const address = cluster.schedulerAddress;
    for (const c of clients) await c.close();
    clients = [];
    await cluster.close();
    cluster = undefined;
    await until(() => `no sgesched job in qstat (${JSON.stringify(qstatJobs())})`, () => !qstatJobs().some((j) => j.name.startsWith("sgesched")), 30_000);
    await until(() => `no process of ${address} left`, () => processesWith(address).length === 0 && processesWith(schedulerFile).length === 0, 30_000);
  }, 240_000);
});
