/**
 * The loopback sshd of `tools/test-cluster.sh` (127.0.0.1:2222, key auth), found through the
 * SKEIN_TEST_SSH_* variables or the env.sh the script writes, and the gate in front of the tests
 * that need it: with CI=true they fail when it is not reachable, elsewhere they skip with one line.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "vitest";

export interface SshTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly identityFile: string;
  readonly knownHostsFile: string;
  /** `user@host:port`, as the `hosts` option takes it. */
  readonly entry: string;
}

const ENABLE_HINT = "run tools/test-cluster.sh start";

/** The target, or what is missing. Checked once per test file (one ssh round trip). */
export function findSshTarget(): { target: SshTarget; missing?: undefined } | { target?: undefined; missing: string } {
  const vars = { ...variablesFromEnvSh(), ...definedTestVariables() };
  const names = ["SKEIN_TEST_SSH_HOST", "SKEIN_TEST_SSH_PORT", "SKEIN_TEST_SSH_USER", "SKEIN_TEST_SSH_KEY", "SKEIN_TEST_SSH_KNOWN_HOSTS"] as const;
  const absent = names.filter((n) => !vars[n]);
  if (absent.length > 0) return { missing: `${absent.join(", ")} not set and no ${envShPath()} to read them from` };
  const target: SshTarget = {
    host: vars.SKEIN_TEST_SSH_HOST as string,
    port: Number(vars.SKEIN_TEST_SSH_PORT),
    user: vars.SKEIN_TEST_SSH_USER as string,
    identityFile: vars.SKEIN_TEST_SSH_KEY as string,
    knownHostsFile: vars.SKEIN_TEST_SSH_KNOWN_HOSTS as string,
    entry: `${vars.SKEIN_TEST_SSH_USER}@${vars.SKEIN_TEST_SSH_HOST}:${vars.SKEIN_TEST_SSH_PORT}`,
  };
  const argv = ["-p", String(target.port), "-i", target.identityFile, "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${target.knownHostsFile}`, "-o", "ConnectTimeout=5", `${target.user}@${target.host}`, "true"];
  const result = spawnSync("ssh", argv, { encoding: "utf8", timeout: 15_000 });
  if (result.error) return { missing: `ssh could not run (${(result.error as NodeJS.ErrnoException).code ?? result.error.message})` };
  if (result.status !== 0) return { missing: `ssh ${target.entry} true exited ${result.status ?? result.signal}: ${result.stderr.trim().split("\n").pop() ?? ""}` };
  return { target };
}

/** `describe` that runs only when the loopback sshd answers (and fails in CI when it does not). */
export function describeWithSsh(name: string, body: (target: SshTarget) => void): void {
  const found = findSshTarget();
  if (found.target) {
    describe(name, () => body(found.target));
  } else if (isCi()) {
    describe(name, () => {
      it("needs the loopback sshd", () => {
        throw new Error(`ssh tests need the test cluster's sshd in CI (CI=${process.env.CI}), but ${found.missing}; ${ENABLE_HINT} first`);
      });
    });
  } else {
    console.warn(`ssh tests skipped: ${found.missing}; ${ENABLE_HINT}`);
    describe.skip(name, () => body(undefined as unknown as SshTarget));
  }
}

export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI?.trim().toLowerCase();
  return ci !== undefined && ci !== "" && ci !== "false" && ci !== "0";
}

// --- processes on this machine (the sshd is on loopback, so remote processes are local too) ---

/** Pids of live (not zombie) processes whose environment holds `SKEIN_TEST_MARK=<mark>`. */
export function processesWithMark(mark: string): number[] {
  return livePids().filter((pid) => {
    try {
      return `\0${readFileSync(`/proc/${pid}/environ`, "latin1")}`.includes(`\0SKEIN_TEST_MARK=${mark}\0`);
    } catch {
      return false;
    }
  });
}

/** Live pids whose command line contains `text`. */
export function processesWithCommandLine(text: string): number[] {
  return livePids().filter((pid) => commandLineOf(pid).includes(text));
}

/** A process's command line as `ps` shows it to every user ("" once it is gone). */
export function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** A process's environment variables ({} once it is gone or not ours to read). */
export function environmentOf(pid: number): Record<string, string> {
  try {
    const text = readFileSync(`/proc/${pid}/environ`, "latin1");
    return Object.fromEntries(text.split("\0").filter((e) => e.includes("=")).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
  } catch {
    return {};
  }
}

/** The parent pid of a process (undefined once it is gone). */
export function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/** Poll until `check` is truthy; on timeout fail with `what` and the last value. */
export async function until<T>(what: string | (() => string), check: () => T | Promise<T>, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === "function" ? what() : what}; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// --- internal ---

function livePids(): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
    .map(Number)
    .filter((pid) => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "latin1"));
      } catch {
        return false;
      }
    });
}

function envShPath(): string {
  return join(process.env.SKEIN_TEST_CLUSTER_DIR ?? "/var/tmp/skein-test-cluster", "env.sh");
}

/** `export NAME='value'` lines of env.sh (sh single quoting, `'\''` for a quote). */
function variablesFromEnvSh(): Record<string, string> {
  const path = envShPath();
  if (!existsSync(path)) return {};
  const vars: Record<string, string> = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const match = /^export (SKEIN_TEST_\w+)='(.*)'$/.exec(line.trim());
    if (match) vars[match[1] as string] = (match[2] as string).replaceAll(`'\\''`, "'");
  }
  return vars;
}

function definedTestVariables(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith("SKEIN_TEST_SSH_") && e[1] !== undefined && e[1] !== ""));
}
