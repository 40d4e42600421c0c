/**
 * The scheduler in a batch job of its own (`scheduler: { inJob: true }`). It is submitted through the
 * cluster's backend as `skein scheduler --scheduler-file <file> --secret-file <secret file>`; once
 * the file appears, this process watches the scheduler over a client connection (which workers are
 * there), and `Cluster` uses it where it would use the in-process scheduler. The workers find the
 * scheduler through the same file. Closing it cancels the job: the scheduler tells its workers to
 * leave (SIGTERM) and removes the file.
 */
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { SKEIN_ERROR_CODES, SkeinError, type Message, type SchedulerToClient } from "@skein/serialization";
import type { ConnectedWorker, RetireResult, Workload } from "@skein/scheduler";
import { connect, log, type Connection } from "@skein/transport";
import type { ClusterBackend, JobId, JobState } from "./backend.js";
import type { ClusterSettings } from "./cluster-options.js";
import { trackCluster, untrackCluster, type TrackedCluster } from "./exit-hooks.js";
import type { JobLedger } from "./job-ledger.js";
import type { ClusterTls } from "./cluster-tls.js";
import { buildSchedulerJobSpec } from "./job-spec.js";
import { removeSchedulerFile, waitForSchedulerFile, type SchedulerFileContents } from "./scheduler-file.js";
import { defaultSchedulerCommand } from "./worker-command.js";

/**
 * What `Cluster` needs from a scheduler, wherever it runs. `@skein/scheduler`'s in-process
 * `Scheduler` has all of it; `RemoteScheduler` is the same seen from outside its job.
 */
export interface ClusterScheduler {
  readonly address: string;
  readonly workerCount: number;
  readonly workers: readonly ConnectedWorker[];
  onWorkersChanged(listener: (workers: readonly ConnectedWorker[]) => void): () => void;
  retireWorkers(names: readonly string[], options?: { reason?: string; timeoutMs?: number; force?: boolean }): Promise<RetireResult>;
  workload(): Workload;
  close(options?: { closeWorkers?: boolean; timeoutMs?: number }): Promise<void>;
}

interface StartOptions {
  readonly backend: ClusterBackend;
  readonly settings: ClusterSettings;
  readonly secret: string;
  /** The cluster's 0600 secret file on the shared filesystem. */
  readonly secretFile: string;
  readonly ledger: JobLedger | undefined;
  /** The cluster's TLS material: the scheduler's job gets it, and this connection uses it. */
  readonly tls?: ClusterTls | undefined;
}

/** Lines of the scheduler job's output shown when it fails to start. */
const LOG_TAIL_LINES = 30;
/** How long closing waits for the batch system to report the scheduler's job gone. */
const CLOSE_TIMEOUT_MS = 60_000;
type IdentityReply = Extract<SchedulerToClient, { op: "identity-reply" }>;

export class RemoteScheduler implements ClusterScheduler {
  readonly address: string;
  /** The batch job that runs the scheduler. */
  readonly jobId: JobId;
  /** The scheduler file the workers read. */
  readonly file: string;
  /** The dashboard link the scheduler wrote into the file, if it serves one. */
  readonly dashboardLink: string | undefined;
  readonly #schedulerPid: number;
  readonly #backend: ClusterBackend;
  readonly #ledger: JobLedger | undefined;
  readonly #connection: Connection;
  readonly #listeners = new Set<(workers: readonly ConnectedWorker[]) => void>();
  readonly #lostListeners = new Set<() => void>();
  readonly #requests = new Map<number, { resolve: (reply: IdentityReply) => void; reject: (error: Error) => void }>();
  #nextRequestId = 1;
  #identity: IdentityReply | undefined;
  /** The request whose answer `#identity` holds (answers to older requests are dropped). */
  #lastApplied = 0;
  #lost: SkeinError | undefined;
  #closing = false;
  #jobGone = false;

  private constructor(backend: ClusterBackend, ledger: JobLedger | undefined, jobId: JobId, file: string, contents: SchedulerFileContents, connection: Connection) {
    this.#backend = backend;
    this.#ledger = ledger;
    this.jobId = jobId;
    this.file = file;
    this.address = contents.address;
    this.dashboardLink = contents.dashboard;
    this.#schedulerPid = contents.pid;
    this.#connection = connection;
    connection.onMessages((messages) => {
      for (const message of messages as SchedulerToClient[]) {
        if (message.op === "workers-changed") void this.refresh().catch(() => undefined);
        else if (message.op === "identity-reply") {
          this.#requests.get(message.requestId)?.resolve(message);
          this.#requests.delete(message.requestId);
        }
      }
    });
    connection.onClose((code, reason) => {
      for (const request of this.#requests.values()) request.reject(new Error(`the connection to the scheduler closed (${reason || `code ${code}`})`));
      this.#requests.clear();
      if (this.#closing) return;
      this.#lost = new SkeinError(
        "cluster",
        SKEIN_ERROR_CODES.CLOSED,
        `lost the scheduler at ${this.address}, which runs in job ${jobId} (${reason || `code ${code}`}): did its job end (walltime, qdel)?`,
      );
      log.warn(this.#lost.message);
      for (const listener of [...this.#lostListeners]) listener();
    });
  }

  /**
   * Submit the scheduler's job, wait until it has written the scheduler file, and connect to it.
   * Rejects (and cancels the job) when the job ends first, with the tail of its output, or after
   * `scheduler.startTimeout`.
   */
  static async start(options: StartOptions): Promise<RemoteScheduler> {
    const { backend, settings, ledger } = options;
    const job = settings.schedulerJob;
    if (!job) throw new SkeinError("cluster", SKEIN_ERROR_CODES.BAD_OPTION, "RemoteScheduler.start needs scheduler: { inJob: true }");
    const file = job.file ?? join(dirname(options.secretFile), "scheduler.json");
    // A file left by an earlier scheduler would point the workers at it.
    rmSync(file, { force: true });
    const spec = buildSchedulerJobSpec(settings, { secret: options.secret, secretFile: options.secretFile, schedulerFile: file, command: job.command ?? defaultSchedulerCommand(), tlsEnv: options.tls?.env });
    const jobId = await backend.submit(spec);
    ledger?.submitted(jobId);
    log.debug(`cluster ${settings.name}: submitted the scheduler's job ${jobId}`);
    // The wait may be long (a queue): Ctrl-C or the process ending meanwhile must not leave the job behind.
    const starting: TrackedCluster = {
      name: settings.name,
      stopJobsNow: () => backend.cancelSync?.([jobId]),
      abort: () => backend.cancel([jobId]).then(() => 1, () => 0),
    };
    trackCluster(starting);
    const pollMs = (settings.pollIntervalSeconds ?? backend.defaultPollIntervalSeconds ?? 5) * 1000;
    let lastPoll = Date.now();
    let lastState: JobState = { state: "queued" };
    try {
      const contents = await waitForSchedulerFile(file, {
        timeoutMs: job.startTimeoutSeconds * 1000,
        check: async () => {
          if (Date.now() - lastPoll < pollMs) return;
          lastPoll = Date.now();
          lastState = (await backend.status([jobId])).get(jobId) ?? lastState;
          if (lastState.state === "exited") throw await startFailure(backend, jobId, file, lastState);
        },
      }).catch((error: unknown) => {
        if (error instanceof SkeinError && error.code === SKEIN_ERROR_CODES.TIMEOUT) {
          const how = lastState.state === "queued" ? `still queued${lastState.reason ? ` (${lastState.reason})` : ""}` : lastState.state;
          throw new SkeinError("cluster", SKEIN_ERROR_CODES.TIMEOUT, `the scheduler's job ${jobId} wrote no scheduler file within ${job.startTimeoutSeconds} s (the job is ${how}); raise scheduler.startTimeout if the queue is long. ${error.message}`);
        }
        throw error;
      });
      const { connection } = await connect(contents.address, { tls: options.tls?.options, role: "client", secret: options.secret, name: `cluster-${settings.name}`, timeoutMs: 30_000, label: "cluster", retry: true });
      const remote = new RemoteScheduler(backend, ledger, jobId, file, contents, connection);
      await remote.refresh();
      return remote;
    } catch (error) {
      await backend.cancel([jobId]).then(
        () => ledger?.gone([jobId]),
        () => undefined,
      );
      throw error;
    } finally {
      untrackCluster(starting);
    }
  }

  get workers(): readonly ConnectedWorker[] {
    return (this.#identity?.workers ?? []).map((w) => ({ name: w.name, address: w.address, host: w.host, pid: w.pid }));
  }

  get workerCount(): number {
    return this.#identity?.workers.length ?? 0;
  }

  /** Set once the connection to the scheduler dropped while the cluster was open. */
  get lost(): SkeinError | undefined {
    return this.#lost;
  }

  onWorkersChanged(listener: (workers: readonly ConnectedWorker[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onLost(listener: () => void): void {
    this.#lostListeners.add(listener);
  }

  /** Ask the scheduler who is there (also done on every `workers-changed`). */
  async refresh(): Promise<void> {
    if (this.#connection.closed) return;
    const requestId = this.#nextRequestId++;
    const reply = await new Promise<IdentityReply>((resolve, reject) => {
      this.#requests.set(requestId, { resolve, reject });
      this.#connection.send({ op: "identity", requestId } as Message);
    });
    if (requestId > this.#lastApplied) {
      this.#lastApplied = requestId;
      this.#identity = reply;
      const workers = this.workers;
      for (const listener of [...this.#listeners]) listener(workers);
    }
  }

  /**
   * Not possible from outside the scheduler's job (clients cannot retire workers): the cluster
   * cancels the workers' jobs instead, and the workers retire on the batch system's SIGTERM.
   */
  async retireWorkers(): Promise<RetireResult> {
    return { retired: [], kept: [] };
  }

  /** From the scheduler's last answer: who is idle and how much each holds (no duration estimates). */
  workload(): Workload {
    const identity = this.#identity;
    const tasks = identity?.tasks ?? {};
    const workers = identity?.workers ?? [];
    return {
      pendingTasks: (tasks.processing ?? 0) + (tasks.queued ?? 0) + (tasks["no-worker"] ?? 0),
      estimatedSeconds: 0,
      idleWorkers: workers.filter((w) => w.status === "running" && w.processing === 0).map((w) => w.name),
      bytesByWorker: new Map(workers.map((w) => [w.name, w.nbytes])),
      holdsWantedResults: (tasks.memory ?? 0) > 0,
    };
  }

  /**
   * End the scheduler's job: the batch system signals `skein scheduler`, which tells its workers
   * to leave and removes the scheduler file. Resolves when the job is reported gone.
   */
  async close(): Promise<void> {
    this.#closing = true;
    try {
      if (!this.#jobGone) await this.#backend.cancel([this.jobId]);
      await this.#waitUntilGone(CLOSE_TIMEOUT_MS);
      // The scheduler removes it on SIGTERM; a batch system that kills outright (SIGKILL) leaves it.
      removeSchedulerFile(this.file, this.#schedulerPid);
    } finally {
      this.#connection.close();
    }
  }

  /** Exit hook: cancel the job without waiting. */
  stopNow(): void {
    this.#closing = true;
    if (this.#jobGone) return;
    this.#backend.cancelSync?.([this.jobId]);
  }

  /** Signal hook: cancel the job and wait (bounded) until it is gone. */
  async abort(): Promise<void> {
    this.#closing = true;
    await this.#backend.cancel([this.jobId]).catch(() => undefined);
    await this.#waitUntilGone(10_000).catch(() => undefined);
    this.#connection.close();
  }

  async #waitUntilGone(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let delay = 100;
    while (!this.#jobGone) {
      const state = (await this.#backend.status([this.jobId])).get(this.jobId);
      if (state?.state === "exited") {
        this.#jobGone = true;
        this.#ledger?.gone([this.jobId]);
        return;
      }
      if (Date.now() > deadline) throw new SkeinError("cluster", SKEIN_ERROR_CODES.COMMAND_FAILED, `the scheduler's job ${this.jobId} is still present after ${timeoutMs / 1000} s; cancel it with your batch system`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }
}

async function startFailure(backend: ClusterBackend, jobId: JobId, file: string, state: Extract<JobState, { state: "exited" }>): Promise<SkeinError> {
  let output = "";
  if (backend.capabilities.logs && backend.logs) {
    try {
      const logs = await backend.logs(jobId);
      output = `${logs.stdout}\n${logs.stderr}`.trim().split("\n").slice(-LOG_TAIL_LINES).join("\n");
    } catch (error) {
      output = `(could not read the job's output: ${(error as Error).message})`;
    }
  }
  const how = state.exitCode === null ? (state.reason ?? "ended") : `exit code ${state.exitCode}${state.reason ? `, ${state.reason}` : ""}`;
  return new SkeinError(
    "cluster",
    SKEIN_ERROR_CODES.JOB_FAILED_BEFORE_CONNECT,
    `the scheduler's job ${jobId} (${backend.name}) ended before it wrote the scheduler file ${file} (${how}).` + (output ? `\nLast lines of its output:\n${output}` : "\nIt left no output."),
  );
}
