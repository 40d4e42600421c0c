/**
 * Jobs as `skein worker` supervisors started over ssh on listed hosts (round-robin). A job is one
 * ssh session through the host's control master: its stdin carries the secret (first line) and
 * then stays open for the job's life, because the supervisor runs with `--watch-stdin` and leaves
 * when it closes. So cancelling, this process dying, or the connection dropping all end the
 * remote workers; `cancel` also sends SIGTERM to the remote pid the script printed.
 */
import { readFileSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { execa } from "execa";
import { OutputTail, asJobId, type BackendContext, type ClusterBackend, type JobId, type JobSpec, type JobState } from "@skein/core";
import { SshConnections } from "./connections.js";
import type { SshHost } from "./host-spec.js";
import { resolveSshSettings, type SshBackendOptions, type SshSettings } from "./options.js";
import { parsePidLine, remoteCommand, remoteScript, shWord } from "./remote-script.js";
import { SshCommandError, sshEnvironment } from "./ssh-command.js";

/** After `cancel`, a session still open this long is ended from this side (SIGTERM to the local ssh). */
const CANCEL_GRACE_MS = 15_000;
/** How long `cancel` waits for a just-started job to print its remote pid (one round trip, normally). */
const PID_WAIT_MS = 10_000;
/** Limit for the short status and kill commands. */
const REMOTE_COMMAND_TIMEOUT_MS = 30_000;

/** The ssh backend, plus where its control sockets live (for tests and debugging). */
export interface SshBackend extends ClusterBackend {
  /** The private 0700 directory of the control sockets; undefined before the first connection and after `close()`. */
  readonly controlDirectory: string | undefined;
}

/** What the backend uses of a running `ssh` session. */
interface Session {
  readonly pid?: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  kill(signal: NodeJS.Signals): boolean;
}

interface SshJob {
  readonly id: JobId;
  readonly host: SshHost;
  /** Worker name prefix (`--name`), to recognise the remote process before signalling a pid. */
  readonly workerName: string | undefined;
  readonly session: Session;
  readonly stdout: OutputTail;
  readonly stderr: OutputTail;
  /** The remote supervisor's pid, once the script printed it. */
  remotePid: number | undefined;
  /** Resolves once the pid is known or the session has ended. */
  readonly started: Promise<void>;
  markStarted(): void;
  /** How the local ssh session ended. */
  exit: { code: number | null; signal: string | undefined; failure: string | undefined } | undefined;
  /** After an abnormal end of the session: the remote process was checked and is gone. */
  remoteGone: boolean;
  cancelled: boolean;
}

/** The factory `createCluster({ backend: "ssh", hosts: [...] })` calls. */
export function createBackend(options: Record<string, unknown>, context?: BackendContext): SshBackend {
  return backendFor(resolveSshSettings(options, context?.sourceOf ?? (() => "createBackend options"), context?.baseDir));
}

/** An ssh backend from options in code: `sshBackend({ hosts: ["node07", "node08"] })`. */
export function sshBackend(options: SshBackendOptions): SshBackend {
  return backendFor(resolveSshSettings(options));
}

function backendFor(settings: SshSettings): SshBackend {
  const connections = new SshConnections(settings);
  const jobs = new Map<JobId, SshJob>();
  let submitted = 0;

  return {
    name: "ssh",
    capabilities: { walltime: false, logs: true, remoteWorkers: true },
    // Status of a live session is known locally; only sessions that ended abnormally cost an ssh command.
    defaultPollIntervalSeconds: 2,

    get controlDirectory() {
      return connections.directory;
    },

    jobScript: (job: JobSpec) => describedScript(job, settings),

    async submit(job: JobSpec, signal?: AbortSignal): Promise<JobId> {
      signal?.throwIfAborted();
      const command = remoteCommand(remoteScript(job, settings));
      const host = settings.hosts[submitted % settings.hosts.length] as SshHost;
      const id = asJobId(`ssh-${++submitted}@${host.host}`);
      await connections.connect(host, signal);
      const [file, ...args] = connections.argv(host);
      const session = execa(file as string, [...args, command], {
        stdin: "pipe",
        buffer: false,
        reject: false,
        env: sshEnvironment(),
        extendEnv: false,
        // Should this process exit without Cluster's hooks, the sessions go with it (and their stdin closes).
        cleanup: true,
      });
      let markStarted!: () => void;
      const started = new Promise<void>((resolve) => (markStarted = resolve));
      const record: SshJob = {
        id,
        started,
        markStarted,
        host,
        workerName: workerNameOf(job),
        session,
        stdout: new OutputTail(),
        stderr: new OutputTail(),
        remotePid: undefined,
        exit: undefined,
        remoteGone: false,
        cancelled: false,
      };
      jobs.set(id, record);
      watchOutput(record);
      void session.then((result) => {
        record.exit = {
          code: result.exitCode ?? null,
          signal: result.signal ?? undefined,
          failure: result.exitCode === undefined && !result.signal ? (result.originalMessage ?? result.shortMessage) : undefined,
        };
        record.markStarted();
      });
      // The first line is the secret; the pipe then stays open: it is the remote workers' lifeline.
      session.stdin?.on("error", () => undefined);
      session.stdin?.write(`${job.secret}\n`);
      if (job.env.SKEIN_TLS_FILE !== undefined) session.stdin?.write(`${readFileSync(job.env.SKEIN_TLS_FILE).toString("base64")}\n`);
      return id;
    },

    async status(ids: readonly JobId[]): Promise<ReadonlyMap<JobId, JobState>> {
      const states = new Map<JobId, JobState>();
      const toCheck: SshJob[] = [];
      for (const id of ids) {
        const job = jobs.get(id);
        if (!job) states.set(id, { state: "exited", exitCode: null, reason: "no longer known to the ssh backend" });
        else if (!job.exit) states.set(id, job.remotePid === undefined ? { state: "queued", reason: `starting on ${job.host.label}` } : { state: "running", host: job.host.host });
        else if (needsRemoteCheck(job)) toCheck.push(job);
        else states.set(id, exitedState(job));
      }
      // The session ended without the remote command ending (killed locally, connection lost):
      // ask each host, once for all its jobs, whether the supervisors are still there.
      await Promise.all(
        [...groupByHost(toCheck)].map(async ([host, hostJobs]) => {
          const alive = await remoteAlive(host, hostJobs);
          for (const job of hostJobs) {
            if (alive === "unreachable") {
              job.remoteGone = true;
              const ended = exitedState(job);
              states.set(job.id, { ...ended, reason: `${ended.reason ?? "the ssh session ended"}; ${host.label} cannot be reached to check on pid ${job.remotePid}` });
            } else if (alive.has(job.remotePid as number)) {
              states.set(job.id, { state: "running", host: host.host });
            } else {
              job.remoteGone = true;
              states.set(job.id, exitedState(job));
            }
          }
        }),
      );
      return states;
    },

    async cancel(ids: readonly JobId[]): Promise<void> {
      const toCancel: SshJob[] = [];
      for (const id of ids) {
        const job = jobs.get(id);
        // Unknown and finished jobs: cancel is idempotent.
        if (!job || (job.exit && !needsRemoteCheck(job))) continue;
        job.cancelled = true;
        toCancel.push(job);
        if (!job.exit) {
          // Closing stdin is enough to end the workers (--watch-stdin); the SIGTERM below is quicker.
          job.session.stdin?.end();
          const timer = setTimeout(() => {
            if (!job.exit) job.session.kill("SIGTERM");
          }, CANCEL_GRACE_MS);
          timer.unref();
        }
      }
      // A job submitted a moment ago may not have printed its pid yet: it is one round trip away.
      await Promise.all(toCancel.map((job) => atMost(job.started, PID_WAIT_MS)));
      const toSignal = toCancel.filter((job) => job.remotePid !== undefined && (!job.exit || needsRemoteCheck(job)));
      await Promise.all(
        [...groupByHost(toSignal)].map(async ([host, hostJobs]) => {
          const script = hostJobs.map((job) => ifOurProcess(job, `kill -TERM ${job.remotePid}`)).join("; ");
          const result = await connections.run(host, remoteCommand(`${script}; exit 0`), REMOTE_COMMAND_TIMEOUT_MS);
          if (result.exitCode !== 0) throw new SshCommandError(host, result, `could not signal the workers (pids ${hostJobs.map((j) => j.remotePid).join(", ")}) to stop`);
        }),
      );
    },

    async logs(id: JobId) {
      const job = jobs.get(id);
      return { stdout: job ? job.stdout.text() : "", stderr: job ? job.stderr.text() : "" };
    },

    cancelSync(ids: readonly JobId[]): void {
      for (const id of ids) {
        const job = jobs.get(id);
        if (!job || job.exit || job.session.pid === undefined) continue;
        job.cancelled = true;
        try {
          // The session's end closes the supervisor's stdin on the host, and it leaves.
          process.kill(job.session.pid, "SIGTERM");
        } catch {
          // Already gone.
        }
      }
      // From an exit handler nothing else will use the masters: end them now rather than after ControlPersist.
      if ([...jobs.values()].every((job) => job.exit || job.cancelled)) connections.closeSync();
    },

    async close(): Promise<void> {
      await connections.close();
    },
  };

  /** One ssh command for all of this host's jobs: which of their pids are still our supervisors. */
  async function remoteAlive(host: SshHost, hostJobs: readonly SshJob[]): Promise<Set<number> | "unreachable"> {
    const script = hostJobs.map((job) => ifOurProcess(job, `echo ${job.remotePid}`)).join("; ");
    const result = await connections.run(host, remoteCommand(`${script}; exit 0`), REMOTE_COMMAND_TIMEOUT_MS);
    // 255 is ssh's own failure: the host is gone, and its processes with it or soon after (their stdin closed).
    if (result.exitCode === 255) return "unreachable";
    if (result.exitCode !== 0) throw new SshCommandError(host, result, `could not check on the workers (pids ${hostJobs.map((j) => j.remotePid).join(", ")})`);
    return new Set(result.stdout.split(/\s+/).filter((w) => /^\d+$/.test(w)).map(Number));
  }
}

// --- internal ---

/** `#!/bin/sh`, how it is started, and the one-line script: what `skein job-script` shows. */
function describedScript(job: JobSpec, settings: SshSettings): string {
  const hosts = settings.hosts.map((h) => h.label).join(", ");
  return [
    "#!/bin/sh",
    `# Skein ssh job for cluster ${job.name}, on ${settings.hosts.length > 1 ? `one of ${hosts} (round-robin)` : hosts}, started as`,
    "#   ssh <host> exec /bin/sh -c '<the line below>'",
    "# through one multiplexed connection per host. The cluster secret is the first line of the session's",
    "# stdin, never on a command line; the workers leave when that stdin closes (--watch-stdin).",
    remoteScript(job, settings),
    "",
  ].join("\n");
}

/** Split the session's stdout into the pid line the script prints first and the job's own output. */
function watchOutput(job: SshJob): void {
  let pending = "";
  job.session.stdout?.on("data", (chunk: Buffer) => {
    if (job.remotePid !== undefined) return job.stdout.push(chunk);
    pending += chunk.toString("utf8");
    let newline: number;
    // Login scripts may print before the script runs: look for the marker line by line.
    while (job.remotePid === undefined && (newline = pending.indexOf("\n")) !== -1) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      const pid = parsePidLine(line);
      if (pid === undefined) job.stdout.push(Buffer.from(`${line}\n`));
      else {
        job.remotePid = pid;
        job.markStarted();
      }
    }
    if (job.remotePid !== undefined || pending.length > 4096) {
      if (pending !== "") job.stdout.push(Buffer.from(pending));
      pending = "";
    }
  });
  job.session.stderr?.on("data", (chunk: Buffer) => job.stderr.push(chunk));
}

/** The session ended but not because the remote command did: the supervisor may still be running. */
function needsRemoteCheck(job: SshJob): boolean {
  if (!job.exit || job.remoteGone || job.remotePid === undefined) return false;
  return job.exit.signal !== undefined || job.exit.code === 255 || job.exit.failure !== undefined;
}

function exitedState(job: SshJob): Extract<JobState, { state: "exited" }> {
  const exit = job.exit;
  if (!exit) return { state: "exited", exitCode: null };
  if (exit.failure !== undefined) return { state: "exited", exitCode: null, reason: `ssh could not be started: ${exit.failure}` };
  const exitCode = exit.signal === undefined ? exit.code : null;
  // A cancelled session may end any way (stdin closed, SIGTERM remotely or locally): that was the point.
  if (job.cancelled) return { state: "exited", exitCode, reason: "cancelled" };
  if (exit.signal !== undefined) return { state: "exited", exitCode, reason: `the local ssh session was killed by ${exit.signal}` };
  // 255 is ssh's own failure, and also what it returns when the remote command was killed by a signal.
  if (exit.code === 255) return { state: "exited", exitCode, reason: `ssh ended with 255: ${lastLine(job.stderr.text()) || "the connection failed or the remote command was killed by a signal"}` };
  return { state: "exited", exitCode };
}

/**
 * `<action>` only if pid still runs this job's worker (its command line names the job's workers):
 * after a session ended abnormally, the pid may since have gone to someone else's process.
 */
function ifOurProcess(job: SshJob, action: string): string {
  if (job.workerName === undefined) return `kill -0 ${job.remotePid} 2>/dev/null && ${action}`;
  return `case " $(ps -ww -o args= -p ${job.remotePid} 2>/dev/null) " in *${shWord(` --name ${job.workerName} `)}*) ${action};; esac`;
}

function workerNameOf(job: JobSpec): string | undefined {
  const at = job.workerArgs.indexOf("--name");
  return at === -1 ? undefined : job.workerArgs[at + 1];
}

/** Jobs by host entry, for one command per host. */
function groupByHost(jobs: readonly SshJob[]): Map<SshHost, SshJob[]> {
  const byLabel = new Map<string, SshJob[]>();
  for (const job of jobs) byLabel.set(job.host.label, [...(byLabel.get(job.host.label) ?? []), job]);
  return new Map([...byLabel.values()].map((group) => [(group[0] as SshJob).host, group]));
}

/** Wait for `promise`, but no longer than `ms`. */
async function atMost(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function lastLine(text: string): string {
  return text.trim().split("\n").pop() ?? "";
}
