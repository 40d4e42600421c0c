/** submit → queued/running → exited; status of many ids in one call; jobScript is pure and secret-free. */
import { describe, expect, it } from "vitest";
import type { ConformanceContext } from "./harness.js";
import { sleeper } from "./jobs.js";

export function submitStatusTests(ctx: ConformanceContext & { report(): Promise<void>; cleanup(): Promise<void> }): void {
  describe("submit and status", () => {
    it("a submitted job is queued or running, then exits by itself", async ({ onTestFailed }) => {
      onTestFailed(() => ctx.report());
      const backend = await ctx.backend();
      const id = await ctx.submit(backend, ctx.jobSpec(sleeper(3000)));
      expect(typeof id).toBe("string");
      const first = (await backend.status([id])).get(id);
      expect(["queued", "running"]).toContain(first?.state);
      const { seen } = await ctx.waitForState(backend, id, ["exited"]);
      expect(seen).not.toContain("unknown");
    }, ctx.options.testTimeoutMs);

    it("answers for many ids in one call, with ids it never issued as exited", async ({ onTestFailed }) => {
      onTestFailed(() => ctx.report());
      const backend = await ctx.backend();
      const a = await ctx.submit(backend, ctx.jobSpec(sleeper(120_000)));
      const b = await ctx.submit(backend, ctx.jobSpec(sleeper(120_000)));
      const unknown = ctx.options.unknownJobId as Parameters<typeof backend.status>[0][number];
      const states = await backend.status([a, b, unknown]);
      expect([...states.keys()].sort()).toEqual([a, b, unknown].sort());
      expect(["queued", "running"]).toContain(states.get(a)?.state);
      expect(["queued", "running"]).toContain(states.get(b)?.state);
      expect(states.get(unknown)).toMatchObject({ state: "exited", exitCode: null });
      expect((await backend.status([])).size).toBe(0);
    }, ctx.options.testTimeoutMs);

    it("jobScript is pure and never contains the secret", async () => {
      const backend = await ctx.backend();
      const spec = ctx.jobSpec(sleeper(1000), { secret: "conformance-secret-do-not-print" });
      const script = backend.jobScript(spec);
      expect(script).toBe(backend.jobScript(spec));
      expect(script).not.toContain("conformance-secret-do-not-print");
    }, ctx.options.testTimeoutMs);
  });
}
