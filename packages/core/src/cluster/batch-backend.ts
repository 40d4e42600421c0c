/**
 * The mechanics every batch backend shares (`qsub`/`sbatch`, `qstat`/`squeue`, `qdel`/`scancel`),
 * so a backend supplies only what differs: its directives, argv and output parsers. Commands run
 * without a shell and with a timeout (a hung `qstat` must not hang Skein); every failure is a
 * `BatchCommandError` carrying the command, its exit code and both outputs.
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, openSync, readSync, closeSync, fstatSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type * as v from "valibot";
import { SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization";
import { validateOptions } from "../options.js";
import type { BackendCapabilities, ClusterBackend, JobId, JobSpec, JobState, SubmittedArray } from "./backend.js";

export interface BatchCommands {
  /** Submit argv prefix; the backend's submit arguments and the script path follow. */
  readonly submit: readonly string[];
  /** Status argv prefix; the job ids (or `statusArgs`) follow. */
  readonly status: readonly string[];
  /** Cancel argv prefix; the job ids follow. */
  readonly cancel: readonly string[];
}

/** Milliseconds each command may run before it is killed and reported as failed. */
export interface BatchTimeouts {
  readonly submit: number;
  readonly status: number;
  readonly cancel: number;
}

export const DEFAULT_BATCH_TIMEOUTS: BatchTimeouts = { submit: 60_000, status: 30_000, cancel: 30_000 };

/** What one command did; given to the backend's parsers and carried by `BatchCommandError`. */
export interface CommandResult {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface BatchBackendDefinition {
  /** "pbs", "slurm": the component named in errors. */
  readonly name: string;
  readonly commands: BatchCommands;
  readonly timeouts?: Partial<BatchTimeouts> | undefined;
  /** @default { walltime: true, logs: true, remoteWorkers: true } */
  readonly capabilities?: Partial<BackendCapabilities>;
  /** @default 5 */
  readonly defaultPollIntervalSeconds?: number;
  /** The whole script: shebang, directives, body (see `batchJobScript`). Must be pure. */
  jobScript(job: JobSpec): string;
  /** Arguments between the submit command and the script path; must send all job output to `outputFile`. */
  submitArgs(job: JobSpec, outputFile: string): readonly string[];
  /** The id the submit command printed; throws (with the expected form) when there is none. */
  parseSubmitOutput(stdout: string): JobId;
  /** Arguments after the status command. @default the ids */
  statusArgs?(ids: readonly JobId[]): readonly string[];
  /** States of the jobs the status command printed, keyed as printed. Throws on output it cannot read. */
  parseStatusOutput(stdout: string): ReadonlyMap<string, JobState>;
  /** True only when a failing status command said nothing but "unknown job" (its stdout is still the answer). */
  isUnknownJobExit(result: CommandResult): boolean;
  /** How printed and asked ids compare (`1234.server` vs `1234`). @default the id itself */
  normaliseJobId?(id: string): string;
  /** Job arrays, when the system has them: gives the backend `submitArray` and the `arrays` capability. */
  readonly arrays?: BatchArrays | undefined;
  /** Nodes every job spans when the backend's own options say so (see `ClusterBackend.nodesPerJob`). */
  readonly nodesPerJob?: number | undefined;
}

/** How a batch system makes, names and reads job arrays. Elements have indices 1..size. */
export interface BatchArrays {
  /** Arguments (before the script path) that make the submission an array of indices 1..size: `["--array=1-4"]`, `["-t", "1-4"]`. */
  submitArgs(size: number): readonly string[];
  /**
   * What the system replaces by the element's index in the output path given to `submitArgs`:
   * `%a` (Slurm, its Torque wrappers), `^array_index^` (PBS Pro). Each element then writes its own file.
   */
  readonly indexPlaceholder: string;
  /** Element ids, in index order, from the id the submit command printed (`12` → `12_1`…, `12[].srv` → `12[1].srv`…). Throws on an id it cannot expand. */
  elementIds(printedId: JobId, size: number): JobId[];
}

/** A batch command failed, timed out, or printed what its parser could not read. */
export class BatchCommandError extends SkeinError {
  readonly command: string;
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;

  constructor(component: string, result: CommandResult, problem: string, options?: ErrorOptions) {
    const command = formatCommand(result.argv);
    super(component, SKEIN_ERROR_CODES.COMMAND_FAILED, `${command} ${problem}\nstdout: ${show(result.stdout)}\nstderr: ${show(result.stderr)}`, options);
    this.command = command;
    this.argv = result.argv;
    this.exitCode = result.exitCode;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
  }
}

/** Bytes of a job's output file `logs()` returns: the end is what explains a failure. */
const LOG_TAIL_BYTES = 64 * 1024;

export function createBatchBackend(definition: BatchBackendDefinition): ClusterBackend {
  const { name, commands } = definition;
  const timeouts = { ...DEFAULT_BATCH_TIMEOUTS, ...definition.timeouts };
  const normalise = definition.normaliseJobId ?? ((id: string) => id);
  /** Where each job's output may be, in order of likelihood (array elements have several candidates). */
  const outputFiles = new Map<JobId, readonly string[]>();

  const run = async (argv: readonly string[], timeout: number, signal?: AbortSignal): Promise<CommandResult> => {
    const [file, ...args] = argv as [string, ...string[]];
    // Loaded on first use: execa costs ~100 ms to import, which every `import "@skein/core"` would pay.
    const { execa } = await import("execa");
    const result = await execa(file, args, {
      reject: false,
      timeout,
      forceKillAfterDelay: 2000,
      stdin: "ignore",
      // Batch systems copy the submitter's environment into the job (sbatch --export=ALL, qsub -V),
      // where `qstat -f` shows it to other users: keep any secret out of it.
      env: withoutSecrets(process.env),
      extendEnv: false,
      ...(signal ? { cancelSignal: signal } : {}),
    });
    const outcome: CommandResult = { argv, exitCode: result.exitCode ?? null, stdout: result.stdout, stderr: result.stderr };
    if (result.timedOut) throw new BatchCommandError(name, outcome, `did not finish within ${timeout / 1000} s and was killed`);
    if (result.exitCode === undefined) throw new BatchCommandError(name, outcome, `could not run: ${result.originalMessage ?? result.shortMessage}`);
    return outcome;
  };

  const status = async (ids: readonly JobId[]): Promise<Map<JobId, JobState>> => {
    const states = new Map<JobId, JobState>();
    if (ids.length === 0) return states;
    const result = await run([...commands.status, ...(definition.statusArgs?.(ids) ?? ids)], timeouts.status);
    if (result.exitCode !== 0 && !definition.isUnknownJobExit(result)) throw new BatchCommandError(name, result, `failed with exit code ${result.exitCode}`);
    let printed: ReadonlyMap<string, JobState>;
    try {
      printed = definition.parseStatusOutput(result.stdout);
    } catch (error) {
      throw new BatchCommandError(name, result, `printed output Skein cannot read: ${(error as Error).message}`, { cause: error });
    }
    const byId = new Map([...printed].map(([id, state]) => [normalise(id), state]));
    for (const id of ids) states.set(id, byId.get(normalise(id)) ?? { state: "exited", exitCode: null, reason: `no longer known to ${name}` });
    return states;
  };

  const arrays = definition.arrays;

  /** Write the script to a private temporary file, run the submit command, parse the id; the script is gone afterwards. */
  const submitScript = async (job: JobSpec, extraArgs: readonly string[], outputPath: (file: string) => string, signal?: AbortSignal): Promise<{ id: JobId; outputFile: string }> => {
    if (!job.secretFile) throw new SkeinError(name, SKEIN_ERROR_CODES.BAD_OPTION, `job ${job.name} has no secretFile: batch jobs read the cluster secret from a file (Cluster writes it for backends with remoteWorkers)`);
    // A private directory per submission, gone right after it: nothing is left even when the
    // process ends without close().
    const scriptDir = mkdtempSync(join(tmpdir(), `skein-${name}-`));
    const token = randomUUID().slice(0, 8);
    const script = join(scriptDir, `${job.name}-${token}.sh`);
    const outputFile = outputPath(join(outputDirectory(job), `${job.name}-${token}.out`));
    writeFileSync(script, definition.jobScript(job), { mode: 0o600 });
    try {
      const result = await run([...commands.submit, ...definition.submitArgs(job, outputFile), ...extraArgs, script], timeouts.submit, signal);
      if (result.exitCode !== 0) throw new BatchCommandError(name, result, `failed with exit code ${result.exitCode}: the job was not submitted`);
      try {
        return { id: definition.parseSubmitOutput(result.stdout), outputFile };
      } catch (error) {
        // It said yes: a job may exist that Skein cannot track or cancel. Say how to find it.
        throw new BatchCommandError(
          name,
          result,
          `exited 0 but printed no job id Skein can read, so a job named ${job.name} may have been submitted all the same: look for it in the batch system's queue and cancel it there. ${(error as Error).message}`,
          { cause: error },
        );
      }
    } finally {
      // Every batch system copies the script when it accepts the job.
      rmSync(scriptDir, { recursive: true, force: true });
    }
  };

  return {
    name,
    capabilities: { walltime: true, logs: true, remoteWorkers: true, ...(arrays ? { arrays: true } : {}), ...definition.capabilities },
    defaultPollIntervalSeconds: definition.defaultPollIntervalSeconds ?? 5,
    jobScript: (job) => definition.jobScript(job),

    async submit(job, signal) {
      const { id, outputFile } = await submitScript(job, [], (file) => file, signal);
      outputFiles.set(id, [outputFile]);
      return id;
    },

    ...(arrays
      ? {
          async submitArray(job: JobSpec & { readonly arraySize: number }, signal?: AbortSignal): Promise<SubmittedArray> {
            const size = job.arraySize;
            if (!Number.isInteger(size) || size < 1) throw new SkeinError(name, SKEIN_ERROR_CODES.BAD_OPTION, `a job array needs a whole number of elements, got ${String(size)}`);
            // One output file per element: the system puts the index where the placeholder is.
            const { id, outputFile } = await submitScript(job, arrays.submitArgs(size), (file) => file.replace(/\.out$/, `.${arrays.indexPlaceholder}.out`), signal);
            let elements: JobId[];
            try {
              elements = arrays.elementIds(id, size);
            } catch (error) {
              // The array exists but cannot be addressed: do not leave it behind.
              await run([...commands.cancel, id], timeouts.cancel).catch(() => undefined);
              throw new SkeinError(name, SKEIN_ERROR_CODES.COMMAND_FAILED, `submitted job array ${id}, but cannot name its elements (${(error as Error).message}); it was cancelled`, { cause: error });
            }
            elements.forEach((element, i) => outputFiles.set(element, elementOutputFiles(outputFile, arrays.indexPlaceholder, i + 1)));
            return { id, elements };
          },
        }
      : {}),
    ...(definition.nodesPerJob !== undefined ? { nodesPerJob: definition.nodesPerJob } : {}),

    status,

    async cancel(ids) {
      if (ids.length === 0) return;
      const result = await run([...commands.cancel, ...ids], timeouts.cancel);
      if (result.exitCode === 0) return;
      // qdel of a finished or unknown job fails (the Slurm wrapper silently, exit 1): only the
      // batch system's own status can tell that apart from a real failure.
      const states = await status(ids);
      const alive = ids.filter((id) => states.get(id)?.state !== "exited");
      if (alive.length > 0) throw new BatchCommandError(name, result, `failed with exit code ${result.exitCode}, and ${alive.join(", ")} ${alive.length === 1 ? "is" : "are"} still there`);
    },

    async logs(id) {
      const files = outputFiles.get(id);
      if (!files) throw new SkeinError(name, SKEIN_ERROR_CODES.BAD_OPTION, `job ${id} was not submitted by this backend, so its output file is not known`);
      const file = files.find((f) => existsSync(f)) ?? (files[0] as string);
      return { stdout: readTail(file, LOG_TAIL_BYTES), stderr: "" };
    },

    cancelSync(ids) {
      if (ids.length === 0) return;
      const [file, ...args] = [...commands.cancel, ...ids] as [string, ...string[]];
      spawnSync(file, args, { stdio: "ignore", timeout: timeouts.cancel, env: withoutSecrets(process.env) });
    },
  };
}

/**
 * Where a job's output goes: `logDirectory`, else a 0700 `jobs/` next to the secret file (on the
 * shared filesystem, so the file a compute node writes is readable here; removed with the cluster).
 */
function outputDirectory(job: JobSpec): string {
  const dir = job.logDirectory ? resolve(job.logDirectory) : join(dirname(job.secretFile as string), "jobs");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * Where element `index` of an array writes its output, given the path with the placeholder:
 * the placeholder replaced (Slurm, its Torque wrappers, PBS Pro), or the literal path with
 * `-<index>` appended (Torque, which appends the index to the file name it was given).
 */
function elementOutputFiles(pattern: string, placeholder: string, index: number): string[] {
  return [pattern.replace(placeholder, String(index)), `${pattern}-${index}`, pattern];
}

function readTail(file: string, bytes: number): string {
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

function withoutSecrets(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[0] !== "SKEIN_SECRET"));
}

function show(text: string): string {
  const trimmed = text.trimEnd();
  return trimmed === "" ? "(empty)" : trimmed.length > 4000 ? `…${trimmed.slice(-4000)}` : trimmed;
}

// --- pure helpers for backends ---

/** The command as a user could paste it into sh. */
export function formatCommand(argv: readonly string[]): string {
  return argv.map((word) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`)).join(" ");
}

/**
 * One word, quoted so that sh, bash and tcsh all read it back unchanged: single quotes, with `'`
 * and `!` outside them (tcsh expands `!` history even inside single quotes, even in scripts).
 * A newline cannot be quoted for tcsh at all, so it is refused.
 */
export function quoteWord(word: string): string {
  if (/[\n\r\0]/.test(word)) throw new SkeinError("job-script", SKEIN_ERROR_CODES.BAD_OPTION, `cannot put ${JSON.stringify(word)} in a job script: newlines and NUL cannot be quoted for tcsh`);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'"'"'`).replaceAll("!", `'\\!'`)}'`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What `batchJobScript` needs; the last two only for backends with arrays / multi-node jobs. */
export interface BatchJobScriptOptions {
  readonly shebang: string;
  readonly directives: readonly string[];
  readonly job: JobSpec;
  /**
   * Job arrays: the environment variables that hold an element's index, the first one set wins
   * (`["SLURM_ARRAY_TASK_ID"]`, `["PBS_ARRAYID", "SLURM_ARRAY_TASK_ID"]`). When `job.arraySize` is
   * set the worker gets `--name-env <vars>`, so element 3 of a job named `c-0` has workers `c-0-3-<i>`.
   */
  readonly arrayIndexVariables?: readonly string[] | undefined;
  /**
   * Jobs on several nodes (`job.nodes` > 1): the words that run the rest of the line once on every
   * node of the job (`srun --ntasks-per-node=1 …`), and the variables that hold the node's index
   * there (`SLURM_NODEID`), appended to worker names with `--name-env`.
   */
  readonly multiNode?: { readonly launcher: readonly string[]; readonly nodeIndexVariables: readonly string[] } | undefined;
}

/**
 * A job script that runs under sh, bash and tcsh alike: no `export`, no `$PBS_*` variables (tcsh
 * stops at an undefined one, and Slurm's wrappers define none), every word quoted. The worker gets
 * its environment, including `SKEIN_SECRET_FILE`, through `env` and replaces the shell (`exec`),
 * so the batch system's signals reach it directly. Array indices and node numbers are read by the
 * worker itself (`--name-env`), so the script needs no shell conditionals. On several nodes the
 * last line is `exec <launcher> /usr/bin/env … worker …`: the launcher starts one supervisor per node.
 */
export function batchJobScript(options: BatchJobScriptOptions): string {
  const { job } = options;
  const { SKEIN_SECRET_FILE: _replaced, ...extra } = job.env;
  const env = { ...(job.secretFile ? { SKEIN_SECRET_FILE: job.secretFile } : {}), ...extra };
  for (const key of Object.keys(env)) {
    if (!ENV_NAME.test(key)) throw new SkeinError("job-script", SKEIN_ERROR_CODES.BAD_OPTION, `environment variable name ${JSON.stringify(key)} (option "env") must be letters, digits and "_", not starting with a digit`);
  }
  const nameEnv: string[] = [];
  if (job.arraySize !== undefined) {
    if (!options.arrayIndexVariables?.length) throw new SkeinError("job-script", SKEIN_ERROR_CODES.BAD_OPTION, `job ${job.name} is a job array, but this backend's script knows no array index variable`);
    nameEnv.push("--name-env", options.arrayIndexVariables.join(","));
  }
  const multiNode = (job.nodes ?? 1) > 1;
  if (multiNode) {
    if (!options.multiNode) throw new SkeinError("job-script", SKEIN_ERROR_CODES.BAD_OPTION, `job ${job.name} spans ${job.nodes} nodes, but this backend cannot start workers on several nodes`);
    nameEnv.push("--name-env", options.multiNode.nodeIndexVariables.join(","));
  }
  const words = [
    "exec",
    // A launcher may not search the PATH (pbsdsh): name env by its absolute path there.
    ...(multiNode && options.multiNode ? [...options.multiNode.launcher, "/usr/bin/env"] : ["env"]),
    ...Object.entries(env).map(([k, value]) => `${k}=${value}`),
    ...job.workerCommand,
    ...job.workerArgs,
    ...nameEnv,
  ];
  return [
    options.shebang,
    ...options.directives,
    `# Skein job for cluster ${job.name}. The worker reads the cluster secret from the file in SKEIN_SECRET_FILE.`,
    ...job.prologue,
    // Torque and PBS Pro start jobs in $HOME, Slurm in the submit directory: only an absolute path means the same in both.
    ...(job.logDirectory ? [`cd ${quoteWord(resolve(job.logDirectory))}`] : []),
    words.map(quoteWord).join(" "),
    "",
  ].join("\n");
}

/** Validate a backend's own options with valibot; errors name the key, its value and its source. */
export function validateBackendOptions<S extends v.GenericSchema>(component: string, schema: S, options: unknown, sourceOf: (key: string) => string): v.InferOutput<S> {
  return validateOptions(schema, options, { component, source: sourceOf });
}
