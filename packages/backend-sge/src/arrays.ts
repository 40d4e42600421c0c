/**
 * Job arrays on Grid Engine: `qsub -t 1-N` makes one job whose tasks 1..N each run the script
 * with `SGE_TASK_ID` set to their index. `qsub -terse` prints `12.1-3:1`, which `parseQsubJobId`
 * reads as the array's id `12`; an element is named in Grid Engine's own `job.task` notation,
 * `12.2`, which `qdel 12.2` takes as it is and `parseQstatXml` keys each task by. `qacct -j 12`
 * prints one record per task, with its `taskid`.
 */
import { asJobId, type BatchArrays, type JobId } from "@skein/core";

/** The variable Grid Engine sets to a task's index ("undefined" in a job that is not an array). */
export const SGE_TASK_VARIABLE = "SGE_TASK_ID";

/** What `createBatchBackend` needs to submit and name Grid Engine job arrays. */
export const sgeArrays: BatchArrays = {
  submitArgs: (size) => ["-t", `1-${size}`],
  // Grid Engine expands the pseudo-variable $TASK_ID in -o (as it does $JOB_ID): task 2 writes …2.out.
  indexPlaceholder: "$TASK_ID",
  elementIds: elementIdsOf,
};

/** `12` → `12.1`, …, `12.<size>`. Throws on anything but a bare job number. */
export function elementIdsOf(arrayId: JobId, size: number): JobId[] {
  if (!/^\d+$/.test(arrayId)) throw new Error(`"${arrayId}" is not the id of a Grid Engine job array: expected a job number such as "12" (qsub -terse prints "12.1-3:1")`);
  return Array.from({ length: size }, (_, i) => asJobId(`${arrayId}.${i + 1}`));
}

/** `12.2` → { job: "12", task: "2" }; a plain job id (`15`) → { job: "15" }. */
export function splitJobId(id: string): { readonly job: string; readonly task?: string } {
  const m = /^(\d+)\.(\d+)$/.exec(id);
  return m ? { job: m[1] as string, task: m[2] as string } : { job: id };
}
