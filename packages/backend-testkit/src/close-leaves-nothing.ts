/** After close(): no job in the backend's status, no process of the cluster left on this host. */
import { describe, expect, it } from "vitest";
import type { ConformanceContext } from "./harness.js";

export function closeTests(ctx: ConformanceContext & { report(): Promise<void> }): void {
  describe("Cluster.close", () => {
    it("leaves no job and no worker process", async ({ onTestFailed }) => {
      onTestFailed(() => ctx.report());
      const backend = await ctx.backend();
      const cluster = await ctx.startCluster({ cores: 1, processes: 1 });
      await cluster.scale(2);
      await cluster.waitForWorkers(2, { timeout: ctx.options.stateChangeTimeoutMs });
      const ids = cluster.jobs.map((j) => j.id);
      if (ctx.options.jobsRunOnThisHost) expect(ctx.processesLeft().length).toBeGreaterThan(0);
      await cluster.close();
      const states = await backend.status(ids);
      expect(ids.map((id) => states.get(id)?.state)).toEqual(ids.map(() => "exited"));
      await ctx.until(() => `no process of the cluster left (still: ${ctx.processesLeft().join(", ")})`, () => ctx.processesLeft().length === 0);
    }, ctx.options.testTimeoutMs);

    it("cancels jobs that are still queued", async ({ onTestFailed, skip }) => {
      if (!ctx.options.createHoldingBackend) skip("no createHoldingBackend in the conformance options: this backend has no queue to hold a job in");
      onTestFailed(() => ctx.report());
      const backend = await ctx.holdingBackend();
      const cluster = await ctx.startCluster({ cores: 1, processes: 1 }, backend);
      await cluster.scale(1);
      const ids = cluster.jobs.map((j) => j.id);
      await ctx.waitForState(backend, ids[0] as (typeof ids)[number], ["queued"]);
      await cluster.close();
      const states = await backend.status(ids);
      expect(ids.map((id) => states.get(id)?.state)).toEqual(["exited"]);
    }, ctx.options.testTimeoutMs);
  });
}
