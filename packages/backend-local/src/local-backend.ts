/**
 * Jobs as local process trees: each job is one `skein worker` supervisor (and its worker
 * processes). No batch system, no walltime; `scale(4)` on a laptop.
 *
 * Processes are started with node:child_process rather than execa, which the batch backends use:
 * importing execa costs ~100 ms, and a laptop cluster's start-up time is what users feel first.
 * This backend needs only spawn, a kill timer and the exit status.
 */
import { spawn } from "node:child_process";
import { OutputTail, asJobId, type BackendContext, type ClusterBackend, type JobId, type JobSpec, type JobState } from "@skein/core";
import { localJobScript } from "./job-script.js";

/** After SIGTERM, a job gets this long to leave before SIGKILL. */
const KILL_AFTER_MS = 10_000;

interface LocalJob {
  readonly process: { readonly pid?: number | undefined; kill(signal: NodeJS.Signals): boolean };
  readonly output: OutputTail;
  exit: { code: number | null; signal: string | undefined } | undefined;
}

export interface LocalBackendOptions {
  /** Show the workers' stderr (warnings, crash reports) on this process's stderr. @default true */
  forwardStderr?: boolean;
}

/** Option names `createCluster` accepts for `backend: "local"`. */
export const optionKeys = ["forwardStderr"] as const;

/** The factory `createCluster({ backend: "local" })` calls. */
export function createBackend(options: Record<string, unknown>, context?: BackendContext): ClusterBackend {
  const forward = options.forwardStderr;
  if (forward !== undefined && typeof forward !== "boolean") {
    const source = context?.sourceOf("forwardStderr") ?? "options";
    throw new TypeError(`[skein] [local] option "forwardStderr" from ${source} must be true or false, got ${JSON.stringify(forward)}`);
  }
  return localBackend({ forwardStderr: forward ?? true });
}

export function localBackend(options: LocalBackendOptions = {}): ClusterBackend {
  const jobs = new Map<JobId, LocalJob>();
  let counter = 0;
  return {
    name: "local",
    capabilities: { walltime: false, logs: true, remoteWorkers: false },
    defaultPollIntervalSeconds: 1,

    jobScript: (job: JobSpec) => localJobScript(job),

    async submit(job: JobSpec): Promise<JobId> {
      const child = spawn("/bin/sh", ["-c", localJobScript(job)], {
        // The secret goes by environment only; the script and the command line never contain it.
        env: { ...process.env, ...job.env, SKEIN_SECRET: job.secret },
        stdio: ["ignore", "pipe", "pipe"],
        ...(job.logDirectory ? { cwd: job.logDirectory } : {}),
      });
      const id = asJobId(`local-${++counter}-${child.pid ?? "x"}`);
      let killTimer: NodeJS.Timeout | undefined;
      const record: LocalJob = {
        process: {
          pid: child.pid,
          kill(signal) {
            const sent = child.kill(signal);
            // A job that ignores SIGTERM is killed for good after a while.
            if (signal !== "SIGKILL" && !killTimer) {
              killTimer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
              killTimer.unref();
            }
            return sent;
          },
        },
        output: new OutputTail(),
        exit: undefined,
      };
      child.stdout?.on("data", (chunk: Buffer) => record.output.push(chunk));
      child.stderr?.on("data", (chunk: Buffer) => {
        record.output.push(chunk);
        if (options.forwardStderr ?? true) process.stderr.write(chunk);
      });
      child.once("error", (error) => {
        record.output.push(Buffer.from(`${error.message}\n`));
        record.exit ??= { code: null, signal: undefined };
      });
      child.once("exit", (code, signal) => {
        clearTimeout(killTimer);
        record.exit = { code, signal: signal ?? undefined };
      });
      jobs.set(id, record);
      return id;
    },

    async status(ids: readonly JobId[]): Promise<ReadonlyMap<JobId, JobState>> {
      const states = new Map<JobId, JobState>();
      for (const id of ids) {
        const job = jobs.get(id);
        if (!job) states.set(id, { state: "exited", exitCode: null, reason: "no longer known to the local backend" });
        else if (job.exit) states.set(id, { state: "exited", exitCode: job.exit.code, ...(job.exit.signal ? { reason: `killed by ${job.exit.signal}` } : {}) });
        else states.set(id, { state: "running", host: "localhost" });
      }
      return states;
    },

    async cancel(ids: readonly JobId[]): Promise<void> {
      for (const id of ids) {
        const job = jobs.get(id);
        // Finished or unknown jobs are fine: cancel is idempotent.
        if (job && !job.exit) job.process.kill("SIGTERM");
      }
    },

    async logs(id: JobId) {
      const job = jobs.get(id);
      return { stdout: "", stderr: job ? job.output.text() : "" };
    },

    cancelSync(ids: readonly JobId[]): void {
      for (const id of ids) {
        const job = jobs.get(id);
        if (job && !job.exit && job.process.pid) {
          try {
            process.kill(job.process.pid, "SIGTERM");
          } catch {
            // Already gone.
          }
        }
      }
    },
  };
}
