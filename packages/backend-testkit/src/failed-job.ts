/** A job that exits 1 before its workers connect is surfaced through Cluster.waitForWorkers, with its log. */
import { describe, expect, it } from "vitest";
import { SKEIN_ERROR_CODES, isSkeinError } from "@skein/core";
import type { ConformanceContext } from "./harness.js";
import { FAILURE_LINE, failing } from "./jobs.js";

export function failedJobTests(ctx: ConformanceContext & { report(): Promise<void> }): void {
  describe("a job that fails before its workers connect", () => {
    const failure = async (): Promise<{ error: unknown; jobId: string }> => {
      const cluster = await ctx.startCluster({ workerCommand: [process.execPath, "-e", failing] });
      await cluster.scale(1);
      const jobId = cluster.jobs[0]?.id ?? "";
      const error = await cluster.waitForWorkers(1, { timeout: ctx.options.stateChangeTimeoutMs }).then(
        () => new Error("waitForWorkers resolved although the job failed"),
        (e: unknown) => e,
      );
      return { error, jobId };
    };

    it("rejects waitForWorkers with SKEIN_ERR_JOB_FAILED_BEFORE_CONNECT naming the job", async ({ onTestFailed }) => {
      onTestFailed(() => ctx.report());
      const { error, jobId } = await failure();
      expect(isSkeinError(error) ? error.code : error).toBe(SKEIN_ERROR_CODES.JOB_FAILED_BEFORE_CONNECT);
      expect((error as Error).message).toContain(jobId);
    }, ctx.options.testTimeoutMs);

    it("shows the tail of the job's own output in that error", async ({ onTestFailed, skip }) => {
      const backend = await ctx.backend();
      if (!backend.capabilities.logs) skip(`backend ${backend.name} lacks the "logs" capability`);
      onTestFailed(() => ctx.report());
      const { error } = await failure();
      expect(isSkeinError(error) ? error.code : error).toBe(SKEIN_ERROR_CODES.JOB_FAILED_BEFORE_CONNECT);
      expect((error as Error).message).toContain(FAILURE_LINE);
    }, ctx.options.testTimeoutMs);
  });
}
