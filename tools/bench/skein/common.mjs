// Shared by the Skein benchmarks: a real local cluster, timing and result checks.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Client, createCluster } from "@skein/core";

export const WORKERS = 2;

/**
 * A local cluster of `workers` worker processes × 1 thread, the scheduler in this process, without
 * its dashboard (Dask's LocalCluster runs with `dashboard_address=None`, like for like).
 */
export async function startSkein({ workers = WORKERS } = {}) {
  const cluster = await createCluster({ backend: "local", dashboard: false });
  try {
    await cluster.scale(workers);
    await cluster.waitForWorkers(workers, { timeout: 30_000 });
    const client = await Client.connect(cluster);
    return {
      cluster,
      client,
      async close() {
        await client.close();
        await cluster.close();
      },
    };
  } catch (error) {
    await cluster.close().catch(() => undefined);
    throw error;
  }
}

/** Run `body(client)` on a fresh cluster and always close it. */
export async function withSkein(body, options) {
  const skein = await startSkein(options);
  try {
    return await body(skein.client, skein);
  } finally {
    await skein.close();
  }
}

export const now = () => performance.now();

/** Throw (and so fail the benchmark loudly) when a result is wrong. */
export function check(ok, message) {
  if (!ok) throw new Error(`wrong result: ${message}`);
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nearest-rank percentile, p in [0, 100]. */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export const round = (x, digits = 3) => Number(x.toPrecision(digits + 1));

// --- a standalone scheduler (`skein scheduler`), for figures measured in the scheduler's own process ---

const CLI = join(dirname(createRequire(import.meta.url).resolve("@skein/cli/package.json")), "dist/cli.js");

/** Resident and peak resident set size of process `pid` in bytes (Linux /proc). */
export function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

/**
 * `skein scheduler --port 0 --no-dashboard` in its own process (the dashboard is off: Dask's is too),
 * and optionally `skein worker <address> --nworkers N --nthreads 1` next to it. Resolves once it listens.
 */
export async function startStandalone({ workers = 0 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "skein-bench-"));
  const secretFile = join(dir, "secret");
  // BENCH_SCHEDULER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the scheduler (written when it exits).
  const nodeArgs = (process.env.BENCH_SCHEDULER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const scheduler = spawn(process.execPath, [...nodeArgs, CLI, "scheduler", "--port", "0", "--no-dashboard", "--secret-file", secretFile], { stdio: ["ignore", "pipe", "inherit"] });
  const children = [scheduler];
  const close = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const address = await new Promise((resolve, reject) => {
      let out = "";
      scheduler.once("exit", (code) => reject(new Error(`skein scheduler exited with ${code} before listening: ${out}`)));
      scheduler.stdout.on("data", (d) => {
        out += d;
        const m = /listening on (ws:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
    });
    scheduler.stdout.resume();
    const secret = readFileSync(secretFile, "utf8").trim();
    if (workers > 0) {
      const worker = spawn(process.execPath, [CLI, "worker", address, "--nworkers", String(workers), "--nthreads", "1"], {
        env: { ...process.env, SKEIN_SECRET_FILE: secretFile },
        stdio: ["ignore", "ignore", "inherit"],
      });
      children.push(worker);
    }
    const client = await Client.connect(address, { secret });
    if (workers > 0) await client.waitForWorkers(workers, { timeout: 60_000 });
    return { address, pid: scheduler.pid, client, rss: () => rssOf(scheduler.pid), close: async () => (await client.close(), await close()) };
  } catch (error) {
    await close();
    throw error;
  }
}
