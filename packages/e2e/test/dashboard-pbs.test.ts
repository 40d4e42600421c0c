/**
 * The reference scenario on the test cluster (pbs backend: qsub through Slurm's Torque wrappers),
 * seen as its user sees it: waitForWorkers({ progress }) saying what it waits for, then the
 * dashboard in Chromium showing the batch jobs (ids, running, walltime left, output), the workers
 * and the multiply / neg / sum task groups. Screenshot: test-results/dashboard/dashboard-pbs.png.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { requireService, slurmTorqueWrappers } from "@skein/backend-testkit";
import { Client, createCluster, type Cluster, type Future } from "@skein/core";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTEFACTS, CHROMIUM, chromiumGate, LAUNCH_ARGS } from "./browser.js";
import { until } from "./helpers.js";

const browserGate = chromiumGate();
if (browserGate.reason) console.warn(browserGate.reason);
const pbsGate = requireService(slurmTorqueWrappers);
if (pbsGate.skip && "reason" in pbsGate) console.warn(pbsGate.reason);

const NAME = "dashpbs";
const squeueNames = () => execFileSync("squeue", ["--noheader", "--format=%j"], { encoding: "utf8" }).split("\n").filter((n) => n === NAME);

function multiply(x: number): number {
  return x * 2;
}
function neg(x: number): number {
  return -x;
}
function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

describe.skipIf(browserGate.skip || pbsGate.skip)("the reference scenario on the test cluster, watched", () => {
  let dir: string;
  let cluster: Cluster | undefined;
  let client: Client | undefined;
  let browser: Browser | undefined;
  let held: Future[] = [];
  let progressText = "";

  beforeAll(async () => {
    mkdirSync(ARTEFACTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), "skein-dashboard-pbs-"));
    cluster = await createCluster(
      { backend: "pbs", name: NAME, cores: 2, processes: 2, memory: "2GB", walltime: "00:30:00", interface: "lo", sharedDirectory: dir, pollInterval: 1 },
      { cwd: dir, env: {}, userConfigDir: join(dir, "no-user-config") },
    );
    const stream = new PassThrough();
    stream.on("data", (chunk: Buffer) => (progressText += chunk.toString()));
    await cluster.scale(4);
    await cluster.waitForWorkers(4, { timeout: 120_000, progress: { stream, mode: "lines", interval: 0 } });
    client = await Client.connect(cluster);
    const A = client.map(multiply, Array(48).fill(1));
    const B = client.map(neg, A);
    const total = client.submit(sum, B);
    expect(await total.result()).toBe(-96);
    held = [...A, ...B, total];
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, headless: true });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    held = [];
    await client?.close();
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
    await until(() => squeueNames().length === 0, { what: `no ${NAME} job in squeue`, timeout: 60_000 });
  }, 120_000);

  it("waitForWorkers({ progress }) named the two queued jobs, then said when all four workers were in", () => {
    const lines = progressText.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^\[skein\] waiting: 0 of 4 workers connected · jobs: 2 (queued|started)/);
    expect(lines.at(-1)).toMatch(/^\[skein\] 4 of 4 workers connected after \d+\.\d s$/);
  });

  it("the dashboard shows the PBS jobs with walltime left and output, the workers, and the task groups", async () => {
    const page = await (browser as Browser).newPage({ viewport: { width: 1440, height: 1100 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    const response = await page.goto(cluster?.dashboardLink as string);
    expect(response?.status()).toBe(200);
    await page.locator('#status[data-state="live"]').waitFor({ timeout: 15_000 });

    const jobs = cluster?.jobs ?? [];
    expect(jobs).toHaveLength(2);
    const jobRows = page.locator("#jobs tbody tr[data-job]");
    await expect.poll(() => jobRows.evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute("data-job")}:${tr.getAttribute("data-state")}`).sort())).toEqual(jobs.map((j) => `${j.id}:running`).sort());
    const first = jobRows.first();
    // pbs enforces the walltime: 30 minutes, minus the seconds it has run.
    expect(await first.locator("[data-cell=walltime]").textContent()).toMatch(/^(29|30) min \d\d s$/);
    expect(await first.locator("[data-cell=workers]").textContent()).toBe("2");
    await first.locator("details summary").click();
    await expect.poll(() => first.locator("details pre").textContent()).not.toBe("loading…");

    const workerRows = page.locator("#workers tbody tr[data-worker]");
    await expect.poll(() => workerRows.count()).toBe(4);
    const memoryOf = (group: string) => page.locator(`#groups [data-group="${group}"]`).getAttribute("data-memory");
    await expect.poll(() => memoryOf("multiply")).toBe("48");
    await expect.poll(() => memoryOf("neg")).toBe("48");
    await expect.poll(() => memoryOf("sum")).toBe("1");

    await page.screenshot({ path: join(ARTEFACTS, "dashboard-pbs.png"), fullPage: true });
    await page.close();
    expect(errors).toEqual([]);
  });
});
