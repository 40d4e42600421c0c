// 300 sequential submit → result round trips of a trivial task.
import { check, median, now, percentile, round, withSkein } from "./common.mjs";

export const description = "sequential submit → result round trips";
export const figures = {
  median_ms: { better: "lower", unit: "ms" },
  p99_ms: { better: "lower", unit: "ms" },
};
export const params = { full: { trips: 300, warmup: 20 }, quick: { trips: 50, warmup: 5 } };

const inc = (x) => x + 1;

export async function run({ trips, warmup }) {
  return withSkein(async (client) => {
    const times = [];
    for (let i = 0; i < warmup + trips; i++) {
      const t0 = now();
      // Hold the future until its result is in, then release it (as Dask does when a future is
      // dropped). Before eaf5f15 a Future collected while result() waited never settled (README, "Known issues").
      const future = client.submit(inc, i);
      const result = await future.result();
      const dt = now() - t0;
      future.release();
      check(result === i + 1, `inc(${i}) gave ${result}`);
      if (i >= warmup) times.push(dt);
    }
    return { median_ms: round(median(times)), p99_ms: round(percentile(times, 99)), min_ms: round(Math.min(...times)), trips };
  });
}
