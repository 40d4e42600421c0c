/**
 * The ssh command lines this backend runs, and their failures. Every command goes through the
 * host's control master (one multiplexed connection per host), never prompts (BatchMode), and
 * carries nothing secret: the cluster secret only ever travels on a session's stdin.
 */
import { execa } from "execa";
import { SKEIN_ERROR_CODES, SkeinError, formatCommand } from "@skein/core";
import type { SshHost } from "./host-spec.js";
import type { SshSettings } from "./options.js";

/** Seconds an idle master outlives its last session: long enough to reuse, short enough that a crashed client leaves nothing for long. */
export const CONTROL_PERSIST_SECONDS = 30;
/** Keepalives: a dead host ends its sessions (exit 255) within ~45 s instead of hanging on TCP. */
const SERVER_ALIVE = ["ServerAliveInterval=15", "ServerAliveCountMax=3"];

/** What one ssh command did. */
export interface SshResult {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** An ssh command failed: the host was unreachable, refused the key, had an unknown host key, or the remote command failed. */
export class SshCommandError extends SkeinError {
  /** The command as it could be pasted into sh (it never contains the secret). */
  readonly command: string;
  readonly argv: readonly string[];
  /** 255 when ssh itself failed; otherwise the remote command's exit code; null when killed. */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The host entry, as written in `hosts`. */
  readonly host: string;

  constructor(host: SshHost, result: SshResult, problem: string, options?: ErrorOptions) {
    const command = formatCommand(result.argv);
    const said = result.stderr.trim() || result.stdout.trim() || "(no output)";
    super("ssh", SKEIN_ERROR_CODES.COMMAND_FAILED, `ssh to ${host.label} ${problem}: ${said}\n  command: ${command}`, options);
    this.command = command;
    this.argv = result.argv;
    this.exitCode = result.exitCode;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
    this.host = host.label;
  }
}

/**
 * `ssh` and its options for `host`, ending with `-- <host>`: the remote command (or nothing)
 * follows. Skein's own settings come first because ssh keeps the first value it sees for an
 * option; the user's `sshOptions` come next and may override the defaults after them.
 */
export function sshArgv(settings: SshSettings, host: SshHost, controlPath: string): string[] {
  const argv = [
    "ssh",
    "-T", // no terminal: stdin is the secret and then the supervisor's lifeline
    "-x",
    "-o",
    "BatchMode=yes",
    "-o",
    "ControlMaster=auto",
    "-o",
    `ControlPath=${configPath(controlPath)}`,
    "-o",
    `ControlPersist=${CONTROL_PERSIST_SECONDS}`,
    "-o",
    "PasswordAuthentication=no",
    "-o",
    "KbdInteractiveAuthentication=no",
  ];
  if (settings.identityFile !== undefined) argv.push("-o", `IdentityFile=${configPath(settings.identityFile)}`);
  if (settings.knownHostsFile !== undefined) argv.push("-o", `UserKnownHostsFile=${configPath(settings.knownHostsFile)}`);
  const port = host.port ?? settings.port;
  const user = host.user ?? settings.user;
  if (port !== undefined) argv.push("-p", String(port));
  if (user !== undefined) argv.push("-l", user);
  for (const option of settings.sshOptions) argv.push("-o", option);
  argv.push("-o", `ConnectTimeout=${settings.connectTimeout}`);
  for (const option of SERVER_ALIVE) argv.push("-o", option);
  // Only the key given, not every key in the agent: servers stop after a few failed keys.
  if (settings.identityFile !== undefined) argv.push("-o", "IdentitiesOnly=yes");
  argv.push("--", host.host);
  return argv;
}

/** Run a short ssh command to completion; a spawn failure or timeout is an SshCommandError, any exit code is returned. */
export async function runSsh(host: SshHost, argv: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<SshResult> {
  const [file, ...args] = argv as [string, ...string[]];
  const result = await execa(file, args, {
    reject: false,
    timeout: timeoutMs,
    forceKillAfterDelay: 2000,
    stdin: "ignore",
    env: sshEnvironment(),
    extendEnv: false,
    ...(signal ? { cancelSignal: signal } : {}),
  });
  const outcome: SshResult = { argv, exitCode: result.exitCode ?? null, stdout: result.stdout, stderr: result.stderr };
  if (result.timedOut) throw new SshCommandError(host, outcome, `did not finish within ${timeoutMs / 1000} s and was killed`);
  if (result.isCanceled) throw new SshCommandError(host, outcome, "was cancelled");
  if (result.exitCode === undefined) throw new SshCommandError(host, outcome, `could not run ssh (${result.originalMessage ?? result.shortMessage})`);
  return outcome;
}

/** ssh's environment: ours without the secret (a SendEnv in someone's ssh_config must not find it). */
export function sshEnvironment(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && e[0] !== "SKEIN_SECRET"));
}

/** A path as an ssh option value: `%` is ssh's token character, and spaces need quotes. */
function configPath(path: string): string {
  const escaped = path.replaceAll("%", "%%");
  return /\s/.test(escaped) ? `"${escaped}"` : escaped;
}
