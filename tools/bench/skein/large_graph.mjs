// A 1 000 000-task delayed graph (500 000 leaves, then pairwise sums to one) on a standalone
// scheduler with 2 workers: one compute(), the result checked, the scheduler's peak RSS.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { delayed } from "@skein/core";
import { check, now, round, startStandalone } from "./common.mjs";

export const description = "delayed graph: leaves + pairwise sums, one compute()";
export const figures = {
  tasks_per_s: { better: "higher", unit: "tasks/s" },
  scheduler_peak_mb: { better: "lower", unit: "MB" },
};
// budgetS: stop waiting for the result after this long and report the tasks done so far (completed: false).
export const params = { full: { leaves: 500_000, budgetS: 300 }, quick: { leaves: 10_000, budgetS: 60 } };
export const timeoutS = { full: 1000, quick: 120 };
export const maxRepeat = 1; // a capability test, and long: one run whatever --repeat says

const inc = delayed((x) => x + 1);
const add = delayed((a, b) => a + b);
const NOT_DONE = ["waiting", "queued", "processing", "no-worker"];

/** Leaves, then pairwise sums (an odd one out goes up a level as is): 2 × leaves − 1 tasks. */
async function graph(leaves) {
  let level = [];
  // Building is the user's code: it gives the event loop a turn now and then, so any long block
  // measured below is Skein's own (compute() and sending the graph).
  for (let i = 0; i < leaves; i++) {
    level.push(inc(i));
    if (i % 10_000 === 9_999) await yieldToLoop();
  }
  let tasks = leaves;
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) {
      next.push(add(level[i], level[i + 1]));
      if (i % 20_000 === 19_998) await yieldToLoop();
    }
    if (level.length % 2) next.push(level[level.length - 1]);
    tasks += level.length >> 1;
    level = next;
  }
  return { root: level[0], tasks };
}

export async function run({ leaves, budgetS }) {
  const s = await startStandalone({ workers: 2 });
  const curve = [];
  const t0 = now();
  const sampler = setInterval(() => curve.push([Math.round((now() - t0) / 1000), Math.round(s.rss().rss / 1e6)]), 1000);
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  const shownCurve = () => curve.filter((_, i) => i % Math.max(1, Math.ceil(curve.length / 40)) === 0).map(([t, mb]) => `${t}s:${mb}`).join(" ");
  try {
    const { client } = s;
    const warm = await graph(16);
    check((await client.compute(warm.root).result()) === (16 * 17) / 2, "warm-up graph");

    const b0 = now();
    const { root, tasks } = await graph(leaves);
    const buildS = (now() - b0) / 1000;
    loopDelay.enable();
    const c0 = now();
    const future = client.compute(root);
    let timer;
    const budget = new Promise((resolve) => (timer = setTimeout(resolve, budgetS * 1000, "budget")));
    const total = await Promise.race([future.result(), budget]).catch((error) => {
      const at = ((now() - c0) / 1000).toFixed(1);
      error.message += ` — ${at} s into compute() of ${tasks} tasks; this process's event loop was blocked for up to ${(loopDelay.max / 1e6).toFixed(0)} ms; scheduler RSS (s:MB) ${shownCurve()}`;
      throw error;
    });
    clearTimeout(timer);
    const computeS = (now() - c0) / 1000;
    const { peak } = s.rss();
    const details = {
      build_s: round(buildS),
      client_peak_mb: round(process.resourceUsage().maxRSS / 1e3),
      client_max_block_ms: round(loopDelay.max / 1e6),
      tasks,
      rss_curve: shownCurve(),
    };
    if (total === "budget") {
      const { tasks: states } = await client.identity();
      const left = NOT_DONE.reduce((n, state) => n + (states[state] ?? 0), 0);
      return { tasks_per_s: round((tasks - left) / computeS), scheduler_peak_mb: round(peak / 1e6), completed: false, tasks_done: tasks - left, compute_s: round(computeS), states: JSON.stringify(states), ...details };
    }
    const expected = (leaves * (leaves + 1)) / 2;
    check(total === expected, `graph sum ${total}, expected ${expected}`);
    check(tasks === 2 * leaves - 1, `${tasks} tasks`);
    return { tasks_per_s: round(tasks / computeS), scheduler_peak_mb: round(peak / 1e6), completed: true, compute_s: round(computeS), ...details };
  } finally {
    clearInterval(sampler);
    loopDelay.disable();
    await s.close();
  }
}
