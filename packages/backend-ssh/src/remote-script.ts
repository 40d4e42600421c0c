/**
 * What a job runs on its host. ssh hands the remote command to the user's login shell, which may
 * be sh, bash, zsh or tcsh, so the command is always `exec /bin/sh -c '<script>'` and the script is
 * one line that every one of those shells passes through unchanged: tcsh cannot quote a newline at
 * all and expands `!` even inside single quotes, so neither appears in it literally.
 *
 * The cluster secret is never in the script: the session's first stdin line carries it, the script
 * reads it into the environment, and the worker supervisor (exec'd, so it keeps the pid the script
 * printed) then watches the rest of stdin (`--watch-stdin`) and leaves when it closes. With
 * `tls: true` the cluster's certificate and key follow as the second line, the same way.
 */
import { SKEIN_ERROR_CODES, SkeinError, type JobSpec } from "@skein/core";

/** The script prints this, then its pid, first: `cancel` and `status` find the supervisor by it. */
export const PID_MARKER = "skein-ssh-pid:";

export interface RemoteCommandOptions {
  /** Replaces `workerCommand[0]` (node). */
  readonly remoteNode?: string | undefined;
  /** Replaces `workerCommand[1]` (the worker's bin.js). */
  readonly remoteWorkerBin?: string | undefined;
  /** `cd` here before the prologue. */
  readonly remoteCwd?: string | undefined;
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** `$SKEIN_NL` holds a newline, made without writing one (`$(…)` would strip a bare trailing one). */
const DEFINE_NEWLINE = "SKEIN_NL=$(printf '\\nx'); SKEIN_NL=${SKEIN_NL%x}";

/** The one-line sh script a job's `/bin/sh -c` runs on its host. */
export function remoteScript(job: JobSpec, options: RemoteCommandOptions = {}): string {
  const command = workerCommandFor(job.workerCommand, options);
  const body: string[] = [
    `echo ${PID_MARKER}$$`,
    // Nothing on stdin means nothing to authenticate with: say so rather than start a worker that cannot connect.
    `IFS= read -r SKEIN_SECRET || { echo 'skein: no cluster secret on stdin' >&2; exit 1; }`,
  ];
  // A cluster's temporary certificate follows on the second line (base64), for hosts that do not
  // share the file: it goes into the environment like the secret, never into the script.
  const tlsOnStdin = job.env.SKEIN_TLS_FILE !== undefined;
  if (tlsOnStdin) body.push(`IFS= read -r SKEIN_TLS_PEM || { echo 'skein: no TLS certificate on stdin' >&2; exit 1; }`, "export SKEIN_TLS_PEM");
  for (const [name, value] of Object.entries(job.env)) {
    if (tlsOnStdin && name === "SKEIN_TLS_FILE") continue;
    if (!ENV_NAME.test(name)) {
      throw new SkeinError("ssh", SKEIN_ERROR_CODES.BAD_OPTION, `environment variable name ${JSON.stringify(name)} (option "env") must be letters, digits and "_", not starting with a digit`);
    }
    body.push(`export ${name}=${shWord(value)}`);
  }
  if (options.remoteCwd !== undefined) body.push(`cd ${shWord(options.remoteCwd)} || exit 1`);
  // The prologue must not eat the stdin the supervisor watches.
  if (job.prologue.length > 0) body.push(`eval ${shWord(job.prologue.join("\n"))} </dev/null`);
  body.push("export SKEIN_SECRET");
  // `skein worker <scheduler> …` gets --watch-stdin; a command without worker arguments is not
  // `skein worker` (it would lack the scheduler address) and runs as given.
  const args = job.workerArgs.length > 0 ? [...job.workerArgs, "--watch-stdin"] : [];
  body.push(`exec ${[...command, ...args].map(shWord).join(" ")}`);
  const script = body.join("; ");
  return script.includes("$SKEIN_NL") ? `${DEFINE_NEWLINE}; ${script}` : script;
}

/** What ssh sends to the login shell: `exec /bin/sh -c '<script>'`. */
export function remoteCommand(script: string): string {
  return `exec /bin/sh -c ${loginShellQuote(script)}`;
}

/**
 * One word for /bin/sh, written without a newline: single quotes, with each newline spliced in
 * from `$SKEIN_NL` (which `remoteScript` defines when it is used).
 */
export function shWord(word: string): string {
  if (word.includes("\0")) throw new SkeinError("ssh", SKEIN_ERROR_CODES.BAD_OPTION, `cannot pass ${JSON.stringify(word)} to a remote command: it contains NUL`);
  if (SAFE_WORD.test(word)) return word;
  if (word === "") return "''";
  return word
    .split("\n")
    .map((part) => (part === "" ? "" : `'${part.replaceAll("'", `'\\''`)}'`))
    .join('"$SKEIN_NL"');
}

/**
 * Quote a newline-free text as one word for sh, bash, zsh and tcsh alike: single quotes, with `'`
 * and `!` written outside them as `\'` and `\!`, which all of them read back unchanged.
 */
export function loginShellQuote(text: string): string {
  if (/[\n\0]/.test(text)) throw new Error("a login-shell word cannot hold a newline or NUL");
  return `'${text.replaceAll("'", `'\\''`).replaceAll("!", `'\\!'`)}'`;
}

/** `[node, bin.js, …]` with the hosts' own paths where they differ from this machine's. */
export function workerCommandFor(workerCommand: readonly string[], options: RemoteCommandOptions): string[] {
  const [first, second, ...rest] = workerCommand;
  const node = options.remoteNode ?? first;
  if (node === undefined) throw new SkeinError("ssh", SKEIN_ERROR_CODES.BAD_OPTION, "the worker command is empty: set workerCommand, or remoteNode and remoteWorkerBin");
  const bin = options.remoteWorkerBin ?? second;
  return bin === undefined ? [node, ...rest] : [node, bin, ...rest];
}

/** The pid in a line the script printed, or undefined. */
export function parsePidLine(line: string): number | undefined {
  const match = new RegExp(`^${PID_MARKER}(\\d+)\\s*$`).exec(line);
  return match ? Number(match[1]) : undefined;
}
