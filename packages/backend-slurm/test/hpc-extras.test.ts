/**
 * HPC extras on the test cluster through sbatch/squeue/scancel: a site launcher in front of the
 * worker (`workerLauncher`), and the network preflight (workers that cannot reach the scheduler are
 * reported within seconds, from their job's output), and what waitForWorkers shows while it waits
 * (queued jobs with Slurm's reason), and the scheduler in a job of its own. Job arrays and multi-node jobs run in the
 * conformance suite (test/conformance.test.ts).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { PassThrough } from "node:stream";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Client, Cluster, SKEIN_ERROR_CODES, createCluster, resolveClusterSettings, type ClusterBackend, type CreateClusterOptions, type JobSpec } from "@skein/core";
import { requireService, slurm, until } from "@skein/backend-testkit";
import { slurmBackend } from "../src/index.js";

const gate = requireService(slurm);
if (gate.skip) console.warn(gate.reason);

/** Names and step ids of this user's jobs Slurm still has (pending, running, completing). */
function squeue(format: string, extra: string[] = []): string[] {
  return execFileSync("squeue", ["--noheader", `--format=${format}`, ...extra], { encoding: "utf8" }).split("\n").filter(Boolean);
}


describe.skipIf(gate.skip)("slurm: launcher and network preflight on the test cluster", () => {
  let dir: string;
  const clusters: Cluster[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skein-slurm-extras-"));
  });
  afterEach(async () => {
    for (const cluster of clusters.splice(0)) await cluster.close();
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cluster = async (options: CreateClusterOptions): Promise<Cluster> => {
    const c = await createCluster({ backend: "slurm", partition: "batch", interface: "lo", sharedDirectory: dir, pollInterval: 1, ...options }, { cwd: dir, env: {}, userConfigDir: join(dir, "none") });
    clusters.push(c);
    return c;
  };

  it('workerLauncher: ["srun", "--ntasks=1"] runs the worker as a job step; it connects and computes; close leaves nothing', async () => {
    const c = await cluster({ name: "launched", cores: 2, processes: 2, workerLauncher: ["srun", "--ntasks=1"] });
    const line = c.jobScript().trimEnd().split("\n").at(-1) ?? "";
    expect(line).toMatch(/^exec env SKEIN_SECRET_FILE=\S+ srun --ntasks=1 \S+node \S+bin\.js ws:\/\//);
    await c.scale(2);
    const [job] = c.jobs;
    await c.waitForWorkers(2, { timeout: 60_000 });
    // srun made a step of the job: the workers run inside it.
    expect(squeue("%i", ["--steps", `--jobs=${job?.id}`])).toContain(`${job?.id}.0`);
    const client = await Client.connect(c);
    try {
      expect(await client.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), client.map((x: number) => -x * 2, Array(48).fill(1))).result()).toBe(-96);
    } finally {
      await client.close();
    }
    await c.close();
    expect(squeue("%j").filter((n) => n === "launched")).toEqual([]);
  }, 180_000);

  it("network preflight: workers that cannot reach the scheduler are reported within seconds, from the job's output, and their job is cancelled", async () => {
    const inner = slurmBackend({ partition: "batch" });
    // The workers are told to dial an address nobody listens on: what a wrong interface looks like.
    const unreachable: ClusterBackend = { ...inner, submit: (job: JobSpec) => inner.submit({ ...job, workerArgs: ["ws://127.0.0.1:9", ...job.workerArgs.slice(1)] }) };
    const c = await Cluster.start(unreachable, resolveClusterSettings({ name: "preflight", interface: "lo", sharedDirectory: dir, pollInterval: 1, deathTimeout: 120 }));
    clusters.push(c);
    await c.scale(1);
    const [job] = c.jobs;
    const started = Date.now();
    const error = await c.waitForWorkers(1, { timeout: 90_000 }).then(() => undefined, (e: unknown) => e as Error & { code?: string });
    // Long before the workers' 120 s death timeout.
    expect(Date.now() - started).toBeLessThan(45_000);
    expect(error?.code).toBe(SKEIN_ERROR_CODES.CONNECT_FAILED);
    expect(error?.message).toMatch(/job \S+ of cluster preflight runs, but its workers cannot reach the scheduler .*worker preflight-0-0 on \S+ \(address 127\.0\.0\.1 on interface lo\) cannot reach the scheduler at ws:\/\/127\.0\.0\.1:9/);
    await until(() => `job ${job?.id} gone`, () => !squeue("%i").includes(job?.id as string), 60_000);
  }, 180_000);

  it("waitForWorkers({ progress }) says what it waits for: a held job with Slurm's reason, then the worker connecting", async () => {
    const c = await cluster({ name: "held", cores: 1, processes: 1, jobExtraDirectives: ["--hold"] });
    await c.scale(1);
    const id = c.jobs[0]?.id as string;
    const out = new PassThrough();
    let text = "";
    out.on("data", (chunk: Buffer) => (text += chunk.toString()));
    const progress = { stream: out, mode: "lines", interval: 0 } as const;
    const error = await c.waitForWorkers(1, { timeout: 5000, progress }).then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(error?.code).toBe(SKEIN_ERROR_CODES.TIMEOUT);
    expect(text).toContain(`[skein] waiting: 0 of 1 worker connected · jobs: 1 queued (JobHeldUser: ${id})\n`);
    expect(text).toMatch(new RegExp(`\\[skein\\] gave up waiting after \\d+\\.\\d s: 0 of 1 worker connected · jobs: 1 queued \\(JobHeldUser: ${id}\\)\n$`));

    text = "";
    execFileSync("scontrol", ["release", id]);
    await c.waitForWorkers(1, { timeout: 60_000, progress });
    expect(text).toMatch(/\[skein\] 1 of 1 worker connected after \d+\.\d s\n$/);
    await c.close();
    expect(squeue("%j").filter((n) => n === "held")).toEqual([]);
  }, 120_000);

  it("scheduler: { inJob: true }: sbatch runs the scheduler, workers and clients find it through the file, -96, and close leaves no job", async () => {
    const c = await cluster({ name: "slsched", cores: 2, processes: 2, scheduler: { inJob: true } });
    const { id: schedulerJobId, schedulerFile } = c.schedulerJob as NonNullable<Cluster["schedulerJob"]>;
    expect(statSync(schedulerFile).mode & 0o777).toBe(0o600);
    expect((JSON.parse(readFileSync(schedulerFile, "utf8")) as { address: string }).address).toBe(c.schedulerAddress);
    expect(squeue("%i %j %T")).toContain(`${schedulerJobId} slsched-scheduler RUNNING`);
    expect(c.jobScript()).toContain(`--scheduler-file ${schedulerFile}`);
    await c.scale(4);
    await c.waitForWorkers(4, { timeout: 90_000 });
    const client = await Client.connect(c);
    try {
      const A = client.map((x: number) => x * 2, Array(48).fill(1));
      expect(await client.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), client.map((x: number) => -x, A)).result()).toBe(-96);
    } finally {
      await client.close();
    }
    await c.close();
    await until(() => `no slsched job in squeue (${squeue("%i %j %T").join("; ")})`, () => squeue("%j").every((n) => !n.startsWith("slsched")), 60_000);
  }, 240_000);
});
