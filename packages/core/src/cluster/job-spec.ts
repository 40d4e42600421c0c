/** The JobSpec for job number `index`: what every backend needs to start that job's workers. */
import type { JobSpec } from "./backend.js";
import type { ClusterSettings } from "./cluster-options.js";

export interface JobContext {
  readonly index: number;
  readonly schedulerAddress: string;
  readonly secret: string;
  readonly workerCommand: readonly string[];
  readonly secretFile?: string | undefined;
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
    workerCommand: context.workerCommand,
    workerArgs,
    ...(settings.interface ? { interface: settings.interface } : {}),
    env: settings.localDirectory ? { ...settings.env, SKEIN_LOCAL_DIRECTORY: settings.localDirectory } : settings.env,
    prologue: settings.prologue,
    ...(settings.logDirectory ? { logDirectory: settings.logDirectory } : {}),
  };
}
