// Latency and throughput with 2 workers, then with 64 worker processes connected (same cluster, same run).
import { check, median, now, round, withSkein } from "./common.mjs";

export const description = "latency and throughput at 64 workers vs 2";
export const figures = {
  latency_ratio: { better: "lower", unit: "×" },
  median_ms: { better: "lower", unit: "ms" },
  tasks_per_s: { better: "higher", unit: "tasks/s" },
};
export const params = {
  full: { workers: 64, trips: 300, tasks: 10_000, startTimeoutS: 300 },
  quick: { workers: 8, trips: 50, tasks: 2_000, startTimeoutS: 120 },
};

export const maxRepeat = 1; // 64 worker processes per system on 2 cores: once is enough, and long

const inc = (x) => x + 1;

async function measure(client, trips, tasks) {
  const times = [];
  for (let i = 0; i < 20 + trips; i++) {
    const t0 = now();
    const future = client.submit(inc, i);
    const result = await future.result();
    const dt = now() - t0;
    future.release();
    check(result === i + 1, `inc(${i}) gave ${result}`);
    if (i >= 20) times.push(dt);
  }
  const inputs = Array.from({ length: tasks }, (_, i) => i);
  const t0 = now();
  const results = await client.gather(client.map(inc, inputs));
  const wall = (now() - t0) / 1000;
  results.forEach((r, i) => check(r === i + 1, `inc(${i}) gave ${r}`));
  return { median_ms: median(times), tasks_per_s: tasks / wall };
}

export async function run({ workers, trips, tasks, startTimeoutS }) {
  return withSkein(async (client, { cluster }) => {
    const few = await measure(client, trips, tasks);
    const t0 = now();
    await cluster.scale(workers);
    await cluster.waitForWorkers(workers, { timeout: startTimeoutS * 1000 });
    await client.waitForWorkers(workers, { timeout: 30_000 });
    const startS = (now() - t0) / 1000;
    const identity = await client.identity();
    check(identity.workers.length === workers, `${identity.workers.length} workers connected, expected ${workers}`);
    const many = await measure(client, trips, tasks);
    return {
      latency_ratio: round(many.median_ms / few.median_ms),
      median_ms: round(many.median_ms),
      tasks_per_s: round(many.tasks_per_s),
      median_ms_2: round(few.median_ms),
      tasks_per_s_2: round(few.tasks_per_s),
      throughput_ratio: round(many.tasks_per_s / few.tasks_per_s),
      workers,
      start_s: round(startS),
    };
  });
}
