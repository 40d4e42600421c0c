/** What `qdel` said about each job id (Grid Engine prints its verdicts, errors included, on STDOUT). */
export type QdelOutcome =
  /** "root has deleted job 9": it was pending and is gone. */
  | "deleted"
  /** "root has registered the job 3 for deletion", "job 5 is already in deletion": it is being killed. */
  | "deleting"
  /** 'denied: job "5" does not exist': finished or never issued (qdel cannot tell which). */
  | "gone";

/**
 * Every verdict in `qdel`'s output, by job id. `qdel 13 9 99999` exits 1 when any id does not
 * exist, and prints one line per job (or array task) on stdout, e.g.
 * ```
 * root has registered the job-array task 13.2 for deletion
 * root has deleted job 13
 * denied: job "99999" does not exist
 * job 5 is already in deletion
 * ```
 * An array task's verdict counts for its array. Lines it does not know are ignored.
 */
export function parseQdelOutput(stdout: string): Map<string, QdelOutcome> {
  const outcomes = new Map<string, QdelOutcome>();
  const set = (id: string, outcome: QdelOutcome) => {
    // "deleting" wins over "gone" for an array with one running and one unknown task.
    const previous = outcomes.get(id);
    if (previous === undefined || previous === "gone" || (previous === "deleted" && outcome === "deleting")) outcomes.set(id, outcome);
  };
  for (const raw of stdout.split(/\r?\n/)) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^\S+ has deleted job(?:-array task)? (\d+)(?:\.(\d+))?$/.exec(line))) setBoth(m, "deleted");
    else if ((m = /^\S+ has registered the job(?:-array task)? (\d+)(?:\.(\d+))? for deletion$/.exec(line))) setBoth(m, "deleting");
    else if ((m = /^job(?:-array task)? (\d+)(?:\.(\d+))? is already in deletion$/.exec(line))) setBoth(m, "deleting");
    else if ((m = /^denied: job "(\d+)(?:\.(\d+))?" does not exist$/.exec(line))) setBoth(m, "gone");
  }
  return outcomes;

  function setBoth(m: RegExpExecArray, outcome: QdelOutcome): void {
    const id = m[1] as string;
    set(id, outcome);
    if (m[2] !== undefined) set(`${id}.${m[2]}`, outcome);
  }
}

/**
 * True when qdel's output accounts for every id asked: each was deleted, is being deleted, or does
 * not exist. Then a non-zero exit (qdel exits 1 as soon as one id does not exist) is not a failure.
 */
export function qdelSettled(stdout: string, ids: readonly string[]): boolean {
  const outcomes = parseQdelOutput(stdout);
  return ids.length > 0 && ids.every((id) => outcomes.has(id));
}
