/** Shared by the end-to-end tests: real clusters, real processes, and checks that nothing is left behind. */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { Client, createCluster, type Cluster, type CreateClusterOptions } from "@skein/core";

/**
 * Every process started by a test file carries this marker in its environment (workers inherit
 * it), so the file can find all of them, even ones re-parented after their parent died.
 */
export const TEST_MARK = `skein-e2e-${randomUUID()}`;
process.env.SKEIN_TEST_MARK = TEST_MARK;

/** Pids of live processes whose environment carries `mark`. */
export function processesWithMark(mark = TEST_MARK): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, "latin1");
      if (!environ.includes(`SKEIN_TEST_MARK=${mark}`)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      // Zombies are gone in all but name: their parent has not reaped them yet.
      if (/^\d+ \(.*\) Z/.test(stat)) continue;
      pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** The command line of a process, as `ps` shows it to every user of the machine. */
export function commandLineOf(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, "latin1").replaceAll("\0", " ");
}

/** Poll until `check` returns a truthy value; on timeout, fail with what was last seen. */
export async function until<T>(check: () => T | Promise<T>, options: { timeout?: number; what: string | (() => string) }): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeout ?? 15_000);
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) {
      const what = typeof options.what === "function" ? options.what() : options.what;
      throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Wait until no process of this test file is left (they exit by themselves), then report any that
 * remain, and kill them: one failed test must not leave processes running for the next ones.
 */
export async function expectNoProcessesLeft(timeout = 15_000): Promise<void> {
  try {
    await until(() => processesWithMark().length === 0, {
      timeout,
      what: () => `no Skein processes left (still: ${processesWithMark().map(safeCommandLine).join(" | ")})`,
    });
  } catch (error) {
    for (const pid of processesWithMark()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    throw error;
  }
}

function safeCommandLine(pid: number): string {
  try {
    return `${pid}: ${commandLineOf(pid)}`;
  } catch {
    return `${pid}: (gone)`;
  }
}

export interface LocalSetup {
  cluster: Cluster;
  client: Client;
  close(): Promise<void>;
}

/** A local cluster with `workers` worker processes, connected and ready. */
export async function startLocal(workers = 2, options: CreateClusterOptions = {}): Promise<LocalSetup> {
  const cluster = await createCluster({ backend: "local", ...options }, { env: {}, userConfigDir: "/nonexistent" });
  try {
    await cluster.scale(workers);
    await cluster.waitForWorkers(workers, { timeout: 30_000 });
    const client = await Client.connect(cluster);
    return {
      cluster,
      client,
      async close() {
        await client.close();
        await cluster.close();
      },
    };
  } catch (error) {
    await cluster.close();
    throw error;
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run a Node script to completion (or until `onStdout` decides to signal it). */
export function runNode(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number; onStdout?: (text: string, child: ReturnType<typeof spawn>) => void } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // Colour would wrap printed numbers in escape codes (nx sets FORCE_COLOR for its tasks).
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", ...options.env };
    delete env.FORCE_COLOR;
    const child = spawn(process.execPath, args, { cwd: options.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      options.onStdout?.(stdout, child);
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`node ${args.join(" ")} did not finish within ${options.timeout ?? 60_000} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, options.timeout ?? 60_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
