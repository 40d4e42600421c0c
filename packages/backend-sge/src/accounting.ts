/**
 * Exit statuses of finished jobs from `qacct -j <job>`: qstat never lists a job that ended, so
 * every id that left qstat is looked up here. An array element (`12.2`) is its job's record with
 * `taskid 2`; one qacct call per job number serves all of an array's elements.
 */
import { SKEIN_ERROR_CODES, SkeinError, type CommandResult, type JobId, type JobState } from "@skein/core";
import { splitJobId } from "./arrays.js";
import { isQacctNotFound, parseQacct, type QacctRecord } from "./qacct-parse.js";

/** Job numbers looked up in qacct at once, at most. */
const CONCURRENCY = 4;
/**
 * Grid Engine writes accounting records every `flush_time` (15 s by default; `accounting_flush_time`
 * where set): a job that left qstat is looked up again at most every 2 s, for a minute, then no more.
 */
const RETRY_MS = 2_000;
const WINDOW_MS = 60_000;
/** Clocks of the submit host and the qmaster may differ: a record submitted this much before our qsub still counts. */
const CLOCK_SLACK_MS = 5 * 60_000;

export interface Accounting {
  /** Remember when ids were submitted (only these are looked up; older records of a reused id are ignored). */
  submitted(ids: readonly JobId[], at: number): void;
  /** The final states qacct has for ids that left qstat; ids without a record (yet) are left out. */
  finalStates(ids: readonly JobId[]): Promise<Map<JobId, JobState>>;
}

/** `command` is the argv prefix (`["qacct", "-j"]`); the job number follows. */
export function createAccounting(command: readonly string[], timeoutMs: number): Accounting {
  const submittedAt = new Map<JobId, number>();
  const finished = new Map<JobId, JobState>();
  const goneSince = new Map<JobId, number>();
  const triedAt = new Map<JobId, number>();

  /** True when `id` should be looked up now (and records that it is). */
  const due = (id: JobId, now: number): boolean => {
    if (finished.has(id) || !submittedAt.has(id)) return false;
    const first = goneSince.get(id) ?? now;
    goneSince.set(id, first);
    const last = triedAt.get(id);
    if (now - first > WINDOW_MS || (last !== undefined && now - last < RETRY_MS)) return false;
    triedAt.set(id, now);
    return true;
  };

  const lookUp = async (job: string, ids: readonly JobId[]): Promise<void> => {
    const result = await runCommand([...command, job], timeoutMs).catch(() => undefined);
    // No accounting, no record yet, or a qacct that failed: the job still ended; only its exit status is unknown.
    if (!result || result.exitCode !== 0 || isQacctNotFound(result.stderr, result.exitCode)) return;
    let records: QacctRecord[];
    try {
      records = parseQacct(result.stdout);
    } catch {
      return;
    }
    for (const id of ids) {
      const since = submittedAt.get(id) as number;
      // A plain job's record has "taskid undefined".
      const task = splitJobId(id).task ?? "undefined";
      const record = records.filter((r) => r.jobnumber === job && r.taskid === task && !(r.submittedAt < since - CLOCK_SLACK_MS)).at(-1);
      if (!record) continue;
      finished.set(id, exitedFromAccounting(record));
      goneSince.delete(id);
      triedAt.delete(id);
    }
  };

  return {
    submitted(ids, at) {
      for (const id of ids) submittedAt.set(id, at);
    },
    async finalStates(ids) {
      const now = Date.now();
      const byJob = new Map<string, JobId[]>();
      for (const id of ids.filter((i) => due(i, now))) {
        const { job } = splitJobId(id);
        byJob.set(job, [...(byJob.get(job) ?? []), id]);
      }
      const jobs = [...byJob];
      for (let i = 0; i < jobs.length; i += CONCURRENCY) await Promise.all(jobs.slice(i, i + CONCURRENCY).map(([job, jobIds]) => lookUp(job, jobIds)));
      const states = new Map<JobId, JobState>();
      for (const id of ids) {
        const state = finished.get(id);
        if (state) states.set(id, state);
      }
      return states;
    },
  };
}

/** What a qacct record says about how a job ended. */
export function exitedFromAccounting(record: QacctRecord): JobState {
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
