// The reference scenario (map 48, map 48, sum): cold start, warm runs, shutdown.
import { check, median, now, round, startSkein } from "./common.mjs";

export const description = "map 48 → map 48 → sum: cold start, warm runs, shutdown";
export const figures = {
  cold_s: { better: "lower", unit: "s" },
  warm_s: { better: "lower", unit: "s" },
  shutdown_s: { better: "lower", unit: "s" },
};
export const params = { full: { n: 48, warm: 20 }, quick: { n: 48, warm: 5 } };

const multiply = (x) => x * 2;
const neg = (x) => -x;
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

async function chain(client, n) {
  const A = client.map(multiply, Array(n).fill(1));
  const B = client.map(neg, A);
  const total = client.submit(sum, B);
  const result = await total.result();
  check(result === -2 * n, `seed chain gave ${result}, expected ${-2 * n}`);
  total.release();
}

export async function run({ n, warm }) {
  // Cold: cluster start (scheduler + 2 worker processes) to the first result.
  const t0 = now();
  const skein = await startSkein();
  let closed = false;
  try {
    await chain(skein.client, n);
    const cold = (now() - t0) / 1000;

    const warmTimes = [];
    for (let i = 0; i < warm; i++) {
      const t = now();
      await chain(skein.client, n);
      warmTimes.push((now() - t) / 1000);
    }

    const t1 = now();
    closed = true;
    await skein.close();
    const shutdown = (now() - t1) / 1000;
    return { cold_s: round(cold), warm_s: round(median(warmTimes)), shutdown_s: round(shutdown), warm_runs: warm };
  } finally {
    if (!closed) await skein.close();
  }
}
