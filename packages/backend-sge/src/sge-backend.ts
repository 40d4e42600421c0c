/**
 * Grid Engine (SGE 6.2–8.1, Son of Grid Engine, Univa/Altair Grid Engine) through `qsub -terse -V
 * -cwd -w e`, `qstat -xml`, `qdel` and, for the exit status of finished jobs, `qacct -j`. The
 * mechanics are `createBatchBackend`'s; this adds the directives, the parsers, qdel's verdicts and
 * the accounting look-up. Job arrays are `qsub -t 1-N`, their elements `12.1`, `12.2`, … (see
 * `arrays.ts`). All policy is `Cluster`'s.
 */
import { join } from "node:path";
import * as v from "valibot";
import {
  BatchCommandError,
  DEFAULT_BATCH_TIMEOUTS,
  createBatchBackend,
  validateBackendOptions,
  type BackendContext,
  type ClusterBackend,
  type JobId,
  type JobSpec,
  type JobState,
  type SubmittedArray,
} from "@skein/core";
import { createAccounting } from "./accounting.js";
import { sgeArrays } from "./arrays.js";
import { sgeJobScript } from "./job-script.js";
import { qdelSettled } from "./qdel-parse.js";
import { parseQstatXml } from "./qstat-parse.js";
import { parseQsubJobId } from "./qsub-parse.js";

export interface SgeCommands {
  /**
   * @default ["qsub", "-terse", "-V", "-cwd", "-w", "e"]: print only the id; give the job the
   * submitter's environment (less SKEIN_SECRET) and directory; refuse at once a request no queue can
   * ever satisfy, instead of letting it wait in qw forever. `-j y -o <file>` and the script follow.
   */
  readonly submit: readonly string[];
  /** @default ["qstat", "-xml"] (all of the user's jobs in one call; Skein picks its own) */
  readonly status: readonly string[];
  /** @default ["qdel"]; the job ids follow */
  readonly cancel: readonly string[];
  /** @default ["qacct", "-j"]; one job id follows */
  readonly accounting: readonly string[];
}

export interface SgeOptions {
  /** Queue (`#$ -q`), e.g. "all.q" or "all.q@node01". @default Grid Engine picks one */
  queue?: string;
  /** Project (`#$ -P`); it must exist in Grid Engine (`qconf -sprjl`). */
  project?: string;
  /** Account string (`#$ -A`), recorded in accounting; free text. */
  account?: string;
  /** Parallel environment for jobs of more than one core: `#$ -pe <pe> <cores>`. @default "smp" */
  parallelEnvironment?: string;
  /**
   * The complex Skein requests the job's memory as, PER SLOT: `#$ -l <memoryResource>=<memory /
   * cores>`. "h_vmem" (Grid Engine's usual one) becomes every job process's address-space limit,
   * times the slots: a Node.js worker reserves about 1 GB + 0.6 GB per thread of it (see the
   * README). "mem_free" is a load value, which `qsub -w e` cannot verify unless the site made it
   * consumable. false requests no memory (dask-jobqueue's default).
   * @default "h_vmem"
   */
  memoryResource?: string | false;
  /** Written verbatim as `#$ -l <resourceSpec>`, e.g. "h_vmem=4G,exclusive=true"; Skein then requests no memory itself. */
  resourceSpec?: string;
  /** More directives, each written as `#$ <line>` after Skein's own, e.g. ["-l gpu=1", "-m n"]. @default [] */
  jobExtraDirectives?: string[];
  /** First line of the job script; the script also runs under "#!/bin/tcsh". @default "#!/usr/bin/env bash" */
  shebang?: string;
  /** `#$ -S`, for queues whose shell_start_mode ignores the `#!` line. @default the shebang's interpreter if it is an absolute path ("#!/bin/tcsh" → /bin/tcsh) */
  shell?: string;
  /** Directory of Grid Engine's commands, used for the default commands ("/opt/sge/bin" → /opt/sge/bin/qsub). @default PATH */
  binDir?: string;
  /** Replace the argv prefix of qsub, qstat, qdel or qacct (a wrapper script, an absolute path, extra flags). */
  commands?: Partial<SgeCommands>;
  /** Ask `qacct -j` for the exit status of jobs that left qstat. @default true */
  accounting?: boolean;
  /** Seconds qsub may take before it is killed and the submission fails. @default 60 */
  submitCommandTimeout?: number;
  /** Seconds qstat (and each qacct) may take before it is killed (the next poll tries again). @default 30 */
  statusCommandTimeout?: number;
  /** Seconds qdel may take before it is killed. @default 30 */
  cancelCommandTimeout?: number;
}

/** Option names `createCluster({ backend: "sge", … })` passes to this backend. */
export const optionKeys = [
  "queue",
  "project",
  "account",
  "parallelEnvironment",
  "memoryResource",
  "resourceSpec",
  "jobExtraDirectives",
  "shebang",
  "shell",
  "binDir",
  "commands",
  "accounting",
  "submitCommandTimeout",
  "statusCommandTimeout",
  "cancelCommandTimeout",
] as const satisfies readonly (keyof SgeOptions)[];

export const DEFAULT_SUBMIT_ARGS: readonly string[] = ["-terse", "-V", "-cwd", "-w", "e"];

/** The factory `createCluster({ backend: "sge" })` calls; errors name each option's source. */
export function createBackend(options: Record<string, unknown>, context?: BackendContext): ClusterBackend {
  return buildSgeBackend(options, context?.sourceOf ?? (() => "sgeBackend options"));
}

/** Build the backend directly: `Cluster.start(sgeBackend({ queue: "all.q" }), settings)`. */
export function sgeBackend(options: SgeOptions = {}): ClusterBackend {
  return buildSgeBackend(options, () => "sgeBackend options");
}

// --- internal ---

const word = (what: string, example: string) =>
  v.pipe(v.string(`must be ${what}`), v.regex(/^\S+$/, `must be ${what} without spaces, e.g. "${example}"`));
const line = (what: string) => v.pipe(v.string(`must be ${what}`), v.regex(/^[^\n\r]*$/, `must be ${what} on one line`));
const argv = v.pipe(v.array(v.string(), 'must be an argv array, e.g. ["qstat", "-xml"]'), v.minLength(1, 'must not be empty, e.g. ["qdel"]'));
const seconds = v.pipe(v.number("must be a number of seconds"), v.gtValue(0, "must be more than 0 seconds"));
const absolutePath = (what: string, example: string) =>
  v.pipe(v.string(`must be ${what}`), v.regex(/^\/\S*$/, `must be an absolute path without spaces, e.g. "${example}"`));

const SgeOptionsSchema = v.strictObject({
  queue: v.optional(word("a queue name", "all.q")),
  project: v.optional(word("a project name", "proj123")),
  account: v.optional(word("an account string", "proj123")),
  parallelEnvironment: v.optional(word("a parallel environment name", "smp")),
  memoryResource: v.optional(
    v.union(
      [v.pipe(v.string(), v.regex(/^[A-Za-z_][\w.-]*$/, 'must be the name of a memory complex ("mem_free", "h_vmem", "m_mem_free", …) or false')), v.literal(false)],
      'must be the name of a memory complex ("mem_free", "h_vmem", "m_mem_free", …) or false',
    ),
  ),
  resourceSpec: v.optional(
    v.pipe(line("a resource list"), v.regex(/^(?!\s*-l\b)\S/, 'must be the text after "-l", e.g. "h_vmem=4G,exclusive=true"')),
  ),
  jobExtraDirectives: v.optional(
    v.array(v.pipe(line("a directive"), v.regex(/^(?!\s*#\$)/, 'must be written without "#$", e.g. "-l gpu=1"')), 'must be an array of directives, e.g. ["-l gpu=1"]'),
  ),
  shebang: v.optional(v.pipe(line("a shebang line"), v.regex(/^#!\S/, 'must start with "#!", e.g. "#!/bin/tcsh"'))),
  shell: v.optional(absolutePath("a shell", "/bin/bash")),
  binDir: v.optional(absolutePath("a directory", "/opt/sge/bin")),
  commands: v.optional(
    v.strictObject(
      { submit: v.optional(argv), status: v.optional(argv), cancel: v.optional(argv), accounting: v.optional(argv) },
      'must be an object like { status: ["qstat", "-xml"] }',
    ),
  ),
  accounting: v.optional(v.boolean("must be true or false")),
  submitCommandTimeout: v.optional(seconds),
  statusCommandTimeout: v.optional(seconds),
  cancelCommandTimeout: v.optional(seconds),
});

function buildSgeBackend(input: unknown, sourceOf: (key: string) => string): ClusterBackend {
  const options = validateBackendOptions("sge", SgeOptionsSchema, input ?? {}, sourceOf);
  const bin = (name: string) => (options.binDir ? join(options.binDir, name) : name);
  const commands: SgeCommands = {
    submit: options.commands?.submit ?? [bin("qsub"), ...DEFAULT_SUBMIT_ARGS],
    status: options.commands?.status ?? [bin("qstat"), "-xml"],
    cancel: options.commands?.cancel ?? [bin("qdel")],
    accounting: options.commands?.accounting ?? [bin("qacct"), "-j"],
  };
  const statusTimeout = (options.statusCommandTimeout ?? DEFAULT_BATCH_TIMEOUTS.status / 1000) * 1000;
  const scriptOptions = {
    queue: options.queue,
    project: options.project,
    account: options.account,
    parallelEnvironment: options.parallelEnvironment ?? "smp",
    memoryResource: options.memoryResource ?? "h_vmem",
    resourceSpec: options.resourceSpec,
    jobExtraDirectives: options.jobExtraDirectives ?? [],
    shebang: options.shebang,
    shell: options.shell,
  };

  const batch = createBatchBackend({
    name: "sge",
    commands,
    timeouts: {
      ...(options.submitCommandTimeout ? { submit: options.submitCommandTimeout * 1000 } : {}),
      status: statusTimeout,
      ...(options.cancelCommandTimeout ? { cancel: options.cancelCommandTimeout * 1000 } : {}),
    },
    jobScript: (job) => sgeJobScript(job, scriptOptions),
    // On the command line: it wins over the script's own -o, which serves scripts submitted by hand.
    submitArgs: (_job, outputFile) => ["-j", "y", "-o", outputFile],
    parseSubmitOutput: parseQsubJobId,
    // qstat -xml lists all of the user's jobs; it takes no job ids (qstat -j does, in another format).
    statusArgs: () => [],
    parseStatusOutput: parseQstatXml,
    // qstat -xml exits 0 with or without jobs; any other exit is a real failure.
    isUnknownJobExit: () => false,
    // qsub -t 1-N; elements are named job.task (12.2), as qstat -xml, qdel and qacct know them.
    arrays: sgeArrays,
  });

  const accounting = createAccounting(commands.accounting, statusTimeout);

  const status = async (ids: readonly JobId[]): Promise<Map<JobId, JobState>> => {
    const states = new Map(await batch.status(ids));
    if (options.accounting === false) return states;
    // qstat never lists a finished job, so every "exited" here is a job (or array task) that left qstat.
    const gone = ids.filter((id) => states.get(id)?.state === "exited");
    for (const [id, state] of await accounting.finalStates(gone)) states.set(id, state);
    return states;
  };

  const submitArray = batch.submitArray;
  return {
    ...batch,
    name: "sge",
    async submit(job, signal) {
      const before = Date.now();
      const id = await batch.submit(job, signal);
      accounting.submitted([id], before);
      return id;
    },
    ...(submitArray
      ? {
          async submitArray(job: JobSpec & { readonly arraySize: number }, signal?: AbortSignal): Promise<SubmittedArray> {
            const before = Date.now();
            const array = await submitArray(job, signal);
            // Each element has its own qacct record (taskid); the array as a whole has none.
            accounting.submitted(array.elements, before);
            return array;
          },
        }
      : {}),
    status,
    async cancel(ids) {
      try {
        await batch.cancel(ids);
      } catch (error) {
        // qdel exits 1 when any id does not exist, and a job it registered for deletion is still in
        // qstat (state dr) for a moment: when qdel's own verdicts cover every id, all is well.
        if (error instanceof BatchCommandError && isCommand(error.argv, commands.cancel) && qdelSettled(error.stdout, ids)) return;
        throw error;
      }
    },
  };
}

const isCommand = (argv: readonly string[], prefix: readonly string[]): boolean => prefix.every((word, i) => argv[i] === word);
