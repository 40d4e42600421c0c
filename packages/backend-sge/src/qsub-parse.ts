import { asJobId, type JobId } from "@skein/core";

/** `qsub -terse`: `15`, or `13.1-4:1` for an array job (its id is 13). */
const TERSE = /^(\d+)(?:\.\d+-\d+:\d+)?$/;
/** Plain `qsub`: `Your job 16 ("quick") has been submitted`, `Your job-array 13.1-4:1 ("arr") has been submitted`. */
const SUBMITTED = /^Your job(?:-array)? (\d+)(?:\.\d+-\d+:\d+)? \(".*"\) has been submitted$/;

/**
 * The job id `qsub` printed on stdout (an array job's id without its task range). Throws an error
 * that shows the expected forms and the output when no line is an id (qsub's own errors go to
 * stderr, so a failed submission leaves stdout empty).
 */
export function parseQsubJobId(stdout: string): JobId {
  const ids: string[] = [];
  for (const raw of stdout.split(/\r?\n/)) {
    const line = raw.trim();
    const id = TERSE.exec(line)?.[1] ?? SUBMITTED.exec(line)?.[1];
    if (id !== undefined) ids.push(id);
  }
  if (ids.length === 1 && ids[0] !== undefined) return asJobId(ids[0]);
  const problem = ids.length === 0 ? "no job id" : `${ids.length} job ids (${ids.join(", ")})`;
  throw new Error(
    `[skein] [sge] expected qsub to print one job id as "15" (-terse, pattern ${TERSE}) or ` +
      `'Your job 15 ("name") has been submitted' (pattern ${SUBMITTED}), but found ${problem} in its output: ${JSON.stringify(stdout)}`,
  );
}
