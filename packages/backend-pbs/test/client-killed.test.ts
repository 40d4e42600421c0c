/**
 * The user's process is killed with -9 in the middle of a computation: no exit hook runs, nothing
 * calls qdel. The scheduler died with it, so every worker loses its connection and leaves; each
 * job's supervisor then ends, and with it the job. Nothing is left in the batch system or on the
 * node. (Queued jobs that never started are the job ledger's business: job-ledger.test.ts.)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { asJobId, type JobId } from "@skein/core";
import { pbsBackend } from "../src/index.js";
import { describeOnTestCluster, squeueNames, until } from "./helpers.js";

const coreDist = fileURLToPath(new URL("../../core/dist/index.js", import.meta.url));

describeOnTestCluster("kill -9 of the client in the middle of a computation", () => {
  let dir: string;
  const backend = pbsBackend();
  let ids: JobId[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skein-pbs-kill9-"));
  });
  let child: ReturnType<typeof spawn> | undefined;
  afterEach(() => {
    // A failed assertion must not leave the client running.
    child?.kill("SIGKILL");
    child = undefined;
  });
  afterEach(async () => {
    await backend.cancel(ids);
    ids = [];
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("ends every running job by itself: the workers leave when the scheduler is gone", async () => {
    const script = join(dir, "killed.mjs");
    writeFileSync(
      script,
      `import { Client, createCluster } from ${JSON.stringify(coreDist)};
const cluster = await createCluster({ backend: "pbs", name: "killed9", cores: 2, processes: 2, interface: "lo", sharedDirectory: ${JSON.stringify(dir)} }, { cwd: ${JSON.stringify(dir)}, env: {}, userConfigDir: ${JSON.stringify(join(dir, "none"))} });
await cluster.scale(4);
await cluster.waitForWorkers(4, { timeout: 60_000 });
const client = await Client.connect(cluster);
const slow = client.map((i) => new Promise((resolve) => setTimeout(() => resolve(i), 500)), Array.from({ length: 200 }, (_, i) => i));
await slow[0].result();
console.log(JSON.stringify(cluster.jobs.map((j) => j.id)));
await client.gather(slow);
`,
    );
    // Its own state directory: the killed client leaves its ledger behind, by design (job-ledger.test.ts).
    child = spawn(process.execPath, [script], { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SKEIN_STATE_DIR: join(dir, "state") } });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    const line = await until(() => `the job ids, with tasks running (stderr: ${stderr})`, () => stdout.split("\n").find((l) => l.startsWith("[")), 90_000);
    ids = (JSON.parse(line) as string[]).map(asJobId);
    expect(ids).toHaveLength(2);
    const before = await backend.status(ids);
    expect(ids.map((id) => before.get(id)?.state)).toEqual(["running", "running"]);

    // Two supervisors (their --name is on the command line), four worker processes (theirs is in SKEIN_WORKER_OPTIONS).
    expect(skeinProcessesOf("killed9-")).toHaveLength(6);
    const exited = new Promise((resolve) => child?.on("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    const killedAt = Date.now();
    await until(
      () => "the jobs to end by themselves",
      async () => {
        const states = await backend.status(ids);
        return ids.every((id) => states.get(id)?.state === "exited");
      },
      60_000,
    );
    const jobsLeft = squeueNames().filter((name) => name.includes("killed9")).length;
    const workersLeft = skeinProcessesOf("killed9-").length;
    console.log(`[kill-9] ${JSON.stringify({ jobs: ids.length, secondsToEnd: (Date.now() - killedAt) / 1000, jobsLeft, workerProcessesLeft: workersLeft })}`);
    expect(jobsLeft).toBe(0);
    expect(workersLeft).toBe(0);
  }, 180_000);
});

/** Processes with `text` in their command line or their environment. */
function skeinProcessesOf(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "latin1");
      const environ = readFileSync(`/proc/${entry}/environ`, "latin1");
      if (cmdline.includes(text) || environ.includes(text)) pids.push(Number(entry));
    } catch {
      // Ended while we looked.
    }
  }
  return pids;
}
