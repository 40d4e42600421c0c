/** The JobSpec for job number `index`: what every backend needs to start that job's workers. */
import type { JobSpec } from "./backend.js";
import type { ClusterSettings } from "./cluster-options.js";

export interface JobContext {
  readonly index: number;
  readonly schedulerAddress: string;
  readonly secret: string;
  readonly workerCommand: readonly string[];
  readonly secretFile?: string | undefined;
  /** The backend's batch system kills jobs at their walltime: workers retire before it. */
  readonly walltimeEnforced?: boolean;
}

/**
 * How long before the walltime workers start to leave: 5 % of it, at least a minute, at most ten
 * minutes, and never more than a quarter of it (short test jobs). Workers of a job leave staggered
 * over half of that margin, so their data moves to others in turn.
 */
export function lifetimeFor(walltimeSeconds: number): { lifetime: number; stagger: number } {
  const margin = Math.min(Math.max(walltimeSeconds * 0.05, 60), 600, walltimeSeconds * 0.25);
  return { lifetime: Math.floor(walltimeSeconds - margin), stagger: Math.floor(margin / 2) };
}

export function buildJobSpec(settings: ClusterSettings, context: JobContext): JobSpec {
  const workerPrefix = `${settings.name}-${context.index}`;
  const workerArgs = [
    context.schedulerAddress,
    "--nworkers",
    String(settings.processes),
    "--nthreads",
    String(settings.threadsPerWorker),
    "--name",
    workerPrefix,
    "--death-timeout",
    String(settings.deathTimeoutSeconds),
  ];
  if (settings.memoryPerWorkerBytes !== undefined) workerArgs.push("--memory-limit", String(settings.memoryPerWorkerBytes));
  if (settings.interface) workerArgs.push("--interface", settings.interface);
  if (context.walltimeEnforced && settings.walltimeSeconds !== undefined && !settings.workerExtraArgs.includes("--lifetime")) {
    const { lifetime, stagger } = lifetimeFor(settings.walltimeSeconds);
    workerArgs.push("--lifetime", String(lifetime), "--lifetime-stagger", String(stagger));
  }
  workerArgs.push(...settings.workerExtraArgs);
  return {
    name: settings.name,
    workerProcesses: settings.processes,
    threadsPerWorker: settings.threadsPerWorker,
    cores: settings.cores,
    ...(settings.memoryBytes !== undefined ? { memoryBytes: settings.memoryBytes } : {}),
    ...(settings.memoryPerWorkerBytes !== undefined ? { memoryPerWorkerBytes: settings.memoryPerWorkerBytes } : {}),
    ...(settings.walltimeSeconds !== undefined ? { walltimeSeconds: settings.walltimeSeconds } : {}),
    schedulerAddress: context.schedulerAddress,
    secret: context.secret,
    ...(context.secretFile ? { secretFile: context.secretFile } : {}),
    // A site launcher (srun, mpirun, aprun) goes in front of the worker command.
    workerCommand: [...settings.workerLauncher, ...context.workerCommand],
    workerArgs,
    ...(settings.interface ? { interface: settings.interface } : {}),
    env: settings.localDirectory ? { ...settings.env, SKEIN_LOCAL_DIRECTORY: settings.localDirectory } : settings.env,
    prologue: settings.prologue,
    ...(settings.logDirectory ? { logDirectory: settings.logDirectory } : {}),
  };
}
