/**
 * Grid Engine (SGE 6.2–8.1, Son of Grid Engine, Univa/Altair Grid Engine) through `qsub -terse -V
 * -cwd -w e`, `qstat -xml`, `qdel` and, for the exit status of finished jobs, `qacct -j`. The
 * mechanics are `createBatchBackend`'s; this adds the directives, the parsers, qdel's verdicts and
 * the accounting look-up. All policy is `Cluster`'s.
 */
import { join } from "node:path";
import * as v from "valibot";
import {
  BatchCommandError,
  DEFAULT_BATCH_TIMEOUTS,
  SKEIN_ERROR_CODES,
  SkeinError,
  createBatchBackend,
  validateBackendOptions,
  type BackendContext,
  type ClusterBackend,
  type CommandResult,
  type JobId,
  type JobState,
} from "@skein/core";
import { sgeJobScript } from "./job-script.js";
import { isQacctNotFound, parseQacct, type QacctRecord } from "./qacct-parse.js";
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

/** Finished jobs looked up in qacct at once, at most. */
const ACCOUNTING_CONCURRENCY = 4;
/**
 * Grid Engine writes accounting records every `flush_time` (15 s by default; `accounting_flush_time`
 * where set): a job that left qstat is looked up again at most every 2 s, for a minute, then no more.
 */
const ACCOUNTING_RETRY_MS = 2_000;
const ACCOUNTING_WINDOW_MS = 60_000;
/** Clocks of the submit host and the qmaster may differ: a record submitted this much before our qsub still counts. */
const CLOCK_SLACK_MS = 5 * 60_000;

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
  });

  /** When this backend submitted each job (for matching qacct records when ids were reused). */
  const submittedAt = new Map<JobId, number>();
  /** Final states read from qacct; when each finished job was first seen gone, and last looked up. */
  const finished = new Map<JobId, JobState>();
  const goneSince = new Map<JobId, number>();
  const triedAt = new Map<JobId, number>();

  const lookUp = async (id: JobId): Promise<JobState | undefined> => {
    const since = submittedAt.get(id);
    if (since === undefined) return undefined;
    const now = Date.now();
    const first = goneSince.get(id) ?? now;
    goneSince.set(id, first);
    const last = triedAt.get(id);
    if (now - first > ACCOUNTING_WINDOW_MS || (last !== undefined && now - last < ACCOUNTING_RETRY_MS)) return undefined;
    triedAt.set(id, now);
    const result = await runCommand([...commands.accounting, id], statusTimeout).catch(() => undefined);
    // No accounting, no record yet, or a qacct that failed: the job still ended; only its exit status is unknown.
    if (!result || result.exitCode !== 0 || isQacctNotFound(result.stderr, result.exitCode)) return undefined;
    let records: QacctRecord[];
    try {
      records = parseQacct(result.stdout);
    } catch {
      return undefined;
    }
    const record = records.filter((r) => r.jobnumber === id && !(r.submittedAt < since - CLOCK_SLACK_MS)).at(-1);
    if (!record) return undefined;
    goneSince.delete(id);
    triedAt.delete(id);
    return exitedFromAccounting(record);
  };

  const status = async (ids: readonly JobId[]): Promise<Map<JobId, JobState>> => {
    const states = new Map(await batch.status(ids));
    if (options.accounting === false) return states;
    // qstat never lists a finished job, so every "exited" here is a job that left qstat.
    const gone = ids.filter((id) => states.get(id)?.state === "exited");
    const pending = gone.filter((id) => !finished.has(id));
    for (let i = 0; i < pending.length; i += ACCOUNTING_CONCURRENCY) {
      const batchIds = pending.slice(i, i + ACCOUNTING_CONCURRENCY);
      const found = await Promise.all(batchIds.map(lookUp));
      batchIds.forEach((id, k) => {
        const state = found[k];
        if (state) finished.set(id, state);
      });
    }
    for (const id of gone) {
      const state = finished.get(id);
      if (state) states.set(id, state);
    }
    return states;
  };

  return {
    ...batch,
    name: "sge",
    async submit(job, signal) {
      const before = Date.now();
      const id = await batch.submit(job, signal);
      submittedAt.set(id, before);
      return id;
    },
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

function exitedFromAccounting(record: QacctRecord): JobState {
  if (record.failed === 0) return { state: "exited", exitCode: record.exitStatus };
  const why =
    record.failed === 37
      ? "killed by Grid Engine at a hard limit (h_rt walltime, h_cpu or h_vmem)"
      : record.failed === 100 && record.exitStatus === 137
        ? "killed (qdel)"
        : "Grid Engine could not run it as asked";
  return { state: "exited", exitCode: record.exitStatus, reason: `${why}; qacct: failed ${record.failed}${record.failedReason ? ` (${record.failedReason})` : ""}` };
}

/** Run one command like createBatchBackend does: no shell, a timeout, and never the cluster secret in its environment. */
async function runCommand(argv: readonly string[], timeout: number): Promise<CommandResult> {
  const [file, ...args] = argv as [string, ...string[]];
  const { execa } = await import("execa");
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && e[0] !== "SKEIN_SECRET"));
  const result = await execa(file, args, { reject: false, timeout, forceKillAfterDelay: 2000, stdin: "ignore", env, extendEnv: false });
  if (result.timedOut || result.exitCode === undefined) {
    throw new SkeinError("sge", SKEIN_ERROR_CODES.COMMAND_FAILED, `${argv.join(" ")} ${result.timedOut ? `did not finish within ${timeout / 1000} s` : "could not run"}`);
  }
  return { argv, exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}
