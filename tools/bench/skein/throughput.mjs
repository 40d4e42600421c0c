// 20 000 independent trivial tasks: map + gather on a running cluster.
import { check, now, round, withSkein } from "./common.mjs";

export const description = "independent trivial tasks, map + gather";
export const figures = { tasks_per_s: { better: "higher", unit: "tasks/s" } };
export const params = { full: { tasks: 20_000, warmup: 200 }, quick: { tasks: 2_000, warmup: 50 } };

const inc = (x) => x + 1;

export async function run({ tasks, warmup }) {
  return withSkein(async (client) => {
    const range = (n) => Array.from({ length: n }, (_, i) => i);
    check((await client.gather(client.map(inc, range(warmup)))).length === warmup, "warm-up");

    const inputs = range(tasks);
    const t0 = now();
    const futures = client.map(inc, inputs);
    const results = await client.gather(futures);
    const wall = (now() - t0) / 1000;

    check(results.length === tasks, `${results.length} results for ${tasks} tasks`);
    results.forEach((r, i) => check(r === i + 1, `inc(${i}) gave ${r}`));
    return { tasks_per_s: round(tasks / wall), tasks, wall_s: round(wall) };
  });
}
