/**
 * A complete Skein backend written outside Skein, with nothing but node:child_process: each job is
 * one `skein worker` supervisor started as a child process. It shows the whole contract; Skein's
 * `Cluster` does the rest (how many jobs, failures before connect, clean-up on exit).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { asJobId, type BackendContext, type ClusterBackend, type JobId, type JobSpec, type JobState } from "@skein/core";

/** Options this backend accepts besides Skein's common ones (so typos get a "did you mean"). */
export const optionKeys = ["niceness"] as const;

interface Job {
  readonly child: ChildProcess;
  output: string;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

/** What `createCluster({ backend: "./spawn-backend.js", niceness: 5 })` calls. */
export function createBackend(options: Record<string, unknown>, context?: BackendContext): ClusterBackend {
  const niceness = options.niceness ?? 0;
  if (typeof niceness !== "number" || !Number.isInteger(niceness) || niceness < 0 || niceness > 19) {
    throw new TypeError(`option "niceness" from ${context?.sourceOf("niceness") ?? "options"} must be a whole number from 0 to 19, got ${JSON.stringify(niceness)}`);
  }
  return spawnBackend(niceness);
}

export function spawnBackend(niceness = 0): ClusterBackend {
  const jobs = new Map<JobId, Job>();
  let counter = 0;
  const commandOf = (job: JobSpec) => ["nice", "-n", String(niceness), ...job.workerCommand, ...job.workerArgs];
  return {
    name: "spawn",
    capabilities: { walltime: false, logs: true, remoteWorkers: false },
    defaultPollIntervalSeconds: 1,

    jobScript: (job) => `${commandOf(job).join(" ")}\n`,

    async submit(job) {
      const [file, ...args] = commandOf(job);
      // The secret travels in the environment, never on the command line.
      const child = spawn(file as string, args, { env: { ...process.env, ...job.env, SKEIN_SECRET: job.secret }, stdio: ["ignore", "pipe", "pipe"] });
      const id = asJobId(`spawn-${++counter}`);
      const record: Job = { child, output: "", exit: undefined };
      const keep = (chunk: Buffer) => (record.output = (record.output + chunk.toString()).slice(-16_384));
      child.stdout?.on("data", keep);
      child.stderr?.on("data", keep);
      child.on("exit", (code, signal) => (record.exit = { code, signal }));
      child.on("error", (error) => {
        keep(Buffer.from(`${error.message}\n`));
        record.exit = { code: null, signal: null };
      });
      jobs.set(id, record);
      return id;
    },

    async status(ids) {
      return new Map(
        ids.map((id): [JobId, JobState] => {
          const job = jobs.get(id);
          if (!job) return [id, { state: "exited", exitCode: null, reason: "never issued by this backend" }];
          if (job.exit) return [id, { state: "exited", exitCode: job.exit.code, ...(job.exit.signal ? { reason: `killed by ${job.exit.signal}` } : {}) }];
          return [id, { state: "running", host: "localhost" }];
        }),
      );
    },

    async cancel(ids) {
      // Idempotent: finished and unknown jobs are simply skipped.
      for (const id of ids) {
        const job = jobs.get(id);
        if (job && !job.exit) job.child.kill("SIGTERM");
      }
    },

    async logs(id) {
      return { stdout: jobs.get(id)?.output ?? "", stderr: "" };
    },

    cancelSync(ids) {
      for (const id of ids) jobs.get(id)?.child.kill("SIGTERM");
    },
  };
}
