import type { JobState } from "@skein/core";

/**
 * The `squeue --format` that {@link parseSqueue} reads: job id, full state name, and `%R`, which
 * is the pending reason in parentheses (`(Resources)`, `(Priority)`) for pending and most finished
 * jobs, and the node list (`c18a`, `c18a,vortex`, `node[01-04]`) for running ones. `%R` may
 * contain spaces and may be empty, so it is kept last and read as the rest of the line.
 */
export const SQUEUE_FORMAT = "%i %T %R";

/**
 * The arguments of a status poll; append `--jobs=1,2,3`.
 * - `--array` prints one line per array element (`13_1`, `13_2`) instead of `13_[1-3]`.
 * - `--states=all` keeps finished jobs (COMPLETED, FAILED, …) until Slurm purges them after
 *   MinJobAge; without it a job that ends simply disappears and its outcome is lost.
 */
export const SQUEUE_ARGS: readonly string[] = [
  "--noheader",
  "--array",
  "--states=all",
  `--format=${SQUEUE_FORMAT}`,
];

/**
 * Parse `squeue -h -o "%i %T %R"` into one state per job id as printed. Array elements keep their
 * own ids (`12_1`); a pending range printed without `--array` (`13_[1-3]`) is expanded to `13_1`,
 * `13_2`, `13_3`. Empty output is an empty map; a line that is not `<id> <STATE> [<%R>]` throws.
 */
export function parseSqueue(stdout: string): Map<string, JobState> {
  const jobs = new Map<string, JobState>();
  stdout.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "") return;
    const fields = LINE.exec(line);
    const id = fields?.[1];
    const slurmState = fields?.[2];
    if (id === undefined || slurmState === undefined || !JOB_ID.test(id)) {
      throw new Error(
        `[skein] [slurm] cannot parse line ${index + 1} of squeue output (${JSON.stringify(raw)}): ` +
          `expected "<job id> <STATE> <reason or nodes>" from --format="${SQUEUE_FORMAT}". ` +
          `Whole output: ${JSON.stringify(stdout)}`
      );
    }
    const state = jobState(id, slurmState, fields?.[3] ?? "");
    for (const element of expandArrayRange(id)) jobs.set(element, state);
  });
  return jobs;
}

/**
 * True for squeue's answer when every id it was asked about is unknown: asked for
 * `-j 99999` alone it exits 1 with "slurm_load_jobs error: Invalid job id specified" (asked for
 * known and unknown ids together it exits 0 and omits the unknown ones). The jobs are gone, which
 * is an answer, not a failure.
 */
export function isInvalidJobIdError(stderr: string, exitCode: number | null): boolean {
  return exitCode === 1 && /Invalid job id specified/.test(stderr);
}

// --- internal ---

// Full state names (%T) are words such as PENDING; 1-3 letters are %t's compact codes (R, PD, CG),
// a different format that must not be half-understood.
const LINE = /^(\S+)\s+([A-Z_]{4,})(?:\s+(.*))?$/;
/** `12`, `12_3`, `12_[1-3,5%2]`, and heterogeneous job components `12+0`. */
const JOB_ID = /^\d+(?:_(?:\d+|\[[\d,\-:%]+\]))?(?:\+\d+)?$/;

const QUEUED = new Set([
  "PENDING",
  "CONFIGURING", // nodes allocated but still booting
  "SUSPENDED",
  "STOPPED",
  "REQUEUED",
  "REQUEUE_HOLD",
  "REQUEUE_FED",
  "SPECIAL_EXIT",
  "RESV_DEL_HOLD",
]);
const RUNNING = new Set(["RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING"]);
const EXITED = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMEOUT",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "PREEMPTED",
  "BOOT_FAIL",
  "DEADLINE",
  "REVOKED",
]);

function jobState(id: string, slurmState: string, rest: string): JobState {
  const reason = /^\((.*)\)$/.exec(rest)?.[1];
  const nodes = reason === undefined && rest !== "" ? rest : undefined;
  if (QUEUED.has(slurmState)) {
    return { state: "queued", reason: reason ?? slurmState };
  }
  if (RUNNING.has(slurmState)) {
    const host = nodes === undefined ? undefined : firstHost(nodes);
    return host === undefined ? { state: "running" } : { state: "running", host };
  }
  if (EXITED.has(slurmState)) {
    // Accounting is often off, so the exit code is not known here; the state says how it ended.
    return { state: "exited", exitCode: null, reason: reason ? `${slurmState} (${reason})` : slurmState };
  }
  return {
    state: "unknown",
    detail: `squeue reports job ${id} in state ${slurmState}, which Skein does not know`,
  };
}

/** The first host of a Slurm hostlist: `c18a,vortex` → `c18a`, `node[07-09,12]` → `node07`. */
function firstHost(nodes: string): string | undefined {
  let depth = 0;
  let end = nodes.length;
  for (let i = 0; i < nodes.length; i++) {
    const c = nodes[i];
    if (c === "[") depth++;
    else if (c === "]") depth--;
    else if (c === "," && depth === 0) {
      end = i;
      break;
    }
  }
  const first = nodes
    .slice(0, end)
    .replace(/\[([^\]]*)\]/g, (_, range: string) => /^[^,-]*/.exec(range)?.[0] ?? "");
  return first === "" ? undefined : first;
}

/** Guards against expanding a huge range into memory; poll with `--array` instead. */
const MAX_ARRAY_EXPANSION = 100_000;

function expandArrayRange(id: string): string[] {
  const range = /^(\d+)_\[([^\]]+)\]$/.exec(id);
  if (!range?.[1] || !range[2]) return [id];
  const base = range[1];
  const spec = range[2].replace(/%\d+$/, ""); // `%2` is the throttle, not an element
  const elements: string[] = [];
  for (const part of spec.split(",")) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part);
    if (!m?.[1]) throw new Error(`[skein] [slurm] cannot read array range "${part}" in squeue job id ${id}`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (step < 1 || to < from || elements.length + (to - from) / step >= MAX_ARRAY_EXPANSION) {
      throw new Error(
        `[skein] [slurm] will not expand squeue job id ${id} (more than ${MAX_ARRAY_EXPANSION} ` +
          `elements or a bad range); run squeue with --array to list elements one per line`
      );
    }
    for (let n = from; n <= to; n += step) elements.push(`${base}_${n}`);
  }
  return elements;
}
