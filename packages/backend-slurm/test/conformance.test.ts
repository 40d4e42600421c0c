import { expect, it } from "vitest";
import { BatchCommandError, SKEIN_ERROR_CODES } from "@skein/core";
import { describeBackendConformance, slurm } from "@skein/backend-testkit";
import { slurmBackend } from "../src/index.js";

describeBackendConformance("slurm", {
  createBackend: () => slurmBackend({ partition: "batch" }),
  // Held jobs (sbatch --hold) stay queued until cancelled.
  createHoldingBackend: () => slurmBackend({ partition: "batch", jobExtraDirectives: ["--hold"] }),
  service: slurm,
  clusterOptions: { interface: "lo" },
  // vortex and c18a share this host: a 2-node job is possible.
  multiNode: { nodes: 2 },
  additionalTests: (ctx) => {
    it("runs its job script under #!/bin/tcsh: the worker connects", async () => {
      const cluster = await ctx.startCluster({ cores: 1, processes: 1 }, slurmBackend({ queue: "batch", shebang: "#!/bin/tcsh" }));
      expect(cluster.jobScript().split("\n")[0]).toBe("#!/bin/tcsh");
      await cluster.scale(1);
      await cluster.waitForWorkers(1, { timeout: ctx.options.stateChangeTimeoutMs });
    }, ctx.options.testTimeoutMs);

    it("a refused submission rejects scale() with sbatch's command, exit code and stderr", async () => {
      const cluster = await ctx.startCluster({ name: "toobig", memory: "512GB" });
      const error = await cluster.scale(1).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(BatchCommandError);
      expect(error).toMatchObject({ code: SKEIN_ERROR_CODES.COMMAND_FAILED, exitCode: 1 });
      expect((error as BatchCommandError).command).toMatch(/^sbatch --parsable --output=\S+\/toobig-[0-9a-f]{8}\.out \S+\/toobig-[0-9a-f]{8}\.sh$/);
      expect((error as BatchCommandError).stderr).toContain("Memory specification can not be satisfied");
      expect(cluster.jobs).toEqual([]);
    }, ctx.options.testTimeoutMs);
  },
});
