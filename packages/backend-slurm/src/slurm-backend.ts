/**
 * Slurm through `sbatch --parsable`, `squeue` and `scancel`. Everything but the directives and the
 * output formats is `createBatchBackend`'s; all policy is `Cluster`'s. Job arrays
 * (`sbatch --array=1-N`, elements `12_1`, …) and jobs on several nodes (`--nodes`, `srun`) too.
 */
import * as v from "valibot";
import { SKEIN_ERROR_CODES, SkeinError, asJobId, createBatchBackend, validateBackendOptions, type BackendContext, type BatchArrays, type ClusterBackend } from "@skein/core";
import { slurmJobScript } from "./job-script.js";
import { parseSbatchJobId } from "./sbatch-parse.js";
import { SQUEUE_ARGS, isInvalidJobIdError, parseSqueue } from "./squeue-parse.js";

export interface SlurmCommands {
  /** @default ["sbatch", "--parsable"] */
  readonly submit: readonly string[];
  /** @default ["squeue", ...SQUEUE_ARGS]; `--jobs=1,2,3` is appended */
  readonly status: readonly string[];
  /** @default ["scancel"] */
  readonly cancel: readonly string[];
}

export interface SlurmOptions {
  /** Partition (`#SBATCH --partition`). @default the cluster's default partition */
  partition?: string;
  /** Same as `partition` (dask-jobqueue's name), so one config works for PBS and Slurm. */
  queue?: string;
  /** Account to charge (`#SBATCH --account`). */
  account?: string;
  /** More directives, each written as `#SBATCH <line>` after Skein's own, e.g. ["--constraint=c18a"]. @default [] */
  jobExtraDirectives?: string[];
  /** First line of the job script; the script also runs under "#!/bin/tcsh". @default "#!/usr/bin/env bash" */
  shebang?: string;
  /** Replace the argv prefix of sbatch, squeue or scancel. */
  commands?: Partial<SlurmCommands>;
  /** Seconds sbatch may take before it is killed and the submission fails. @default 60 */
  submitCommandTimeout?: number;
  /** Seconds squeue may take before it is killed (the next poll tries again). @default 30 */
  statusCommandTimeout?: number;
  /** Seconds scancel may take before it is killed. @default 30 */
  cancelCommandTimeout?: number;
}

/** Option names `createCluster({ backend: "slurm", … })` passes to this backend. */
export const optionKeys = [
  "partition",
  "queue",
  "account",
  "jobExtraDirectives",
  "shebang",
  "commands",
  "submitCommandTimeout",
  "statusCommandTimeout",
  "cancelCommandTimeout",
] as const satisfies readonly (keyof SlurmOptions)[];

/** The factory `createCluster({ backend: "slurm" })` calls; errors name each option's source. */
export function createBackend(options: Record<string, unknown>, context?: BackendContext): ClusterBackend {
  return buildSlurmBackend(options, context?.sourceOf ?? (() => "slurmBackend options"));
}

/** Build the backend directly: `Cluster.start(slurmBackend({ partition: "batch" }), settings)`. */
export function slurmBackend(options: SlurmOptions = {}): ClusterBackend {
  return buildSlurmBackend(options, () => "slurmBackend options");
}

// --- internal ---

const word = (what: string, example: string) =>
  v.pipe(v.string(`must be ${what}`), v.regex(/^\S+$/, `must be ${what} without spaces, e.g. "${example}"`));
const line = (what: string) => v.pipe(v.string(`must be ${what}`), v.regex(/^[^\n\r]*$/, `must be ${what} on one line`));
const argv = v.pipe(v.array(v.string(), 'must be an argv array, e.g. ["squeue"]'), v.minLength(1, 'must not be empty, e.g. ["sbatch", "--parsable"]'));
const seconds = v.pipe(v.number("must be a number of seconds"), v.gtValue(0, "must be more than 0 seconds"));

const SlurmOptionsSchema = v.strictObject({
  partition: v.optional(word("a partition name", "batch")),
  queue: v.optional(word("a partition name", "batch")),
  account: v.optional(word("an account name", "proj123")),
  jobExtraDirectives: v.optional(
    v.array(v.pipe(line("a directive"), v.regex(/^(?!\s*#SBATCH)/, 'must be written without "#SBATCH", e.g. "--constraint=c18a"')), 'must be an array of directives, e.g. ["--constraint=c18a"]'),
  ),
  shebang: v.optional(v.pipe(line("a shebang line"), v.regex(/^#!\S/, 'must start with "#!", e.g. "#!/bin/tcsh"'))),
  commands: v.optional(v.strictObject({ submit: v.optional(argv), status: v.optional(argv), cancel: v.optional(argv) }, 'must be an object like { submit: ["sbatch", "--parsable"] }')),
  submitCommandTimeout: v.optional(seconds),
  statusCommandTimeout: v.optional(seconds),
  cancelCommandTimeout: v.optional(seconds),
});

function buildSlurmBackend(input: unknown, sourceOf: (key: string) => string): ClusterBackend {
  const options = validateBackendOptions("slurm", SlurmOptionsSchema, input ?? {}, sourceOf);
  if (options.queue !== undefined && options.partition !== undefined && options.queue !== options.partition) {
    throw new SkeinError(
      "slurm",
      SKEIN_ERROR_CODES.BAD_OPTION,
      `options "queue" (${JSON.stringify(options.queue)}, from ${sourceOf("queue")}) and "partition" (${JSON.stringify(options.partition)}, from ${sourceOf("partition")}) name different partitions; keep one of them`,
    );
  }
  const scriptOptions = {
    partition: options.partition ?? options.queue,
    account: options.account,
    jobExtraDirectives: options.jobExtraDirectives ?? [],
    shebang: options.shebang,
  };
  return createBatchBackend({
    name: "slurm",
    capabilities: { multiNode: true },
    arrays: SLURM_ARRAYS,
    commands: {
      submit: options.commands?.submit ?? ["sbatch", "--parsable"],
      status: options.commands?.status ?? ["squeue", ...SQUEUE_ARGS],
      cancel: options.commands?.cancel ?? ["scancel"],
    },
    timeouts: {
      ...(options.submitCommandTimeout ? { submit: options.submitCommandTimeout * 1000 } : {}),
      ...(options.statusCommandTimeout ? { status: options.statusCommandTimeout * 1000 } : {}),
      ...(options.cancelCommandTimeout ? { cancel: options.cancelCommandTimeout * 1000 } : {}),
    },
    jobScript: (job) => slurmJobScript(job, scriptOptions),
    // Without --error, sbatch writes stderr to the --output file too.
    submitArgs: (_job, outputFile) => [`--output=${outputFile}`],
    parseSubmitOutput: parseSbatchJobId,
    statusArgs: (ids) => [`--jobs=${ids.join(",")}`],
    parseStatusOutput: parseSqueue,
    isUnknownJobExit: (result) => isInvalidJobIdError(result.stderr, result.exitCode),
  });
}

/** `sbatch --array=1-N` prints the array's id (`12`); its elements are `12_1` … `12_N` for squeue and scancel alike. */
export const SLURM_ARRAYS: BatchArrays = {
  submitArgs: (size) => [`--array=1-${size}`],
  indexPlaceholder: "%a",
  elementIds: (arrayId, size) => {
    if (!/^\d+$/.test(arrayId)) throw new Error(`"${arrayId}" is not a Slurm job id`);
    return Array.from({ length: size }, (_, i) => asJobId(`${arrayId}_${i + 1}`));
  },
};
