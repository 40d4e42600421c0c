/** Exit codes of the `skein` command. */
export const EXIT_CODES = {
  OK: 0,
  /** Something failed at run time (a command, a connection). */
  FAILURE: 1,
  /** Bad command line, options or configuration: fix the input and run again. */
  USAGE: 2,
} as const;
