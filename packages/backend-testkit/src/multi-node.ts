/**
 * A job on several nodes (`nodes` option, `multiNode` capability): the worker supervisor starts on
 * every node of the job, worker names are unique per node, and the cluster counts nodes × processes
 * workers per job. Opt-in (`multiNode: { nodes }`), since it needs a system with that many nodes.
 */
import { describe, expect, it } from "vitest";
import type { ConformanceContext } from "./harness.js";

export function multiNodeTests(ctx: ConformanceContext & { report(): Promise<void> }): void {
  describe("jobs on several nodes", () => {
    it("one job of N nodes × 2 processes brings 2N workers, named per node; close leaves nothing", async ({ onTestFailed, skip }) => {
      const nodes = ctx.options.multiNode?.nodes;
      if (nodes === undefined) skip("no multiNode in the conformance options: this system cannot run one job on several nodes");
      const backend = await ctx.backend();
      if (!backend.capabilities.multiNode) skip(`backend ${backend.name} lacks the "multiNode" capability`);
      onTestFailed(() => ctx.report());
      const n = nodes as number;
      const cluster = await ctx.startCluster({ name: "multinode", cores: 2, processes: 2, nodes: n }, backend);
      expect(cluster.workersPerJob).toBe(2 * n);
      await cluster.scale(2 * n);
      expect(cluster.jobs).toHaveLength(1);
      await cluster.waitForWorkers(2 * n, { timeout: ctx.options.stateChangeTimeoutMs });
      const [job] = cluster.jobs;
      const names = cluster.workers.map((w) => w.name).sort();
      // <name>-0-<node>-<i>: node indices 0..n-1, each with workers 0 and 1.
      expect(names).toEqual(Array.from({ length: n }, (_, node) => [`multinode-0-${node}-0`, `multinode-0-${node}-1`]).flat().sort());
      expect(new Set(cluster.workers.map((w) => w.jobId))).toEqual(new Set([job?.id]));
      const id = job?.id;
      await cluster.close();
      if (id) expect((await backend.status([id])).get(id)?.state).toBe("exited");
      await ctx.until(() => `no process of the job left (still: ${ctx.processesLeft().join(", ")})`, () => ctx.processesLeft().length === 0);
    }, ctx.options.testTimeoutMs);
  });
}
