// 100 000 pending tasks and no workers: memory per task in the scheduler's own process.
import { check, now, round, rssOf, startStandalone } from "./common.mjs";

export const description = "pending tasks, no workers: scheduler RSS per task";
export const figures = { bytes_per_task: { better: "lower", unit: "B" } };
export const params = { full: { tasks: 100_000, warmup: 1000 }, quick: { tasks: 10_000, warmup: 100 } };

const inc = (x) => x + 1;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Wait until the scheduler knows `n` tasks, then until its RSS stops growing (5 samples 200 ms apart). */
async function settle(client, pid, n) {
  for (;;) {
    const { tasks } = await client.identity();
    const known = Object.values(tasks).reduce((a, b) => a + b, 0);
    if (known >= n) break;
    await sleep(100);
  }
  let last = rssOf(pid).rss;
  for (let stable = 0; stable < 5; ) {
    await sleep(200);
    const rss = rssOf(pid).rss;
    stable = rss > last ? 0 : stable + 1;
    last = Math.max(last, rss);
  }
  return rssOf(pid);
}

export async function run({ tasks, warmup }) {
  const s = await startStandalone({ workers: 0 });
  try {
    const { client, pid } = s;
    // Warm-up: the function is defined on the scheduler, the code paths are compiled and the heap has grown once.
    const warm = client.map(inc, Array.from({ length: warmup }, (_, i) => -1 - i));
    const before = await settle(client, pid, warmup);

    const t0 = now();
    const futures = client.map(inc, Array.from({ length: tasks }, (_, i) => i));
    const after = await settle(client, pid, warmup + tasks);
    const wall = (now() - t0) / 1000;

    const { tasks: states } = await client.identity();
    check(futures.length === tasks && warm.length === warmup, "futures");
    check(!futures.some((f) => f.done()), "a task finished with no workers");
    const total = Object.values(states).reduce((a, b) => a + b, 0);
    check(total === warmup + tasks, `the scheduler holds ${total} tasks, expected ${warmup + tasks}: ${JSON.stringify(states)}`);
    return {
      bytes_per_task: round((after.rss - before.rss) / tasks),
      rss_before_mb: round(before.rss / 1e6),
      rss_after_mb: round(after.rss / 1e6),
      peak_rss_mb: round(after.peak / 1e6),
      submit_s: round(wall),
      states: JSON.stringify(states),
      tasks,
    };
  } finally {
    await s.close();
  }
}
