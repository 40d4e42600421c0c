/**
 * Torque and PBS Pro / OpenPBS through `qsub`, `qstat -f` and `qdel`. Everything but the directive
 * syntax and the output formats is `createBatchBackend`'s; all policy is `Cluster`'s. Job arrays
 * (`qsub -t` / `-J`) and jobs on several nodes (`nodes=2:ppn=12`, started with pbsdsh) too.
 */
import * as v from "valibot";
import { createBatchBackend, validateBackendOptions, type BackendContext, type ClusterBackend } from "@skein/core";
import { pbsArrays } from "./arrays.js";
import { nodesInResourceSpec, type PbsFlavor } from "./directives.js";
import { pbsJobScript } from "./job-script.js";
import { isUnknownJobError, normaliseJobId, parseQstatFull } from "./qstat-parse.js";
import { parseQsubJobId } from "./qsub-parse.js";
import { withSlurmWrapperElements } from "./slurm-wrapper-elements.js";

export interface PbsCommands {
  /** @default ["qsub"] */
  readonly submit: readonly string[];
  /** @default ["qstat", "-f"] for Torque, ["qstat", "-f", "-x"] for PBS Pro (so finished jobs keep their exit status) */
  readonly status: readonly string[];
  /** @default ["qdel"] */
  readonly cancel: readonly string[];
}

export interface PbsOptions {
  /** Queue (`#PBS -q`). @default the server's default queue */
  queue?: string;
  /** Account to charge (`#PBS -A`). */
  account?: string;
  /**
   * The resource request, written verbatim as `#PBS -l <resourceSpec>`, e.g. "nodes=1:c18a:ppn=12".
   * It replaces what Skein would derive from cores and memory (`nodes=1:ppn=12` and `mem=…` on
   * Torque, `select=1:ncpus=12:mem=…` on PBS Pro): add `mem=` yourself if your site needs it.
   * Its node count (`nodes=2:ppn=12`, `select=2:…`) is the number of nodes per job: every node runs
   * `processes` workers.
   */
  resourceSpec?: string;
  /** More directives, each written as `#PBS <line>` after Skein's own, e.g. ["-m abe", "-l feature=c18a"]. @default [] */
  jobExtraDirectives?: string[];
  /** First line of the job script; the script also runs under "#!/bin/tcsh". @default "#!/usr/bin/env bash" */
  shebang?: string;
  /** Resource syntax and status flags: "torque" (also Slurm's Torque wrappers) or "pbspro" (PBS Pro, OpenPBS). @default "torque" */
  flavor?: PbsFlavor;
  /** Replace the argv prefix of qsub, qstat or qdel (a wrapper script, an absolute path, extra flags). */
  commands?: Partial<PbsCommands>;
  /** Seconds qsub may take before it is killed and the submission fails. @default 60 */
  submitCommandTimeout?: number;
  /** Seconds qstat may take before it is killed (the next poll tries again). @default 30 */
  statusCommandTimeout?: number;
  /** Seconds qdel may take before it is killed. @default 30 */
  cancelCommandTimeout?: number;
}

/** Option names `createCluster({ backend: "pbs", … })` passes to this backend. */
export const optionKeys = [
  "queue",
  "account",
  "resourceSpec",
  "jobExtraDirectives",
  "shebang",
  "flavor",
  "commands",
  "submitCommandTimeout",
  "statusCommandTimeout",
  "cancelCommandTimeout",
] as const satisfies readonly (keyof PbsOptions)[];

/** The factory `createCluster({ backend: "pbs" })` calls; errors name each option's source. */
export function createBackend(options: Record<string, unknown>, context?: BackendContext): ClusterBackend {
  return buildPbsBackend(options, context?.sourceOf ?? (() => "pbsBackend options"));
}

/** Build the backend directly: `Cluster.start(pbsBackend({ queue: "batch" }), settings)`. */
export function pbsBackend(options: PbsOptions = {}): ClusterBackend {
  return buildPbsBackend(options, () => "pbsBackend options");
}

// --- internal ---

const word = (what: string, example: string) =>
  v.pipe(v.string(`must be ${what}`), v.regex(/^\S+$/, `must be ${what} without spaces, e.g. "${example}"`));
const line = (what: string) => v.pipe(v.string(`must be ${what}`), v.regex(/^[^\n\r]*$/, `must be ${what} on one line`));
const argv = v.pipe(v.array(v.string(), 'must be an argv array, e.g. ["qstat", "-f"]'), v.minLength(1, 'must not be empty, e.g. ["qsub"]'));
const seconds = v.pipe(v.number("must be a number of seconds"), v.gtValue(0, "must be more than 0 seconds"));

const PbsOptionsSchema = v.strictObject({
  queue: v.optional(word("a queue name", "batch")),
  account: v.optional(word("an account name", "proj123")),
  resourceSpec: v.optional(
    v.pipe(line("a resource list"), v.regex(/^(?!\s*-l\b)\S/, 'must be the text after "-l", e.g. "nodes=1:ppn=12" or "select=1:ncpus=12:mem=32gb"')),
  ),
  jobExtraDirectives: v.optional(
    v.array(v.pipe(line("a directive"), v.regex(/^(?!\s*#PBS)/, 'must be written without "#PBS", e.g. "-m abe"')), 'must be an array of directives, e.g. ["-m abe"]'),
  ),
  shebang: v.optional(v.pipe(line("a shebang line"), v.regex(/^#!\S/, 'must start with "#!", e.g. "#!/bin/tcsh"'))),
  flavor: v.optional(v.picklist(["torque", "pbspro"], 'must be "torque" (Torque, Slurm\'s Torque wrappers) or "pbspro" (PBS Pro, OpenPBS)')),
  commands: v.optional(v.strictObject({ submit: v.optional(argv), status: v.optional(argv), cancel: v.optional(argv) }, "must be an object like { status: [\"qstat\", \"-f\"] }")),
  submitCommandTimeout: v.optional(seconds),
  statusCommandTimeout: v.optional(seconds),
  cancelCommandTimeout: v.optional(seconds),
});

function buildPbsBackend(input: unknown, sourceOf: (key: string) => string): ClusterBackend {
  const options = validateBackendOptions("pbs", PbsOptionsSchema, input ?? {}, sourceOf);
  const flavor = options.flavor ?? "torque";
  const scriptOptions = {
    flavor,
    queue: options.queue,
    account: options.account,
    resourceSpec: options.resourceSpec,
    jobExtraDirectives: options.jobExtraDirectives ?? [],
    shebang: options.shebang,
  };
  const nodesPerJob = options.resourceSpec === undefined ? undefined : nodesInResourceSpec(options.resourceSpec);
  const backend = createBatchBackend({
    name: "pbs",
    capabilities: { multiNode: true },
    arrays: pbsArrays(flavor),
    nodesPerJob,
    commands: {
      submit: options.commands?.submit ?? ["qsub"],
      // Torque's -x means XML; PBS Pro's keeps finished jobs (with Exit_status) in the answer.
      status: options.commands?.status ?? (flavor === "pbspro" ? ["qstat", "-f", "-x"] : ["qstat", "-f"]),
      cancel: options.commands?.cancel ?? ["qdel"],
    },
    timeouts: {
      ...(options.submitCommandTimeout ? { submit: options.submitCommandTimeout * 1000 } : {}),
      ...(options.statusCommandTimeout ? { status: options.statusCommandTimeout * 1000 } : {}),
      ...(options.cancelCommandTimeout ? { cancel: options.cancelCommandTimeout * 1000 } : {}),
    },
    jobScript: (job) => pbsJobScript(job, scriptOptions),
    // On the command line, because Slurm's Torque wrapper overrides the script's -j/-o with its own.
    submitArgs: (_job, outputFile) => ["-j", "oe", "-o", outputFile],
    parseSubmitOutput: parseQsubJobId,
    parseStatusOutput: parseQstatFull,
    isUnknownJobExit: (result) => isUnknownJobError(result.stderr, result.exitCode),
    normaliseJobId,
  });
  // Array elements submitted through Slurm's Torque wrappers are read with squeue (see arrays.ts).
  return withSlurmWrapperElements(backend, undefined, (options.statusCommandTimeout ?? 30) * 1000);
}
