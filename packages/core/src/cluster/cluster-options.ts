/**
 * Options every cluster understands, whatever its backend (the dask-jobqueue vocabulary in
 * camelCase). Backend-specific options (queue, account, resourceSpec, hosts, …) are validated by
 * the backend's own factory.
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import * as v from "valibot";
import type { TlsSetting } from "./cluster-tls.js";
import { parseBytes, parseWalltime } from "@skein/serialization";
import { badOption } from "../errors.js";
import { positiveInteger, validateOptions } from "../options.js";

export interface ClusterOptions {
  /** "local", "pbs", "slurm", "ssh", or a module path / package name of your own backend. @default "local" */
  backend?: string;
  /** Batch job name (what `qstat` shows) and the prefix of worker names. @default "skein" */
  name?: string;
  /** Cores per job. Threads per worker = cores / processes. @default 1 */
  cores?: number;
  /** Worker processes per job. `scale(n)` submits ceil(n / processes) jobs. @default 1 */
  processes?: number;
  /** Memory per job: bytes, or "32GB" (10^9) / "32GiB" (2^30). Each worker's limit is memory / processes. */
  memory?: string | number;
  /** Wall-clock limit per job, "HH:MM:SS" or seconds (batch backends). */
  walltime?: string | number;
  /** Network interface the workers listen on, e.g. "ib0". */
  interface?: string;
  /** Network interface the scheduler listens on, when it differs from the workers'. @default interface */
  schedulerInterface?: string;
  /** Address the scheduler listens on (overrides schedulerInterface). @default "127.0.0.1" for local, else the interface's address */
  schedulerHost?: string;
  /** Scheduler port; 0 picks a free one. @default 0 */
  schedulerPort?: number;
  /** Seconds a worker waits for an unreachable scheduler before it exits. @default 60 */
  deathTimeout?: number;
  /** Directory for workers' scratch files (spilling). */
  localDirectory?: string;
  /** Directory for job output files. */
  logDirectory?: string;
  /** Extra arguments for `skein worker`, e.g. ["--resources", "GPU=1"]. @default [] */
  workerExtraArgs?: string[];
  /** Extra environment variables for the jobs. @default {} */
  env?: Record<string, string>;
  /** Shell lines run in each job before the worker starts, e.g. ["module load node"]. @default [] */
  jobScriptPrologue?: string | string[];
  /** How a job starts a worker: [node, path/to/@skein/worker/dist/bin.js]. @default this node and the installed @skein/worker */
  workerCommand?: string[];
  /** Seconds between batch status checks (one command for all jobs). @default backend's choice */
  pollInterval?: number;
  /**
   * A directory on a filesystem that the workers' hosts also see (your home on most clusters).
   * Skein keeps each cluster's secret there in a 0600 file for the jobs to read.
   * @default "~/.skein"
   */
  sharedDirectory?: string;

  // --- dashboard (see @skein/scheduler's README) ---
  /** Serve the dashboard (a web page and Prometheus `/metrics`) while the cluster runs; open `cluster.dashboardLink`. @default true */
  dashboard?: boolean;
  /** The dashboard's HTTP port; 0 picks a free one. @default 0 */
  dashboardPort?: number;
  /** Address the dashboard listens on; it needs the link's token whatever the address. @default "127.0.0.1" */
  dashboardHost?: string;
  /** Serve `/metrics` without the token (read-only counts), for a Prometheus that cannot send a bearer token. @default false */
  dashboardOpenMetrics?: boolean;
  /**
   * Encrypt and mutually authenticate every connection (`wss://`). `true`: the cluster makes a
   * temporary certificate for itself and hands it to its workers in a 0600 file next to the secret.
   * `{ cert, key, ca }`: your own PEM files (paths the workers' hosts can read too); server names are
   * checked unless `checkServerNames: false`. @default false
   */
  tls?: boolean | { cert: string; key: string; ca: string; checkServerNames?: boolean };
  /**
   * Workers run only functions sent by reference from these module directories and packages
   * (`skein worker --allowed-modules`); functions sent by value are refused. @default any function runs
   */
  allowedModules?: readonly string[];
  /**
   * A task that was running on this many workers that died fails with `KilledWorkerError` instead of
   * being tried again (it may be what kills them). Workers the cluster retires do not count. @default 3
   */
  allowedFailures?: number;
  /** At most this many jobs at once (running and queued); `scale` and `adapt` respect it. */
  maxJobs?: number;
  /** At most this many jobs waiting in the batch queue at once; more are submitted as they start. */
  maxQueuedJobs?: number;
  /**
   * Run the worker through a site launcher, e.g. `["srun", "--ntasks=1"]`, `["mpirun", "-np", "1"]`
   * or `["aprun", "-n", "1"]`: the job script prefixes the worker command with it. @default []
   */
  workerLauncher?: string[];
  /**
   * Nodes per job. With more than one, every node of a job runs `processes` workers (started with
   * `srun` / `pbsdsh`), and `cores` and `memory` describe one node: `scale(n)` submits
   * ceil(n / (nodes × processes)) jobs. PBS reads it from `resourceSpec: "nodes=2:ppn=12"` too. @default 1
   */
  nodes?: number;
  /**
   * Submit the jobs `scale` asks for as ONE job array (`qsub -t 1-N`, `qsub -J 1-N`,
   * `sbatch --array=1-N`) instead of N jobs. Each element is still a job of its own to the cluster:
   * watched, cancelled and replaced one by one. Needs a backend with job arrays (pbs, slurm). @default false
   */
  jobArrays?: boolean;
  /** Where the scheduler runs: in this process (the default), or in a batch job of its own (`{ inJob: true }`). */
  scheduler?: SchedulerPlacement;
}

/**
 * `scheduler: { inJob: true }`: the scheduler runs in a batch job of its own (same backend, same
 * queue), started with `skein scheduler --scheduler-file <file>`; the workers and this process find
 * it through that file, and this process only runs the client. Closing the cluster ends that job.
 */
export interface SchedulerPlacement {
  /** Run the scheduler in a batch job. @default false */
  inJob?: boolean;
  /** Cores for the scheduler's job. @default 1 */
  cores?: number;
  /** Memory for the scheduler's job ("4GB"). @default the backend's default */
  memory?: string | number;
  /** Walltime of the scheduler's job; when it ends, the cluster ends. @default the cluster's walltime */
  walltime?: string | number;
  /** The scheduler file, on a filesystem this host and the compute nodes share. @default <sharedDirectory>/clusters/<cluster>/scheduler.json */
  file?: string;
  /** Seconds to wait for the scheduler's job to start and write the file (time in the queue included). @default 600 */
  startTimeout?: number;
  /** How the job starts the scheduler: [node, path/to/@skein/cli/dist/cli.js]. @default this node and the installed @skein/cli */
  command?: string[];
}

export const COMMON_OPTION_KEYS = [
  "backend",
  "name",
  "cores",
  "processes",
  "memory",
  "walltime",
  "interface",
  "schedulerInterface",
  "schedulerHost",
  "schedulerPort",
  "deathTimeout",
  "localDirectory",
  "logDirectory",
  "workerExtraArgs",
  "env",
  "jobScriptPrologue",
  "workerCommand",
  "pollInterval",
  "sharedDirectory",
  "dashboard",
  "dashboardPort",
  "dashboardHost",
  "dashboardOpenMetrics",
  "tls",
  "allowedModules",
  "allowedFailures",
  "maxJobs",
  "maxQueuedJobs",
  "workerLauncher",
  "nodes",
  "jobArrays",
  "scheduler",
] as const satisfies readonly (keyof ClusterOptions)[];

const positiveSeconds = v.pipe(v.number("must be a number of seconds"), v.gtValue(0, "must be more than 0"));

const SchedulerSchema = v.strictObject(
  {
    inJob: v.optional(v.boolean("must be true or false")),
    cores: v.optional(positiveInteger),
    memory: v.optional(v.union([v.string(), v.number()], 'must be bytes or a size like "4GB"')),
    walltime: v.optional(v.union([v.string(), v.number()], 'must be "HH:MM:SS" or seconds')),
    file: v.optional(v.pipe(v.string("must be a file path"), v.minLength(1, "must not be empty"))),
    startTimeout: v.optional(positiveSeconds),
    command: v.optional(v.pipe(v.array(v.string(), "must be an array of strings"), v.minLength(1, "must not be empty"))),
  },
  'must be an object like { inJob: true, walltime: "02:00:00" } (keys: inJob, cores, memory, walltime, file, startTimeout, command)',
);

const absolutePath = v.pipe(v.string("must be a file path"), v.minLength(1, "must not be empty"));
const TlsSchema = v.union(
  [
    v.boolean(),
    v.strictObject({ cert: absolutePath, key: absolutePath, ca: absolutePath, checkServerNames: v.optional(v.boolean("must be true or false")) }),
  ],
  'must be true, false, or { cert, key, ca } (paths to PEM files)',
);

const CommonSchema = v.object({
  backend: v.optional(v.pipe(v.string("must be a backend name or module"), v.minLength(1, "must not be empty"))),
  name: v.optional(v.pipe(v.string("must be a string"), v.regex(/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,62}$/, 'must be 1-63 letters, digits, "_", "." or "-" (batch systems reject others)'))),
  cores: v.optional(positiveInteger),
  processes: v.optional(positiveInteger),
  memory: v.optional(v.union([v.string(), v.number()], 'must be bytes or a size like "32GB"')),
  walltime: v.optional(v.union([v.string(), v.number()], 'must be "HH:MM:SS" or seconds')),
  interface: v.optional(v.string("must be an interface name like \"ib0\"")),
  schedulerInterface: v.optional(v.string("must be an interface name")),
  schedulerHost: v.optional(v.string("must be a host address")),
  schedulerPort: v.optional(v.pipe(v.number("must be a port number"), v.integer(), v.minValue(0), v.maxValue(65535, "must be at most 65535"))),
  deathTimeout: v.optional(positiveSeconds),
  localDirectory: v.optional(v.string("must be a directory path")),
  logDirectory: v.optional(v.string("must be a directory path")),
  workerExtraArgs: v.optional(v.array(v.string(), "must be an array of strings")),
  env: v.optional(v.record(v.string(), v.string(), "must be an object of strings")),
  jobScriptPrologue: v.optional(v.union([v.string(), v.array(v.string())], "must be a string or an array of shell lines")),
  workerCommand: v.optional(v.pipe(v.array(v.string(), "must be an array of strings"), v.minLength(1, "must not be empty"))),
  pollInterval: v.optional(positiveSeconds),
  sharedDirectory: v.optional(v.pipe(v.string("must be a directory path"), v.minLength(1, "must not be empty"))),
  dashboard: v.optional(v.boolean("must be true or false")),
  dashboardPort: v.optional(v.pipe(v.number("must be a port number"), v.integer(), v.minValue(0), v.maxValue(65535, "must be at most 65535"))),
  dashboardHost: v.optional(v.pipe(v.string("must be a host address"), v.minLength(1, "must not be empty"))),
  dashboardOpenMetrics: v.optional(v.boolean("must be true or false")),
  tls: v.optional(TlsSchema),
  allowedModules: v.optional(
    v.pipe(
      v.array(v.pipe(v.string(), v.minLength(1, "must not contain empty entries"), v.check((e) => !e.startsWith("."), "entries must be absolute directories or package names, not relative paths")), "must be an array of directories and package names"),
      v.minLength(1, "must not be empty (leave it out to allow any function)"),
    ),
  ),
  allowedFailures: v.optional(positiveInteger),
  maxJobs: v.optional(positiveInteger),
  maxQueuedJobs: v.optional(positiveInteger),
  workerLauncher: v.optional(v.array(v.pipe(v.string(), v.minLength(1, "must not contain empty words")), 'must be an array of words, e.g. ["srun", "--ntasks=1"]')),
  nodes: v.optional(positiveInteger),
  jobArrays: v.optional(v.boolean("must be true or false")),
  scheduler: v.optional(SchedulerSchema),
});

/** Options after validation and unit conversion. */
export interface ClusterSettings {
  readonly backend: string;
  readonly name: string;
  readonly cores: number;
  readonly processes: number;
  readonly threadsPerWorker: number;
  readonly memoryBytes: number | undefined;
  readonly memoryPerWorkerBytes: number | undefined;
  readonly walltimeSeconds: number | undefined;
  readonly interface: string | undefined;
  readonly schedulerInterface: string | undefined;
  readonly schedulerHost: string | undefined;
  readonly schedulerPort: number;
  readonly deathTimeoutSeconds: number;
  readonly localDirectory: string | undefined;
  readonly logDirectory: string | undefined;
  readonly workerExtraArgs: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly prologue: readonly string[];
  readonly workerCommand: readonly string[] | undefined;
  readonly pollIntervalSeconds: number | undefined;
  readonly sharedDirectory: string;
  readonly dashboard: boolean;
  readonly dashboardPort: number;
  readonly dashboardHost: string;
  readonly dashboardOpenMetrics: boolean;
  /** `true` for a temporary certificate; paths already made absolute. */
  readonly tls: TlsSetting | undefined;
  readonly allowedModules: readonly string[] | undefined;
  readonly allowedFailures: number;
  readonly maxJobs: number | undefined;
  readonly maxQueuedJobs: number | undefined;
  readonly workerLauncher: readonly string[];
  /** Nodes per job when the `nodes` option was given; else the backend decides (`nodesPerJob`), else 1. */
  readonly nodes: number | undefined;
  readonly jobArrays: boolean;
  /** Set when the scheduler runs in a batch job (`scheduler: { inJob: true }`). */
  readonly schedulerJob: SchedulerJobSettings | undefined;
}

export interface SchedulerJobSettings {
  readonly cores: number;
  readonly memoryBytes: number | undefined;
  readonly walltimeSeconds: number | undefined;
  /** Absolute path of the scheduler file, when given. */
  readonly file: string | undefined;
  readonly startTimeoutSeconds: number;
  readonly command: readonly string[] | undefined;
}

/**
 * Check the common options (unknown keys are the caller's business: they may belong to the backend)
 * and convert units. `source` names where the options came from, for error messages.
 */
export function resolveClusterSettings(options: ClusterOptions, sourceOf: (key: string) => string = () => "createCluster options"): ClusterSettings {
  const o = validateOptions(CommonSchema, pickCommon(options), { component: "cluster", source: sourceOf });
  const cores = o.cores ?? 1;
  const processes = o.processes ?? 1;
  if (processes > cores) {
    throw badOption("cluster", `processes (${processes}, from ${sourceOf("processes")}) cannot exceed cores (${cores}): each worker process needs at least one core`);
  }
  const memoryBytes = o.memory === undefined ? undefined : parseBytes(o.memory, `option "memory" from ${sourceOf("memory")}`);
  return {
    backend: o.backend ?? "local",
    name: o.name ?? "skein",
    cores,
    processes,
    threadsPerWorker: Math.max(1, Math.floor(cores / processes)),
    memoryBytes,
    memoryPerWorkerBytes: memoryBytes === undefined ? undefined : Math.floor(memoryBytes / processes),
    walltimeSeconds: o.walltime === undefined ? undefined : parseWalltime(o.walltime, `option "walltime" from ${sourceOf("walltime")}`),
    interface: o.interface,
    schedulerInterface: o.schedulerInterface,
    schedulerHost: o.schedulerHost,
    schedulerPort: o.schedulerPort ?? 0,
    deathTimeoutSeconds: o.deathTimeout ?? 60,
    // Absolute: batch jobs start in the user's home on Torque, where a relative path means something else.
    localDirectory: o.localDirectory === undefined ? undefined : expandHome(o.localDirectory),
    logDirectory: o.logDirectory === undefined ? undefined : expandHome(o.logDirectory),
    workerExtraArgs: o.workerExtraArgs ?? [],
    env: o.env ?? {},
    prologue: o.jobScriptPrologue === undefined ? [] : typeof o.jobScriptPrologue === "string" ? [o.jobScriptPrologue] : o.jobScriptPrologue,
    workerCommand: o.workerCommand,
    pollIntervalSeconds: o.pollInterval,
    sharedDirectory: expandHome(o.sharedDirectory ?? "~/.skein"),
    dashboard: o.dashboard ?? true,
    dashboardPort: o.dashboardPort ?? 0,
    dashboardHost: o.dashboardHost ?? "127.0.0.1",
    dashboardOpenMetrics: o.dashboardOpenMetrics ?? false,
    tls: o.tls === true ? true : o.tls ? { cert: expandHome(o.tls.cert), key: expandHome(o.tls.key), ca: expandHome(o.tls.ca), ...(o.tls.checkServerNames === undefined ? {} : { checkServerNames: o.tls.checkServerNames }) } : undefined,
    allowedModules: o.allowedModules?.map((entry) => (entry.startsWith("~") ? expandHome(entry) : entry)),
    allowedFailures: o.allowedFailures ?? 3,
    maxJobs: o.maxJobs,
    maxQueuedJobs: o.maxQueuedJobs,
    workerLauncher: o.workerLauncher ?? [],
    nodes: o.nodes,
    jobArrays: o.jobArrays ?? false,
    schedulerJob: schedulerJobSettings(o.scheduler, o.walltime, sourceOf),
  };
}

function schedulerJobSettings(
  scheduler: v.InferOutput<typeof SchedulerSchema> | undefined,
  clusterWalltime: string | number | undefined,
  sourceOf: (key: string) => string,
): SchedulerJobSettings | undefined {
  if (!scheduler?.inJob) return undefined;
  const walltime = scheduler.walltime ?? clusterWalltime;
  return {
    cores: scheduler.cores ?? 1,
    memoryBytes: scheduler.memory === undefined ? undefined : parseBytes(scheduler.memory, `option "scheduler.memory" from ${sourceOf("scheduler")}`),
    walltimeSeconds: walltime === undefined ? undefined : parseWalltime(walltime, `option "${scheduler.walltime === undefined ? "walltime" : "scheduler.walltime"}" from ${sourceOf(scheduler.walltime === undefined ? "walltime" : "scheduler")}`),
    file: scheduler.file === undefined ? undefined : expandHome(scheduler.file),
    startTimeoutSeconds: scheduler.startTimeout ?? 600,
    command: scheduler.command,
  };
}

/** The options that are not common ones: they go to the backend. */
export function backendOptionsOf(options: Record<string, unknown>): Record<string, unknown> {
  const common = new Set<string>(COMMON_OPTION_KEYS);
  return Object.fromEntries(Object.entries(options).filter(([k]) => !common.has(k)));
}

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(2)) : resolve(path);
}

function pickCommon(options: ClusterOptions): Record<string, unknown> {
  const common = new Set<string>(COMMON_OPTION_KEYS);
  return Object.fromEntries(Object.entries(options ?? {}).filter(([k, value]) => common.has(k) && value !== undefined));
}
