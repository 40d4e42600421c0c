/** The programs conformance jobs run instead of a worker (`node -e`; worker arguments are ignored). */

/** Stays alive for `ms`, then exits 0. */
export const sleeper = (ms: number): string => `setTimeout(() => {}, ${ms})`;

/** What the failing job prints before it exits 1; the error must show it. */
export const FAILURE_LINE = "skein-conformance: this job fails on purpose";

/** Exits 1 at once, after printing FAILURE_LINE on stderr. */
export const failing = `console.error(${JSON.stringify(FAILURE_LINE)}); process.exit(1)`;
