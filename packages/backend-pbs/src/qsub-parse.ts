import { asJobId } from "@skein/core";
import type { JobId } from "@skein/core";

/**
 * A job id as `qsub` prints it, alone on its line:
 * - Slurm's Torque wrapper: `3` (no server suffix);
 * - Torque: `1234.server.example.edu`; PBS Pro / OpenPBS: `1234.pbsserver`;
 * - job arrays: `12[].server` (Torque and PBS Pro), `12[]`.
 */
export const QSUB_JOB_ID_PATTERN = /^\d+(?:\[\d*\])?(?:\.[A-Za-z0-9][\w.-]*)?$/;

/**
 * The id `qsub` printed on stdout. Throws when no line is a job id, which includes the Slurm
 * wrapper's failure text ("There was an error running the Slurm sbatch command…"), printed on
 * stdout with exit code 1; the error shows the pattern and the output.
 */
export function parseQsubJobId(stdout: string): JobId {
  const lines = stdout
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
  const ids = lines.filter((line) => QSUB_JOB_ID_PATTERN.test(line));
  if (ids.length === 1 && ids[0] !== undefined) return asJobId(ids[0]);
  const problem =
    ids.length === 0 ? "no job id" : `${ids.length} lines that look like job ids (${ids.join(", ")})`;
  throw new Error(
    `[skein] [pbs] expected qsub to print one job id on its own line, such as "1234" or ` +
      `"1234.server" (pattern ${QSUB_JOB_ID_PATTERN}), but found ${problem} in its output: ` +
      JSON.stringify(stdout)
  );
}
