// Shared by the Skein benchmarks: a real local cluster, timing and result checks.
import { Client, createCluster } from "@skein/core";

export const WORKERS = 2;

/** A local cluster of `workers` worker processes × 1 thread, the scheduler in this process. */
export async function startSkein({ workers = WORKERS } = {}) {
  const cluster = await createCluster({ backend: "local" });
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
