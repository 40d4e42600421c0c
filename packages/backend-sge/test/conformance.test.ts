/**
 * The shared conformance suite on the test cluster's real Grid Engine, plus what is Grid Engine's
 * own: tcsh, parallel-environment jobs, qsub's refusals, the environment -V carries, qacct's exit
 * status (per array element too), a whole array cancelled by its id, and workers that retire before h_rt's SIGKILL.
 */
import { expect, it } from "vitest";
import { BatchCommandError, SKEIN_ERROR_CODES, type JobId } from "@skein/core";
import { describeBackendConformance, MARK_VARIABLE, sleeper } from "@skein/backend-testkit";
import { sgeBackend } from "../src/index.js";
import { gridEngine, qstatJobs, SGE_BIN, SGE_QUEUE } from "./helpers.js";

describeBackendConformance("sge (Grid Engine 8.1.9)", {
  createBackend: () => sgeBackend({ binDir: SGE_BIN, queue: SGE_QUEUE }),
  // Held jobs (qsub -h) stay queued (hqw) until cancelled.
  createHoldingBackend: () => sgeBackend({ binDir: SGE_BIN, queue: SGE_QUEUE, jobExtraDirectives: ["-h"] }),
  service: gridEngine,
  clusterOptions: { interface: "lo" },
  additionalTests: (ctx) => {
    it("runs its job script under #!/bin/tcsh (and -S /bin/tcsh): the worker connects", async () => {
      const cluster = await ctx.startCluster({ cores: 1, processes: 1 }, sgeBackend({ binDir: SGE_BIN, shebang: "#!/bin/tcsh" }));
      expect(cluster.jobScript().split("\n").slice(0, 3)).toEqual(["#!/bin/tcsh", "#$ -N skein-conformance", "#$ -S /bin/tcsh"]);
      await cluster.scale(1);
      await cluster.waitForWorkers(1, { timeout: ctx.options.stateChangeTimeoutMs });
    }, ctx.options.testTimeoutMs);

    it("a job of 2 cores asks for -pe smp 2 and h_vmem per slot; Grid Engine gives it 2 slots; both workers connect", async () => {
      const cluster = await ctx.startCluster({ cores: 2, processes: 2, memory: "8GB" });
      // Each process of the job may then map 2 × 4g of address space (a worker needs ~1.6 GB).
      expect(cluster.jobScript()).toContain("\n#$ -pe smp 2\n#$ -l h_vmem=4g\n");
      await cluster.scale(2);
      await cluster.waitForWorkers(2, { timeout: ctx.options.stateChangeTimeoutMs });
      const id = cluster.jobs[0]?.id;
      // qstat may still say t (transferring) for a moment after the job's processes started and its workers connected.
      expect(qstatJobs().find((j) => j.id === id)).toMatchObject({ state: expect.stringMatching(/^[rt]$/), slots: "2" });
    }, ctx.options.testTimeoutMs);

    it("a request no queue can satisfy is refused at once by qsub -w e, with qsub's command, exit code and stderr", async () => {
      const cluster = await ctx.startCluster({ name: "toobig", cores: 1000 });
      const error = await cluster.scale(1).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(BatchCommandError);
      expect(error).toMatchObject({ code: SKEIN_ERROR_CODES.COMMAND_FAILED, exitCode: 1 });
      expect((error as BatchCommandError).command).toMatch(/^\/\S+\/qsub -terse -V -cwd -w e -j y -o \S+\/toobig-[0-9a-f]{8}\.out \S+\/toobig-[0-9a-f]{8}\.sh$/);
      expect((error as BatchCommandError).stderr).toBe("Unable to run job: error: no suitable queues\nExiting.");
      expect(cluster.jobs).toEqual([]);
    }, ctx.options.testTimeoutMs);

    it("a load value such as mem_free cannot pass qsub -w e (the check ignores load values): refused, with qsub's message", async () => {
      const cluster = await ctx.startCluster({ name: "memfree", memory: "1GB" }, sgeBackend({ binDir: SGE_BIN, memoryResource: "mem_free" }));
      expect(cluster.jobScript()).toContain("\n#$ -l mem_free=1g\n");
      await expect(cluster.scale(1)).rejects.toMatchObject({ exitCode: 1, stderr: expect.stringContaining("no suitable queues") });
    }, ctx.options.testTimeoutMs);

    it("a queue that does not exist is refused by qsub", async () => {
      const cluster = await ctx.startCluster({ name: "noqueue" }, sgeBackend({ binDir: SGE_BIN, queue: "nosuch.q" }));
      await expect(cluster.scale(1)).rejects.toMatchObject({ exitCode: 1, stderr: expect.stringContaining('requests unknown queue "nosuch.q"') });
    }, ctx.options.testTimeoutMs);

    it("-V gives the job the submitter's environment, without SKEIN_SECRET; the script sets SKEIN_SECRET_FILE", async () => {
      const backend = await ctx.backend();
      const saved = { secret: process.env.SKEIN_SECRET, visible: process.env.SKEIN_SGE_VISIBLE };
      process.env.SKEIN_SECRET = "sge-secret-must-not-travel";
      process.env.SKEIN_SGE_VISIBLE = "from-the-submitter";
      let id: JobId;
      try {
        const print = `for (const k of ["SKEIN_SECRET", "SKEIN_SECRET_FILE", "SKEIN_SGE_VISIBLE", "${MARK_VARIABLE}", "JOB_ID", "NSLOTS"]) console.log(k + "=" + (process.env[k] ?? "<unset>")); console.log("cwd=" + process.cwd())`;
        id = await ctx.submit(backend, ctx.jobSpec(print));
      } finally {
        for (const [key, value] of [["SKEIN_SECRET", saved.secret], ["SKEIN_SGE_VISIBLE", saved.visible]] as const) {
          if (value === undefined) delete process.env[key];
          else process.env[key] = value;
        }
      }
      const { state } = await ctx.waitForState(backend, id, ["exited"]);
      expect(state).toMatchObject({ state: "exited", exitCode: 0 });
      const output = (await backend.logs?.(id))?.stdout ?? "";
      const spec = ctx.jobSpec("");
      expect(output).toContain("SKEIN_SECRET=<unset>\n");
      expect(output).toContain(`SKEIN_SECRET_FILE=${spec.secretFile}\n`);
      expect(output).toContain("SKEIN_SGE_VISIBLE=from-the-submitter\n");
      expect(output).toContain(`${MARK_VARIABLE}=${ctx.mark}\n`);
      expect(output).toContain(`JOB_ID=${id}\n`);
      // -cwd: the job runs where the submitter ran qsub.
      expect(output).toContain(`cwd=${process.cwd()}\n`);
      expect(output).not.toContain("sge-secret-must-not-travel");
    }, ctx.options.testTimeoutMs);

    it("a finished job's exit status comes from qacct", async () => {
      const backend = await ctx.backend();
      const id = await ctx.submit(backend, ctx.jobSpec("process.exit(3)"));
      await ctx.waitForState(backend, id, ["exited"]);
      // qacct may lag qstat by a moment; the backend asks again on later polls.
      const state = await ctx.until(`job ${id}'s exit status from qacct`, async () => {
        const s = (await backend.status([id])).get(id);
        return s?.state === "exited" && s.exitCode !== null ? s : undefined;
      });
      expect(state).toEqual({ state: "exited", exitCode: 3 });
    }, ctx.options.testTimeoutMs);

    it("each element of an array has its own exit status from qacct (its taskid)", async () => {
      const backend = await ctx.backend();
      // Element i exits with i; "--" keeps the script's --name-env SGE_TASK_ID away from node -e.
      const spec = ctx.jobSpec("process.exit(Number(process.env.SGE_TASK_ID))", { workerArgs: ["--"] });
      const { id, elements } = await ctx.submitArray(backend, { ...spec, arraySize: 3 });
      expect(elements).toEqual([1, 2, 3].map((i) => `${id}.${i}`));
      const states = await ctx.until(`the exit statuses of ${elements.join(", ")} from qacct`, async () => {
        const s = await backend.status(elements);
        return elements.every((e) => s.get(e)?.state === "exited" && (s.get(e) as { exitCode: number | null }).exitCode !== null) ? s : undefined;
      });
      expect(elements.map((e) => states.get(e))).toEqual([1, 2, 3].map((exitCode) => ({ state: "exited", exitCode })));
    }, ctx.options.testTimeoutMs);

    it("the array as a whole: its id is running while an element runs; qdel of that id ends every element", async () => {
      const backend = await ctx.backend();
      const { id, elements } = await ctx.submitArray(backend, { ...ctx.jobSpec(sleeper(300_000), { workerArgs: ["--"] }), arraySize: 2 });
      for (const element of elements) await ctx.waitForState(backend, element, ["running"]);
      expect((await backend.status([id])).get(id)).toMatchObject({ state: "running" });
      await backend.cancel([id]);
      for (const element of [...elements, id]) await ctx.waitForState(backend, element, ["exited"]);
      const killed = await ctx.until(`qacct's records of ${elements.join(", ")}`, async () => {
        const s = await backend.status(elements);
        return elements.every((e) => (s.get(e) as { exitCode?: number | null }).exitCode != null) ? s : undefined;
      });
      for (const element of elements) expect(killed.get(element)).toMatchObject({ state: "exited", exitCode: 137, reason: expect.stringMatching(/^killed \(qdel\)/) });
      await ctx.until(() => `no process of the array left (still: ${ctx.processesLeft().join(", ")})`, () => ctx.processesLeft().length === 0);
    }, ctx.options.testTimeoutMs);

    it("workers retire before h_rt: a job with walltime 60 s ends by itself (exit 0), not by Grid Engine's SIGKILL", async () => {
      const backend = await ctx.backend();
      const cluster = await ctx.startCluster({ name: "walltime", cores: 1, processes: 1, walltime: "00:01:00" });
      expect(cluster.jobScript()).toContain("\n#$ -l h_rt=00:01:00\n");
      // lifetimeFor(60): 15 s margin, so --lifetime 45 --lifetime-stagger 7.
      expect(cluster.jobScript()).toMatch(/ --lifetime 45 --lifetime-stagger 7\b/);
      await cluster.scale(1);
      await cluster.waitForWorkers(1, { timeout: ctx.options.stateChangeTimeoutMs });
      const id = cluster.jobs[0]?.id as JobId;
      const startedAt = Date.now();
      const state = await ctx.until(
        `job ${id} to end with an exit status`,
        async () => {
          const s = (await backend.status([id])).get(id);
          return s?.state === "exited" && s.exitCode !== null ? s : undefined;
        },
        90_000,
      );
      const seconds = (Date.now() - startedAt) / 1000;
      // Killed at h_rt it would be exit 137 with "failed 37: qmaster enforced h_rt…".
      expect(state).toEqual({ state: "exited", exitCode: 0 });
      expect(seconds).toBeLessThan(60);
      console.log(`walltime 60 s: the job ended by itself ${seconds.toFixed(1)} s after its worker connected`);
    }, 180_000);
  },
});
