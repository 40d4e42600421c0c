/** cancel a queued job, a running one, the same jobs twice, and an id the system never issued. */
import { describe, expect, it } from "vitest";
import type { JobId } from "@skein/core";
import type { ConformanceContext } from "./harness.js";
import { sleeper } from "./jobs.js";

export function cancelTests(ctx: ConformanceContext & { report(): Promise<void> }): void {
  describe("cancel", () => {
    it("cancels a queued job", async ({ onTestFailed, skip }) => {
      if (!ctx.options.createHoldingBackend) skip("no createHoldingBackend in the conformance options: this backend has no queue to hold a job in");
      onTestFailed(() => ctx.report());
      const backend = await ctx.holdingBackend();
      const id = await ctx.submit(backend, ctx.jobSpec(sleeper(120_000)));
      await ctx.waitForState(backend, id, ["queued"]);
      await backend.cancel([id]);
      const { seen } = await ctx.waitForState(backend, id, ["exited"]);
      expect(seen).not.toContain("running");
    }, ctx.options.testTimeoutMs);

    it("cancels a running job, and its processes end", async ({ onTestFailed }) => {
      onTestFailed(() => ctx.report());
      const backend = await ctx.backend();
      const id = await ctx.submit(backend, ctx.jobSpec(sleeper(300_000)));
      await ctx.waitForState(backend, id, ["running"]);
      if (ctx.options.jobsRunOnThisHost) await ctx.until("the job's process to start", () => ctx.processesLeft().length > 0);
      await backend.cancel([id]);
      await ctx.waitForState(backend, id, ["exited"]);
      if (ctx.options.jobsRunOnThisHost) await ctx.until(() => `no process of the job left (still: ${ctx.processesLeft().join(", ")})`, () => ctx.processesLeft().length === 0);
    }, ctx.options.testTimeoutMs);

    it("cancelling the same jobs twice, and after they ended, is not an error", async ({ onTestFailed }) => {
      onTestFailed(() => ctx.report());
      const backend = await ctx.backend();
      const ids = [await ctx.submit(backend, ctx.jobSpec(sleeper(300_000))), await ctx.submit(backend, ctx.jobSpec(sleeper(300_000)))];
      await backend.cancel(ids);
      await expect(backend.cancel(ids)).resolves.toBeUndefined();
      for (const id of ids) await ctx.waitForState(backend, id, ["exited"]);
      await expect(backend.cancel(ids)).resolves.toBeUndefined();
    }, ctx.options.testTimeoutMs);

    it("cancelling an id the system never issued is not an error", async () => {
      const backend = await ctx.backend();
      await expect(backend.cancel([ctx.options.unknownJobId as JobId])).resolves.toBeUndefined();
      await expect(backend.cancel([])).resolves.toBeUndefined();
    }, ctx.options.testTimeoutMs);
  });
}
