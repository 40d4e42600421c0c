import type { JobState } from "@skein/core";

/**
 * Parse `qstat -f id1 id2 …` (Torque, PBS Pro with or without `-x`, and Slurm's Torque wrapper)
 * into one state per printed job id, keyed exactly as printed (`3`, `1234.server.example.edu`).
 *
 * The three systems share the `Job Id: <id>` header and indented `key = value` attributes, and
 * differ in the details this parser absorbs:
 * - the wrapper indents attributes with a tab and never wraps a value;
 * - Torque indents with 4 spaces and continues long values on lines starting with a tab, cut at
 *   any character (so continuations are joined without a separator);
 * - PBS Pro also indents with 4 spaces and continues on tab- or space-indented lines.
 * A line is an attribute when it has the record's attribute indentation and a `key = value`
 * shape; any other indented line continues the previous value.
 *
 * Empty output is an empty map (the wrapper prints nothing for unknown ids). Anything that is not
 * `qstat -f` output throws. A record without `job_state` (truncated output) becomes `unknown`.
 */
export function parseQstatFull(stdout: string): Map<string, JobState> {
  const jobs = new Map<string, JobState>();
  for (const record of splitRecords(stdout)) {
    jobs.set(record.id, recordState(record));
  }
  return jobs;
}

/**
 * The part of a job id that all three systems agree on: the number (with its array brackets)
 * before the first dot. `1234.server.example.edu` → `1234`, `12[].pbsserver` → `12[]`, `3` → `3`.
 * qsub may print `1234.server` while qstat prints `1234.server.example.edu`, and the Slurm
 * wrapper prints `3` but ignores `3.host`; comparing this prefix matches them all.
 */
export function normaliseJobId(id: string): string {
  const trimmed = id.trim();
  const dot = trimmed.indexOf(".");
  return dot === -1 ? trimmed : trimmed.slice(0, dot);
}

/** The state given to an asked-for job that `qstat` no longer prints (purged after it finished). */
export const NO_LONGER_KNOWN: JobState = {
  state: "exited",
  exitCode: null,
  reason: "no longer known to the batch system",
};

/**
 * One state per asked id, keyed by the id as asked. Asked and printed ids are matched by
 * {@link normaliseJobId}; an asked id that the output does not mention gets {@link NO_LONGER_KNOWN}:
 * batch systems forget finished jobs (the wrapper after MinJobAge, Torque after keep_completed).
 */
export function matchJobIds(
  asked: readonly string[],
  parsed: ReadonlyMap<string, JobState>
): Map<string, JobState> {
  const byPrefix = new Map<string, JobState>();
  for (const [id, state] of parsed) byPrefix.set(normaliseJobId(id), state);
  const matched = new Map<string, JobState>();
  for (const id of asked) {
    matched.set(id, byPrefix.get(normaliseJobId(id)) ?? NO_LONGER_KNOWN);
  }
  return matched;
}

/** Torque's PBSE_UNKJOBID (15001) as an exit code (15001 mod 256); PBS Pro and the Slurm wrapper use it too. */
export const QSTAT_EXIT_UNKNOWN_JOB = 153;
/** PBS Pro: the job finished and only `qstat -x` would show it. */
export const QSTAT_EXIT_JOB_FINISHED = 35;

const BENIGN_STDERR_LINES = [
  /Unknown Job Id/i, // Torque: "qstat: Unknown Job Id Error 1234.server"; PBS Pro: "qstat: Unknown Job Id 1234.pbsserver"
  /Job has finished/i, // PBS Pro: "qstat: 1234.pbsserver Job has finished, use -x or -H to obtain historical job information"
];

/**
 * True when a failing `qstat` only reported jobs the system no longer knows, so its stdout (the
 * jobs it did print) is still the answer. With several ids, qstat prints the known jobs and exits
 * non-zero for the others; any other stderr line means a real failure and this returns false.
 * The Slurm wrapper exits 153 and prints nothing at all, hence an empty stderr counts for 153.
 */
export function isUnknownJobError(stderr: string, exitCode: number | null): boolean {
  if (exitCode !== QSTAT_EXIT_UNKNOWN_JOB && exitCode !== QSTAT_EXIT_JOB_FINISHED) return false;
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
  if (lines.length === 0) return exitCode === QSTAT_EXIT_UNKNOWN_JOB;
  return lines.every((line) => BENIGN_STDERR_LINES.some((pattern) => pattern.test(line)));
}

// --- internal ---

interface QstatRecord {
  readonly id: string;
  readonly attributes: ReadonlyMap<string, string>;
}

const HEADER = /^Job Id:\s*(\S*)\s*$/;
const ATTRIBUTE = /^([A-Za-z_][\w.-]*) = ?(.*)$/;

function splitRecords(stdout: string): QstatRecord[] {
  const records: QstatRecord[] = [];
  let id: string | undefined;
  let attributes = new Map<string, string>();
  let indent: string | undefined; // the record's attribute indentation, from its first attribute
  let lastKey: string | undefined;

  const lines = stdout.split(/\r?\n/);
  lines.forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(
        `[skein] [pbs] cannot parse qstat -f output: ${why} on line ${index + 1} ` +
          `(${JSON.stringify(line)}); expected "Job Id: <id>" records of indented ` +
          `"key = value" lines. Whole output: ${JSON.stringify(stdout)}`
      );
    };
    if (line.trim() === "") return;
    const header = HEADER.exec(line);
    if (header) {
      if (!header[1]) return fail("a Job Id header without an id");
      if (id !== undefined) records.push({ id, attributes });
      id = header[1];
      attributes = new Map();
      indent = undefined;
      lastKey = undefined;
      return;
    }
    if (id === undefined) return fail("text before the first Job Id header");
    const lineIndent = /^\s*/.exec(line)?.[0] ?? "";
    if (lineIndent === "") return fail("an unindented line inside a job record");
    const text = line.slice(lineIndent.length);
    const attribute = ATTRIBUTE.exec(text);
    if (attribute?.[1] !== undefined && (indent === undefined || lineIndent === indent)) {
      indent ??= lineIndent;
      lastKey = attribute[1];
      attributes.set(lastKey, attribute[2] ?? "");
      return;
    }
    if (lastKey === undefined) return fail("a continuation line before any attribute");
    // Torque cuts values at any character (even a space) and starts the rest after one tab, so
    // only that tab is dropped and the pieces join without a separator.
    const rest = line.startsWith("\t") ? line.slice(1) : text;
    attributes.set(lastKey, (attributes.get(lastKey) ?? "") + rest);
  });
  if (id !== undefined) records.push({ id, attributes });
  return records;
}

const QUEUED_LETTERS: Readonly<Record<string, string>> = {
  Q: "queued",
  H: "held",
  W: "waiting for its start time",
  T: "in transit",
  S: "suspended",
};

function recordState(record: QstatRecord): JobState {
  const letter = record.attributes.get("job_state")?.trim();
  const comment = record.attributes.get("comment")?.trim();
  if (letter === undefined || letter === "") {
    return {
      state: "unknown",
      detail: `qstat -f printed job ${record.id} without a job_state (truncated output?)`,
    };
  }
  const queuedAs = QUEUED_LETTERS[letter];
  if (queuedAs !== undefined) {
    const reason = `job_state ${letter} (${queuedAs})${comment ? `: ${comment}` : ""}`;
    return { state: "queued", reason };
  }
  switch (letter) {
    case "R": // running
    case "E": // exiting after having run: its processes may still be there
    case "B": {
      // PBS Pro: an array job with at least one subjob started
      const host = firstHost(record.attributes);
      return host === undefined ? { state: "running" } : { state: "running", host };
    }
    case "C": // Torque and the wrapper: completed, failed, cancelled or timed out alike
    case "F": // PBS Pro: finished (qstat -x)
    case "X": // PBS Pro: a finished subjob of an array
      return exitedState(record);
    case "U":
      return {
        state: "unknown",
        detail:
          `job ${record.id} has job_state U: the Slurm wrapper prints U for Slurm states it ` +
          `cannot map (DEADLINE, OUT_OF_MEMORY), PBS Pro for a job suspended by workstation activity`,
      };
    default:
      return {
        state: "unknown",
        detail: `job ${record.id} has unrecognised job_state ${JSON.stringify(letter)}`,
      };
  }
}

function exitedState(record: QstatRecord): JobState {
  // Torque spells it exit_status, PBS Pro Exit_status; the wrapper has neither.
  let raw: string | undefined;
  for (const [key, value] of record.attributes) {
    if (key.toLowerCase() === "exit_status") raw = value.trim();
  }
  if (raw === undefined) return { state: "exited", exitCode: null };
  if (!/^-?\d+$/.test(raw)) {
    return { state: "exited", exitCode: null, reason: `unparseable exit_status ${JSON.stringify(raw)}` };
  }
  const exitCode = Number(raw);
  // Negative codes mean the batch system ended the job (Torque: -11 for walltime exceeded);
  // codes above 256 mean the job was killed by a signal (code - 256), in Torque and PBS Pro.
  if (exitCode < 0) {
    return { state: "exited", exitCode, reason: `ended by the batch system (exit_status ${exitCode})` };
  }
  if (exitCode > 256) {
    return { state: "exited", exitCode, reason: `killed by signal ${exitCode - 256}` };
  }
  return { state: "exited", exitCode };
}

/** First host of `exec_host` (`node07/0-11+node08/0-11`, `c18a/12`), else of PBS Pro's `exec_vnode`. */
function firstHost(attributes: ReadonlyMap<string, string>): string | undefined {
  const execHost = attributes.get("exec_host")?.trim();
  if (execHost) {
    const host = execHost.split("+")[0]?.split("/")[0]?.trim();
    if (host) return host;
  }
  const execVnode = attributes.get("exec_vnode")?.trim();
  if (execVnode) {
    // `(node07:ncpus=12)+(node08:ncpus=12)`; a vnode of a multi-vnode host is named `node07[0]`.
    const vnode = /^\(?([^:+()]+)/.exec(execVnode)?.[1]?.trim();
    const host = vnode?.replace(/\[\d+\]$/, "");
    if (host) return host;
  }
  return undefined;
}
