/**
 * Job arrays, for backends with the `arrays` capability: one submission, one id per element, each
 * element watched, logged and cancelled on its own; and `Cluster` with `jobArrays: true` getting n
 * workers from one array and leaving nothing behind.
 */
import { describe, expect, it } from "vitest";
import { Client, type JobId } from "@skein/core";
import type { ConformanceContext } from "./harness.js";
import { ELEMENT_LINE, arrayElementReporter } from "./jobs.js";

export function arrayTests(ctx: ConformanceContext & { report(): Promise<void> }): void {
  describe("job arrays", () => {
    const needArrays = async (skip: (note: string) => void) => {
      const backend = await ctx.backend();
      if (!backend.capabilities.arrays || !backend.submitArray) skip(`backend ${backend.name} lacks the "arrays" capability`);
      return backend;
    };
    // Extra arguments the job script appends to the worker's (`--name-env …`) go after "--", where `node -e` ignores them.
    const elementJob = (ms: number) => ctx.jobSpec(arrayElementReporter(ms), { workerArgs: ["--"] });

    it("submitArray returns the array and one id per element; each element runs and writes its own output", async ({ onTestFailed, skip }) => {
      const backend = await needArrays(skip);
      onTestFailed(() => ctx.report());
      const { id, elements } = await ctx.submitArray(backend, { ...elementJob(2000), arraySize: 3 });
      expect(typeof id).toBe("string");
      expect(elements).toHaveLength(3);
      expect(new Set(elements).size).toBe(3);
      const states = await backend.status(elements);
      for (const element of elements) expect(["queued", "running", "exited"]).toContain(states.get(element)?.state);
      for (const element of elements) await ctx.waitForState(backend, element, ["exited"]);
      if (backend.capabilities.logs && backend.logs) {
        const logs = backend.logs.bind(backend);
        for (const [i, element] of elements.entries()) {
          const output = await ctx.until(`element ${element}'s output`, async () => ((await logs(element).catch(() => undefined))?.stdout.includes(ELEMENT_LINE) ? logs(element) : undefined), 10_000);
          expect(output.stdout).toContain(`${ELEMENT_LINE} ${i + 1}\n`);
        }
      }
    }, ctx.options.testTimeoutMs);

    it("cancels one element without touching the others, then the rest", async ({ onTestFailed, skip }) => {
      const backend = await needArrays(skip);
      onTestFailed(() => ctx.report());
      const { elements } = await ctx.submitArray(backend, { ...elementJob(300_000), arraySize: 3 });
      const [first, second, third] = elements as [JobId, JobId, JobId];
      for (const element of elements) await ctx.waitForState(backend, element, ["running"]);
      await backend.cancel([second]);
      await ctx.waitForState(backend, second, ["exited"]);
      const others = await backend.status([first, third]);
      expect([others.get(first)?.state, others.get(third)?.state]).toEqual(["running", "running"]);
      await backend.cancel([first, third]);
      await backend.cancel(elements);
      for (const element of elements) await ctx.waitForState(backend, element, ["exited"]);
      if (ctx.options.jobsRunOnThisHost) await ctx.until(() => `no process of the array left (still: ${ctx.processesLeft().join(", ")})`, () => ctx.processesLeft().length === 0);
    }, ctx.options.testTimeoutMs);

    it("Cluster with jobArrays: scale(3) is one array whose elements' workers connect and compute; scale(1) cancels two elements; close leaves nothing", async ({ onTestFailed, skip }) => {
      const backend = await needArrays(skip);
      onTestFailed(() => ctx.report());
      const cluster = await ctx.startCluster({ cores: 1, processes: 1, jobArrays: true }, backend);
      await cluster.scale(3);
      const jobs = cluster.jobs;
      expect(jobs).toHaveLength(3);
      expect(new Set(jobs.map((j) => j.arrayId)).size).toBe(1);
      expect(jobs[0]?.arrayId).toBeDefined();
      await cluster.waitForWorkers(3, { timeout: ctx.options.stateChangeTimeoutMs });
      // Worker names are unique per element: <name>-<index>-<element>-<i>.
      expect(new Set(cluster.workers.map((w) => w.name)).size).toBe(3);
      expect(new Set(cluster.workers.map((w) => w.jobId))).toEqual(new Set(jobs.map((j) => j.id)));
      const client = await Client.connect(cluster);
      try {
        const total = client.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), client.map((x: number) => x * 2, [1, 2, 3]));
        expect(await total.result()).toBe(12);
      } finally {
        await client.close();
      }
      await cluster.scale(1);
      await ctx.until(
        () => `one live element and one worker (jobs: ${JSON.stringify(cluster.jobs.map((j) => [j.id, j.state.state]))}, workers: ${cluster.workers.map((w) => w.name).join(", ")})`,
        () => cluster.jobs.length === 1 && cluster.workers.length === 1,
      );
      const ids = jobs.map((j) => j.id);
      await cluster.close();
      const states = await backend.status(ids);
      expect(ids.map((id) => states.get(id)?.state)).toEqual(ids.map(() => "exited"));
      await ctx.until(() => `no process of the cluster left (still: ${ctx.processesLeft().join(", ")})`, () => ctx.processesLeft().length === 0);
    }, ctx.options.testTimeoutMs);
  });
}
