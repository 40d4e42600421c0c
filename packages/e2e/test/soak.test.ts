/**
 * Soak: a bounded run (SKEIN_SOAK_SECONDS, default 40 s) on 2 workers while worker processes are
 * killed at random (kill -9). Every result must be right, nothing may be left running, and the
 * figures are printed. The random seed is printed too, to replay a failure.
 */
import { afterAll, describe, expect, it } from "vitest";
import { Client, createCluster, type Cluster } from "@skein/core";
import { expectNoProcessesLeft, until } from "./helpers.js";

const SECONDS = Number(process.env.SKEIN_SOAK_SECONDS ?? 40);
const SEED = Number(process.env.SKEIN_SOAK_SEED ?? Date.now() % 1_000_000);

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let cluster: Cluster | undefined;
let client: Client | undefined;
afterAll(async () => {
  await client?.close();
  await cluster?.close();
  await expectNoProcessesLeft();
});

describe("soak", () => {
  it(`${SECONDS} s of chained work on 2 workers with random kill -9: every result right`, async () => {
    const rand = random(SEED);
    cluster = await createCluster({ backend: "local" }, { env: {}, userConfigDir: "/nonexistent" });
    await cluster.scale(2);
    await cluster.waitForWorkers(2, { timeout: 30_000 });
    client = await Client.connect(cluster);
    const figures = { seed: SEED, seconds: SECONDS, rounds: 0, tasks: 0, resultsChecked: 0, workersKilled: 0, wrong: 0, errors: [] as string[] };
    const deadline = Date.now() + SECONDS * 1000;

    let killing = true;
    // The supervisor gives up on a slot after 5 crashes in a minute (a worker that keeps dying is
    // broken); stay under that, as random real-world failures would.
    const killsBySlot = new Map<string, number[]>();
    const killer = (async () => {
      while (killing) {
        await new Promise((r) => setTimeout(r, 1500 + rand() * 3000));
        if (!killing) break;
        const now = Date.now();
        const workers = [...(cluster as Cluster).scheduler.state.workers.values()].filter(
          (w) => (killsBySlot.get(w.name) ?? []).filter((t) => now - t < 60_000).length < 3,
        );
        const victim = workers[Math.floor(rand() * workers.length)];
        if (!victim || (cluster as Cluster).scheduler.state.workers.size < 2) continue;
        try {
          process.kill(victim.pid, "SIGKILL");
          figures.workersKilled++;
          killsBySlot.set(victim.name, [...(killsBySlot.get(victim.name) ?? []), now]);
        } catch {
          // Already gone.
        }
      }
    })();

    while (Date.now() < deadline) {
      const n = 20 + Math.floor(rand() * 80);
      const xs = Array.from({ length: n }, (_, i) => i + figures.rounds);
      const squares = client.map((x: number) => x * x, xs);
      const plusOne = client.map((x: number) => x + 1, squares);
      const total = client.submit((values: number[]) => values.reduce((a, b) => a + b, 0), plusOne);
      const expected = xs.reduce((sum, x) => sum + x * x + 1, 0);
      figures.tasks += 2 * n + 1;
      try {
        const [got, each] = await Promise.all([total.result({ timeout: 60_000 }), client.gather(plusOne)]);
        figures.resultsChecked += 1 + n;
        if (got !== expected) figures.wrong++;
        each.forEach((v, i) => {
          if (v !== (xs[i] as number) ** 2 + 1) figures.wrong++;
        });
      } catch (error) {
        figures.errors.push((error as Error).message.split("\n")[0] as string);
      }
      for (const f of [...squares, ...plusOne, total]) f.release();
      figures.rounds++;
    }
    killing = false;
    await killer;
    console.log(`[soak] ${JSON.stringify(figures)}`);
    expect(figures.wrong).toBe(0);
    expect(figures.errors).toEqual([]);
    expect(figures.workersKilled).toBeGreaterThan(0);
    expect(figures.rounds).toBeGreaterThan(3);
    // The supervisors restarted what was killed: the cluster is whole again.
    await until(() => (cluster as Cluster).workers.length === 2, { what: "2 workers after the soak", timeout: 30_000 });
  }, (SECONDS + 120) * 1000);
});
