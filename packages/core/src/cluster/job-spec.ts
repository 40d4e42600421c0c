/** The JobSpec for job number `index`: what every backend needs to start that job's workers. */
import type { JobSpec } from "./backend.js";
import type { ClusterSettings } from "./cluster-options.js";

export interface JobContext {
  readonly index: number;
  readonly schedulerAddress: string;
  /** The scheduler runs in a job of its own: workers find it through this file instead of the address. */
  readonly schedulerFile?: string | undefined;
  /** Nodes per job (the `nodes` option, or what the backend's resource request says). @default 1 */
  readonly nodes?: number | undefined;
  readonly secret: string;
  readonly workerCommand: readonly string[];
  readonly secretFile?: string | undefined;
  /** Where the workers find the cluster's TLS material (`SKEIN_TLS_FILE`, or the user's files). */
  readonly tlsEnv?: Readonly<Record<string, string>> | undefined;
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
    ...(context.schedulerFile ? ["--scheduler-file", context.schedulerFile] : [context.schedulerAddress]),
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
  if (settings.allowedModules) workerArgs.push("--allowed-modules", settings.allowedModules.join(","));
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
    env: { ...settings.env, ...(settings.localDirectory ? { SKEIN_LOCAL_DIRECTORY: settings.localDirectory } : {}), ...context.tlsEnv },
    prologue: settings.prologue,
    ...(settings.logDirectory ? { logDirectory: settings.logDirectory } : {}),
    ...(context.nodes !== undefined && context.nodes > 1 ? { nodes: context.nodes } : {}),
  };
}

export interface SchedulerJobContext {
  readonly secret: string;
  /** The 0600 secret file the scheduler reads (`--secret-file`). */
  readonly secretFile: string;
  /** Where the scheduler writes its address (`--scheduler-file`). */
  readonly schedulerFile: string;
  /** `[node, .../@skein/cli/dist/cli.js]`. */
  readonly command: readonly string[];
  /** Where the scheduler finds the cluster's TLS material. */
  readonly tlsEnv?: Readonly<Record<string, string>> | undefined;
}

/**
 * The JobSpec of the job that runs the scheduler (`scheduler: { inJob: true }`): one process,
 * `skein scheduler --scheduler-file <file> --secret-file <secret file>`, listening on the
 * scheduler interface (else on every interface, advertised under the node's host name), with its
 * dashboard next to it. `cores`, `memory` and `walltime` come from the `scheduler` option.
 */
export function buildSchedulerJobSpec(settings: ClusterSettings, context: SchedulerJobContext): JobSpec {
  const job = settings.schedulerJob;
  const iface = settings.schedulerInterface ?? settings.interface;
  const listen = settings.schedulerHost ? ["--host", settings.schedulerHost] : iface ? ["--interface", iface] : ["--host", "0.0.0.0"];
  // The dashboard must be reachable from where the user is, not only from the compute node; its
  // link carries the token, without which it shows nothing.
  const dashboardHost = settings.dashboardHost === "127.0.0.1" ? "0.0.0.0" : settings.dashboardHost;
  const dashboard = settings.dashboard ? ["--dashboard-port", String(settings.dashboardPort), "--dashboard-host", dashboardHost] : ["--no-dashboard"];
  return {
    name: `${settings.name}-scheduler`.slice(0, 63),
    workerProcesses: 1,
    threadsPerWorker: 1,
    cores: job?.cores ?? 1,
    ...(job?.memoryBytes !== undefined ? { memoryBytes: job.memoryBytes } : {}),
    ...(job?.walltimeSeconds !== undefined ? { walltimeSeconds: job.walltimeSeconds } : {}),
    schedulerAddress: "",
    secret: context.secret,
    secretFile: context.secretFile,
    workerCommand: [...context.command],
    workerArgs: [
      "scheduler",
      "--scheduler-file",
      context.schedulerFile,
      "--secret-file",
      context.secretFile,
      "--port",
      String(settings.schedulerPort),
      "--allowed-failures",
      String(settings.allowedFailures),
      ...listen,
      ...dashboard,
    ],
    ...(settings.interface ? { interface: settings.interface } : {}),
    env: { ...settings.env, ...context.tlsEnv },
    prologue: settings.prologue,
    ...(settings.logDirectory ? { logDirectory: settings.logDirectory } : {}),
  };
}
