/** What `qdel` said about each job id (Grid Engine prints its verdicts, errors included, on STDOUT). */
export type QdelOutcome =
  /** "root has deleted job 9", "root has deleted job-array task 13.3": it was pending and is gone. */
  | "deleted"
  /** "root has registered the job 3 for deletion", "job 5 is already in deletion": it is being killed. */
  | "deleting"
  /** 'denied: job "5" does not exist', 'job "13" task "9" does not exist': finished or never issued (qdel cannot tell which). */
  | "gone";

/** One line of qdel's output: the job, the array task when the line names one, and the verdict. */
interface Verdict {
  readonly job: string;
  readonly task: string | undefined;
  readonly outcome: QdelOutcome;
}

/**
 * Every verdict in `qdel`'s output, by job id. `qdel 13 9 99999` exits 1 when any id does not
 * exist, and prints one line per job (or array task) on stdout, e.g.
 * ```
 * root has registered the job-array task 13.2 for deletion
 * root has deleted job 13
 * denied: job "99999" does not exist
 * job 5 is already in deletion
 * job "13" task "9" does not exist
 * ```
 * A task's verdict is keyed `13.2`, and also counts for its array `13` (`qdel 13` of a running
 * array answers task by task), except that one missing task says nothing about the array. Lines it
 * does not know are ignored.
 */
export function parseQdelOutput(stdout: string): Map<string, QdelOutcome> {
  const outcomes = new Map<string, QdelOutcome>();
  const set = (id: string, outcome: QdelOutcome) => {
    // "deleting" wins over "gone" for an array with one running and one unknown task.
    const previous = outcomes.get(id);
    if (previous === undefined || previous === "gone" || (previous === "deleted" && outcome === "deleting")) outcomes.set(id, outcome);
  };
  for (const { job, task, outcome } of verdicts(stdout)) {
    if (task === undefined) set(job, outcome);
    else {
      set(`${job}.${task}`, outcome);
      if (outcome !== "gone") set(job, outcome);
    }
  }
  return outcomes;
}

/**
 * True when qdel's output accounts for every id asked: each was deleted, is being deleted, or does
 * not exist. Then a non-zero exit (qdel exits 1 as soon as one id does not exist) is not a failure.
 * A verdict on a whole job covers each of its tasks asked: for a task already being deleted,
 * `qdel 13.2` says only `job 13 is already in deletion`.
 */
export function qdelSettled(stdout: string, ids: readonly string[]): boolean {
  const outcomes = parseQdelOutput(stdout);
  const wholeJobs = new Set(verdicts(stdout).flatMap((v) => (v.task === undefined ? [v.job] : [])));
  const settled = (id: string): boolean => {
    if (outcomes.has(id)) return true;
    const task = /^(\d+)\.\d+$/.exec(id);
    return task !== null && wholeJobs.has(task[1] as string);
  };
  return ids.length > 0 && ids.every(settled);
}

// --- internal ---

const LINES: readonly [RegExp, QdelOutcome][] = [
  [/^\S+ has deleted job(?:-array task)? (\d+)(?:\.(\d+))?$/, "deleted"],
  [/^\S+ has registered the job(?:-array task)? (\d+)(?:\.(\d+))? for deletion$/, "deleting"],
  [/^job(?:-array task)? (\d+)(?:\.(\d+))? is already in deletion$/, "deleting"],
  [/^denied: job "(\d+)(?:\.(\d+))?" does not exist$/, "gone"],
  [/^job "(\d+)" task "(\d+)" does not exist$/, "gone"],
];

function verdicts(stdout: string): Verdict[] {
  const found: Verdict[] = [];
  for (const raw of stdout.split(/\r?\n/)) {
    const line = raw.trim();
    for (const [pattern, outcome] of LINES) {
      const m = pattern.exec(line);
      if (m) {
        found.push({ job: m[1] as string, task: m[2], outcome });
        break;
      }
    }
  }
  return found;
}
