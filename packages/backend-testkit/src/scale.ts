/** Cluster.scale up and down through this backend, with a real scheduler and real workers. */
import { describe, expect, it } from "vitest";
import { Client } from "@skein/core";
import type { ConformanceContext } from "./harness.js";

export function scaleTests(ctx: ConformanceContext & { report(): Promise<void> }): void {
  describe("Cluster.scale", () => {
    it("scale(2) starts two jobs whose workers connect and compute; scale(1) cancels one", async ({ onTestFailed }) => {
      onTestFailed(() => ctx.report());
      const cluster = await ctx.startCluster({ cores: 1, processes: 1 });
      await cluster.scale(2);
      expect(cluster.jobs.filter((j) => j.state.state !== "exited")).toHaveLength(2);
      await cluster.waitForWorkers(2, { timeout: ctx.options.stateChangeTimeoutMs });
      const jobsOfWorkers = new Set(cluster.workers.map((w) => w.jobId));
      expect(jobsOfWorkers.size).toBe(2);
      expect(jobsOfWorkers).toEqual(new Set(cluster.jobs.map((j) => j.id)));

      const client = await Client.connect(cluster);
      try {
        const total = await client.submit((x: number) => x + 1, 41).result();
        expect(total).toBe(42);
      } finally {
        await client.close();
      }

      await cluster.scale(1);
      await ctx.until(
        () => `one live job and one worker (jobs: ${JSON.stringify(cluster.jobs.map((j) => [j.id, j.state.state]))}, workers: ${cluster.workers.length})`,
        () => cluster.jobs.filter((j) => j.state.state !== "exited").length === 1 && cluster.workers.length === 1,
      );
    }, ctx.options.testTimeoutMs);
  });
}
