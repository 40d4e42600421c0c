/**
 * The contract between `Cluster` (all policy: how many jobs, when to replace one, how to shut down)
 * and a batch system (how to start, watch and stop one job). A backend knows nothing of tasks.
 */

/** A batch system's job identifier, as printed by `qsub`/`sbatch` or made up by a backend. */
export type JobId = string & { readonly __brand: "JobId" };

/** Brand a string as a JobId (backends call this on ids they parsed). */
export const asJobId = (id: string): JobId => id as JobId;

/** What every backend receives; backend-specific options were validated by the backend's factory. */
export interface JobSpec {
  /** Batch job name (`#PBS -N`, `--job-name`) and the prefix of the worker names. */
  readonly name: string;
  /** Worker processes this job starts (`skein worker --nworkers`). */
  readonly workerProcesses: number;
  /** Executor threads per worker process (`--nthreads`). */
  readonly threadsPerWorker: number;
  /** Cores the job asks the batch system for. */
  readonly cores: number;
  /** Memory the whole job asks for, in bytes. */
  readonly memoryBytes?: number;
  /** Memory limit of one worker process, in bytes (memory / processes). */
  readonly memoryPerWorkerBytes?: number;
  /** Wall-clock limit the batch system enforces, in seconds. */
  readonly walltimeSeconds?: number;
  /**
   * `ws://host:port` of the scheduler the workers connect to. Empty for the job that runs the
   * scheduler itself (`scheduler: { inJob: true }`); its workers get `--scheduler-file` instead.
   */
  readonly schedulerAddress: string;
  /**
   * The cluster secret. Backends pass it by environment (`SKEIN_SECRET`) or a 0600 file,
   * never on a command line where `ps` would show it, nor in a job's environment where
   * `qstat -f` would show it to other users.
   */
  readonly secret: string;
  /**
   * A 0600 file holding the secret, on a filesystem the workers' hosts also see (written by
   * `Cluster` for backends with `remoteWorkers`). Jobs point `SKEIN_SECRET_FILE` at it.
   */
  readonly secretFile?: string;
  /** The command that starts the worker supervisor (or, in the scheduler's job, `skein`), as absolute paths: `[node, .../bin.js]`. */
  readonly workerCommand: readonly string[];
  /** Arguments after the worker command (`--nworkers`, `--nthreads`, `--name`, …), already quoted for nothing. */
  readonly workerArgs: readonly string[];
  /** Network interface the workers listen on and advertise, e.g. "ib0". */
  readonly interface?: string;
  /** Extra environment for the job. */
  readonly env: Readonly<Record<string, string>>;
  /** Shell lines run before the worker starts (`module load node`). */
  readonly prologue: readonly string[];
  /** Directory for the job's output file. */
  readonly logDirectory?: string;
  /**
   * Nodes the job spans (default 1). With more than one, the job script starts the worker
   * supervisor once on every node (`srun`, `pbsdsh`), each with `workerProcesses` workers, and
   * `cores` / `memoryBytes` describe one node. Only given to backends with the `multiNode` capability.
   */
  readonly nodes?: number;
  /**
   * Set for a job array of this many elements (indices 1..arraySize), passed only to `submitArray`.
   * Every element runs the same script; the script makes worker names unique per element.
   */
  readonly arraySize?: number;
}

/** What a backend knows of a job. `unknown` is never silently mapped to `exited`. */
export type JobState =
  | { readonly state: "queued"; readonly reason?: string }
  | { readonly state: "running"; readonly host?: string }
  | { readonly state: "exited"; readonly exitCode: number | null; readonly reason?: string }
  | { readonly state: "unknown"; readonly detail: string };

export interface BackendCapabilities {
  /** The batch system enforces walltime (local and ssh do not). */
  readonly walltime: boolean;
  /** `logs()` can return the job's output. */
  readonly logs: boolean;
  /** Workers run on other hosts: the scheduler must listen on an address they can reach. */
  readonly remoteWorkers: boolean;
  /** `submitArray` submits one job array (`jobArrays: true`). @default false */
  readonly arrays?: boolean;
  /** Jobs may span several nodes (`JobSpec.nodes`, the `nodes` option). @default false */
  readonly multiNode?: boolean;
}

/**
 * What `submitArray` returns: the array's own id (as the batch system printed it) and one id per
 * element, in index order (element 1 first). Element ids are ordinary `JobId`s: `status`, `cancel`
 * and `logs` take them like any other, so `Cluster` keeps one job record per element and can
 * cancel or replace each on its own. Cancelling every element cancels the array.
 *
 * | system | array id | element ids |
 * |---|---|---|
 * | Slurm | `12` | `12_1`, `12_2`, … |
 * | Torque, PBS Pro | `12[].server` | `12[1].server`, `12[2].server`, … |
 * | Slurm's Torque wrappers | `12` | `12_1`, `12_2`, … (read with squeue/scancel: the wrappers cannot address elements) |
 */
export interface SubmittedArray {
  readonly id: JobId;
  readonly elements: readonly JobId[];
}

export interface ClusterBackend {
  /** Short name used in errors and config: "pbs", "slurm", "ssh", "local". */
  readonly name: string;
  readonly capabilities: BackendCapabilities;
  /** How often `Cluster` asks for status by default, in seconds (batch servers dislike hammering). */
  readonly defaultPollIntervalSeconds?: number;
  /** The exact script `submit` will run; shown by `skein job-script`. Must be pure. */
  jobScript(job: JobSpec): string;
  /** Hand the job to the system and return its id. Must not wait for the job to start. */
  submit(job: JobSpec, signal?: AbortSignal): Promise<JobId>;
  /**
   * Only with the `arrays` capability: submit `job` as ONE job array of `job.arraySize` elements
   * (indices 1..arraySize) and return the array's id and its elements' ids. Must not wait for
   * the elements to start. Backends without arrays leave it out; `submit` is unchanged.
   */
  submitArray?(job: JobSpec & { readonly arraySize: number }, signal?: AbortSignal): Promise<SubmittedArray>;
  /**
   * Nodes every job spans when the backend's own options decide it (PBS `resourceSpec:
   * "nodes=2:ppn=12"`). `Cluster` uses it when the `nodes` option is not given, and refuses a
   * `nodes` option that contradicts it.
   */
  readonly nodesPerJob?: number;
  /**
   * One call for many jobs. An id the system no longer knows comes back as
   * `{ state: "exited", exitCode: null, reason }`; a failing status command throws.
   */
  status(ids: readonly JobId[]): Promise<ReadonlyMap<JobId, JobState>>;
  /** Idempotent: cancelling a finished or unknown job is not an error; any other failure is. */
  cancel(ids: readonly JobId[]): Promise<void>;
  /** The job's output, shown when a job ends before its workers connect. */
  logs?(id: JobId): Promise<{ stdout: string; stderr: string }>;
  /**
   * Synchronous last resort from a process `exit` handler: stop every job this backend started,
   * without waiting. Local processes are signalled; batch systems get a detached cancel command.
   */
  cancelSync?(ids: readonly JobId[]): void;
  /** Release backend resources (ssh connections). Never cancels jobs; `Cluster` does that. */
  close?(): Promise<void>;
}

export type BackendFactory<Options> = (options: Options) => ClusterBackend;
