/**
 * Skein is quiet by default: nothing on stderr in a normal run. `SKEIN_LOG=debug|info|warn|error`
 * turns on more. Warnings that a user must act on are raised as errors, not logged.
 */
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

function levelFromEnv(): number {
  const name = (process.env.SKEIN_LOG ?? "silent").toLowerCase();
  return name in LEVELS ? LEVELS[name as LogLevel] : LEVELS.silent;
}

let threshold = levelFromEnv();
let prefix = `[skein ${process.pid}]`;

/** Change the level at run time (the CLI's --log-level). */
export function setLogLevel(level: LogLevel): void {
  threshold = LEVELS[level];
}

/** Name this process in log lines: "[skein worker w-1]". */
export function setLogPrefix(name: string): void {
  prefix = `[skein ${name}]`;
}

function write(level: LogLevel, message: string): void {
  if (LEVELS[level] < threshold) return;
  process.stderr.write(`${new Date().toISOString()} ${prefix} ${level}: ${message}\n`);
}

export const log = {
  debug: (message: string) => write("debug", message),
  info: (message: string) => write("info", message),
  warn: (message: string) => write("warn", message),
  error: (message: string) => write("error", message),
  enabled: (level: LogLevel) => LEVELS[level] >= threshold,
};
