/** The programs conformance jobs run instead of a worker (`node -e`; worker arguments are ignored). */

/** Stays alive for `ms`, then exits 0. */
export const sleeper = (ms: number): string => `setTimeout(() => {}, ${ms})`;

/** What the failing job prints before it exits 1; the error must show it. */
export const FAILURE_LINE = "skein-conformance: this job fails on purpose";

/** Exits 1 at once, after printing FAILURE_LINE on stderr. */
export const failing = `console.error(${JSON.stringify(FAILURE_LINE)}); process.exit(1)`;

/** Prefix of the line `arrayElementReporter` prints, followed by the element's index. */
export const ELEMENT_LINE = "skein-conformance element";

/**
 * Prints ELEMENT_LINE and the array index the batch system gave this element (Slurm, Torque,
 * PBS Pro and Grid Engine variables), then stays alive for `ms`.
 */
export const arrayElementReporter = (ms: number): string =>
  `const e = process.env; console.log(${JSON.stringify(ELEMENT_LINE)}, e.SLURM_ARRAY_TASK_ID || e.PBS_ARRAYID || e.PBS_ARRAY_INDEX || e.SGE_TASK_ID || e.LSB_JOBINDEX || "?"); setTimeout(() => {}, ${ms})`;
