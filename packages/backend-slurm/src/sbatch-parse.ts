import { asJobId } from "@skein/core";
import type { JobId } from "@skein/core";

/** `sbatch --parsable`: `8`, or `8;clustername` when the cluster is named (federation, `-M`). */
const PARSABLE = /^(\d+)(?:;\S+)?$/;
/** Plain `sbatch`: `Submitted batch job 9`, or `… on cluster name` with `-M`. */
const SUBMITTED = /^Submitted batch job (\d+)(?: on cluster \S+)?$/;

/**
 * The job id `sbatch` printed on stdout, without any cluster name. Throws an error that shows the
 * expected forms and the output when no line is an id (sbatch's own errors go to stderr, so a
 * failed submission usually leaves stdout empty).
 */
export function parseSbatchJobId(stdout: string): JobId {
  const ids: string[] = [];
  for (const raw of stdout.split(/\r?\n/)) {
    const line = raw.trim();
    const id = PARSABLE.exec(line)?.[1] ?? SUBMITTED.exec(line)?.[1];
    if (id !== undefined) ids.push(id);
  }
  if (ids.length === 1 && ids[0] !== undefined) return asJobId(ids[0]);
  const problem = ids.length === 0 ? "no job id" : `${ids.length} job ids (${ids.join(", ")})`;
  throw new Error(
    `[skein] [slurm] expected sbatch to print one job id as "8" or "8;cluster" (--parsable, ` +
      `pattern ${PARSABLE}) or "Submitted batch job 8" (pattern ${SUBMITTED}), but found ` +
      `${problem} in its output: ${JSON.stringify(stdout)}`
  );
}
