/**
 * All cluster policy, once, for every backend: how many jobs to run for a number of workers, watching
 * their state with one status call for all, noticing jobs that die before their workers connect, and
 * leaving nothing behind on close, exit, error or signal. Backends only start, watch and stop jobs.
 */
import { hostname } from "node:os";
import { SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization";
import { startScheduler, type ConnectedWorker, type Scheduler } from "@skein/scheduler";
import { generateSecret, interfaceAddress, log } from "@skein/transport";
import { SkeinTimeoutError, badOption, closedError } from "../errors.js";
import type { ClusterLike } from "../client.js";
import type { ClusterBackend, JobId, JobSpec, JobState } from "./backend.js";
import type { ClusterSettings } from "./cluster-options.js";
import { trackCluster, untrackCluster, type TrackedCluster } from "./exit-hooks.js";
import { buildJobSpec } from "./job-spec.js";
import { writeSecretFile, type SecretFile } from "./secret-file.js";
import { defaultWorkerCommand } from "./worker-command.js";

/** Lines of a failed job's output shown in the error. */
const LOG_TAIL_LINES = 30;
/** Longest wait between status calls while they keep failing. */
const MAX_POLL_BACKOFF_SECONDS = 60;
/** How long close() waits for the batch system to report every job gone. */
const CLOSE_TIMEOUT_MS = 60_000;

export interface ClusterJob {
  readonly id: JobId;
  /** Workers of this job are named `<workerPrefix>-<i>`. */
  readonly workerPrefix: string;
  readonly state: JobState;
  readonly submittedAt: Date;
  /** Workers of this job connected now. */
  readonly workers: readonly string[];
}

export interface ClusterWorker {
  readonly name: string;
  readonly address: string;
  readonly host: string;
  /** The job that started it, when known. */
  readonly jobId: JobId | undefined;
}

interface JobRecord {
  readonly id: JobId;
  readonly index: number;
  readonly workerPrefix: string;
  state: JobState;
  readonly submittedAt: Date;
  /** A worker of this job has connected at some point. */
  connected: boolean;
  cancelRequested: boolean;
  /** Set when the job ended before any of its workers connected. */
  failure: SkeinError | undefined;
}

export interface ScaleRequest {
  /** Number of workers (jobs = ceil(workers / processes)). */
  workers?: number;
  /** Number of jobs. */
  jobs?: number;
}

export class Cluster implements ClusterLike, AsyncDisposable, TrackedCluster {
  readonly name: string;
  readonly backend: ClusterBackend;
  readonly secret: string;
  readonly settings: ClusterSettings;
  readonly #scheduler: Scheduler;
  readonly #jobs = new Map<JobId, JobRecord>();
  readonly #listeners = new Set<() => void>();
  readonly #workerCommand: readonly string[];
  readonly #secretFile: SecretFile | undefined;
  #nextJobIndex = 0;
  #targetJobs = 0;
  #reconciling: Promise<void> | undefined;
  #reconcileAgain = false;
  #lastReconcileError: Error | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #pollFailures = 0;
  #lastStatusError: Error | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;

  private constructor(backend: ClusterBackend, settings: ClusterSettings, scheduler: Scheduler, secret: string, secretFile: SecretFile | undefined) {
    this.#secretFile = secretFile;
    this.backend = backend;
    this.settings = settings;
    this.name = settings.name;
    this.secret = secret;
    this.#scheduler = scheduler;
    this.#workerCommand = settings.workerCommand ?? defaultWorkerCommand();
    scheduler.onWorkersChanged((workers) => this.#onWorkersChanged(workers));
    trackCluster(this);
  }

  /** Start a scheduler for this cluster; no jobs run until `scale`. */
  static async start(backend: ClusterBackend, settings: ClusterSettings): Promise<Cluster> {
    const secret = generateSecret();
    const { host, advertiseHost } = schedulerHostFor(backend, settings);
    const secretFile = backend.capabilities.remoteWorkers ? writeSecretFile(settings.sharedDirectory, settings.name, secret) : undefined;
    try {
      const scheduler = await startScheduler({ secret, host, port: settings.schedulerPort, ...(advertiseHost ? { advertiseHost } : {}) });
      return new Cluster(backend, settings, scheduler, secret, secretFile);
    } catch (error) {
      secretFile?.remove();
      throw error;
    }
  }

  /** `ws://host:port` of this cluster's scheduler. */
  get schedulerAddress(): string {
    return this.#scheduler.address;
  }

  /** The scheduler, for tests and tools (its `state` is read-only). */
  get scheduler(): Scheduler {
    return this.#scheduler;
  }

  /** Jobs this cluster started that the batch system has not reported gone. */
  get jobs(): readonly ClusterJob[] {
    const workers = this.#scheduler.workers;
    return [...this.#jobs.values()].map((job) => ({
      id: job.id,
      workerPrefix: job.workerPrefix,
      state: job.state,
      submittedAt: job.submittedAt,
      workers: workers.filter((w) => w.name.startsWith(`${job.workerPrefix}-`)).map((w) => w.name),
    }));
  }

  /** Connected workers. */
  get workers(): readonly ClusterWorker[] {
    return this.#scheduler.workers.map((w) => ({ name: w.name, address: w.address, host: w.host, jobId: this.#jobOfWorker(w.name)?.id }));
  }

  /**
   * Ask for `n` workers (`scale(48)`), or a number of jobs (`scale({ jobs: 4 })`). Resolves once the
   * jobs are submitted or cancelled (not when workers connect: see `waitForWorkers`); rejects when
   * the batch system refuses a submission, with its command, exit code and output.
   */
  async scale(request: number | ScaleRequest): Promise<void> {
    this.#checkOpen("scale");
    this.#targetJobs = this.#jobsFor(request);
    await this.#reconcile();
    if (this.#lastReconcileError) {
      const error = this.#lastReconcileError;
      this.#lastReconcileError = undefined;
      throw error;
    }
  }

  /**
   * Resolves when at least `n` workers are connected. Rejects when the timeout passes (saying what
   * the jobs are doing) or as soon as jobs that died before connecting make `n` unreachable
   * (with the job id and the tail of its output).
   */
  waitForWorkers(n: number, options: { timeout?: number } = {}): Promise<void> {
    this.#checkOpen("waitForWorkers");
    if (!Number.isInteger(n) || n < 0) throw badOption("cluster", `waitForWorkers needs a whole number of workers, got ${String(n)}`);
    return new Promise<void>((resolve, reject) => {
      const finish = (error?: Error) => {
        this.#listeners.delete(check);
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const check = () => {
        if (this.#closed || this.#closing) return finish(closedError("cluster", `cluster ${this.name} closed while waiting for ${n} workers`));
        if (this.#scheduler.workerCount >= n) return finish();
        const failed = [...this.#jobs.values()].filter((j) => j.failure);
        const possible = this.#scheduler.workerCount + this.#liveJobs().filter((j) => !j.connected).length * this.settings.processes;
        if (failed.length > 0 && possible < n) finish(failed[0]?.failure);
      };
      const timer =
        options.timeout === undefined
          ? undefined
          : setTimeout(() => finish(new SkeinTimeoutError("cluster", `${this.#scheduler.workerCount} of ${n} workers connected after ${options.timeout} ms. ${this.#describeJobs()}`)), options.timeout);
      timer?.unref();
      this.#listeners.add(check);
      check();
    });
  }

  /** The job script `scale` submits (for the first job), exactly as the backend will run it. */
  jobScript(): string {
    return this.backend.jobScript(this.#jobSpec(this.#nextJobIndex));
  }

  /**
   * Stop everything: workers leave, every job this cluster started is cancelled (queued ones too)
   * once, and close resolves when the batch system says they are gone. Rejects naming the jobs it
   * could not confirm gone.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal Exit hooks: cancel every live job now, without waiting. */
  stopJobsNow(): void {
    const ids = this.#liveJobs().map((j) => j.id);
    if (ids.length === 0) return;
    for (const job of this.#liveJobs()) job.cancelRequested = true;
    try {
      this.backend.cancelSync?.(ids);
    } catch {
      // Last resort while the process exits: nothing left to report to.
    }
  }

  /** @internal Signal hooks: cancel jobs and wait (bounded) until they are gone; returns how many. */
  async abort(): Promise<number> {
    this.#targetJobs = 0;
    const live = this.#liveJobs();
    await this.#cancelJobs(live).catch(() => undefined);
    await this.#waitUntilGone(10_000).catch(() => undefined);
    return live.length;
  }

  // --- internal ---

  #jobsFor(request: number | ScaleRequest): number {
    if (typeof request === "number") {
      if (!Number.isInteger(request) || request < 0) throw badOption("cluster", `scale needs a whole number of workers (0 or more), got ${String(request)}`);
      return Math.ceil(request / this.settings.processes);
    }
    if (request === null || typeof request !== "object") throw badOption("cluster", `scale needs a number of workers or { jobs } / { workers }, got ${String(request)}`);
    const keys = Object.keys(request).filter((k) => (request as Record<string, unknown>)[k] !== undefined);
    const unknown = keys.filter((k) => k !== "jobs" && k !== "workers");
    if (unknown.length > 0) throw badOption("cluster", `scale got unknown option "${unknown[0]}"; use { jobs } or { workers }`);
    if (request.jobs !== undefined && request.workers !== undefined) throw badOption("cluster", "scale takes { jobs } or { workers }, not both");
    if (request.jobs !== undefined) {
      if (!Number.isInteger(request.jobs) || request.jobs < 0) throw badOption("cluster", `scale({ jobs }) needs a whole number of jobs, got ${String(request.jobs)}`);
      return request.jobs;
    }
    if (request.workers !== undefined) return this.#jobsFor(request.workers);
    throw badOption("cluster", "scale needs { jobs } or { workers }");
  }

  /** Bring the number of live jobs to the target. Calls made while one runs are coalesced into one more run. */
  #reconcile(): Promise<void> {
    if (this.#reconciling) {
      this.#reconcileAgain = true;
      return this.#reconciling;
    }
    this.#reconciling = (async () => {
      do {
        this.#reconcileAgain = false;
        try {
          await this.#reconcileOnce();
        } catch (error) {
          this.#lastReconcileError = error as Error;
        }
      } while (this.#reconcileAgain && !this.#closing);
    })().finally(() => {
      this.#reconciling = undefined;
    });
    return this.#reconciling;
  }

  async #reconcileOnce(): Promise<void> {
    const live = this.#liveJobs().filter((j) => !j.cancelRequested);
    const missing = this.#targetJobs - live.length;
    if (missing > 0) {
      const submissions = Array.from({ length: missing }, () => this.#submitOne());
      const results = await Promise.allSettled(submissions);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    } else if (missing < 0) {
      // Cancel queued jobs first (nothing is lost), then the newest running ones.
      const order = [...live].sort((a, b) => rank(a) - rank(b) || b.index - a.index);
      await this.#cancelJobs(order.slice(0, -missing));
    }
    this.#schedulePoll();
  }

  async #submitOne(): Promise<void> {
    // A closing cluster must not submit: that job would outlive it.
    if (this.#closing) return;
    const index = this.#nextJobIndex++;
    const spec = this.#jobSpec(index);
    const id = await this.backend.submit(spec);
    const record: JobRecord = {
      id,
      index,
      workerPrefix: `${this.name}-${index}`,
      state: { state: "queued" },
      submittedAt: new Date(),
      connected: false,
      cancelRequested: false,
      failure: undefined,
    };
    this.#jobs.set(id, record);
    log.debug(`cluster ${this.name}: submitted job ${id}`);
    if (this.#closing) await this.#cancelJobs([record]);
  }

  async #cancelJobs(jobs: readonly JobRecord[]): Promise<void> {
    const pending = jobs.filter((j) => !j.cancelRequested && j.state.state !== "exited");
    if (pending.length === 0) return;
    for (const job of pending) job.cancelRequested = true;
    await this.backend.cancel(pending.map((j) => j.id));
  }

  #jobSpec(index: number): JobSpec {
    return buildJobSpec(this.settings, {
      index,
      schedulerAddress: this.#scheduler.address,
      secret: this.secret,
      secretFile: this.#secretFile?.path,
      workerCommand: this.#workerCommand,
    });
  }

  #liveJobs(): JobRecord[] {
    return [...this.#jobs.values()].filter((j) => j.state.state !== "exited");
  }

  #jobOfWorker(name: string): JobRecord | undefined {
    for (const job of this.#jobs.values()) if (name.startsWith(`${job.workerPrefix}-`)) return job;
    return undefined;
  }

  #onWorkersChanged(workers: readonly ConnectedWorker[]): void {
    for (const worker of workers) {
      const job = this.#jobOfWorker(worker.name);
      if (job) {
        job.connected = true;
        if (job.state.state === "queued") job.state = { state: "running", host: worker.host };
      }
    }
    this.#notify();
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  #schedulePoll(): void {
    if (this.#pollTimer || this.#closed || this.#liveJobs().length === 0) return;
    const base = this.settings.pollIntervalSeconds ?? this.backend.defaultPollIntervalSeconds ?? 5;
    const seconds = Math.min(base * 2 ** this.#pollFailures, Math.max(base, MAX_POLL_BACKOFF_SECONDS));
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      void this.#poll().finally(() => this.#schedulePoll());
    }, seconds * 1000);
    // Watching jobs must not keep the process alive; the scheduler and the client do that.
    this.#pollTimer.unref();
  }

  /** One status call for every live job. */
  async #poll(): Promise<void> {
    const live = this.#liveJobs();
    if (live.length === 0) return;
    let states: ReadonlyMap<JobId, JobState>;
    try {
      states = await this.backend.status(live.map((j) => j.id));
      this.#pollFailures = 0;
      this.#lastStatusError = undefined;
    } catch (error) {
      this.#pollFailures += 1;
      this.#lastStatusError = error as Error;
      log.warn(`cluster ${this.name}: status check failed (${(error as Error).message}); backing off`);
      return;
    }
    for (const job of live) {
      const state = states.get(job.id);
      if (!state) continue;
      job.state = state;
      if (state.state === "exited" && !job.connected && !job.cancelRequested && !this.#closing) {
        job.failure = await this.#failureOf(job, state);
      }
    }
    this.#notify();
  }

  async #failureOf(job: JobRecord, state: Extract<JobState, { state: "exited" }>): Promise<SkeinError> {
    let output = "";
    if (this.backend.capabilities.logs && this.backend.logs) {
      try {
        const logs = await this.backend.logs(job.id);
        output = tail(`${logs.stdout}\n${logs.stderr}`.trim(), LOG_TAIL_LINES);
      } catch (error) {
        output = `(could not read the job's output: ${(error as Error).message})`;
      }
    }
    const how = state.exitCode === null ? (state.reason ?? "it ended") : `exit code ${state.exitCode}${state.reason ? `, ${state.reason}` : ""}`;
    return new SkeinError(
      "cluster",
      SKEIN_ERROR_CODES.JOB_FAILED_BEFORE_CONNECT,
      `job ${job.id} of cluster ${this.name} (${this.backend.name}) ended before any of its workers connected (${how}).` +
        (output ? `\nLast lines of its output:\n${output}` : "\nIt left no output."),
    );
  }

  #describeJobs(): string {
    const jobs = [...this.#jobs.values()];
    if (jobs.length === 0) return "No jobs were submitted: call cluster.scale(n) first.";
    const counts = new Map<string, number>();
    for (const job of jobs) counts.set(job.state.state, (counts.get(job.state.state) ?? 0) + 1);
    const reasons = jobs.flatMap((j) => (j.state.state === "queued" && j.state.reason ? [`${j.id}: ${j.state.reason}`] : []));
    const summary = [...counts].map(([state, n]) => `${n} ${state}`).join(", ");
    return `Jobs: ${summary}.${reasons.length > 0 ? ` Queued because: ${reasons.slice(0, 3).join("; ")}.` : ""}${this.#lastStatusError ? ` Last status error: ${this.#lastStatusError.message}` : ""}`;
  }

  async #shutDown(): Promise<void> {
    this.#targetJobs = 0;
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    this.#notify();
    await this.#reconciling;
    // Workers first: they leave cleanly (no task counted as killed), then their jobs end by themselves.
    await this.#scheduler.close({ closeWorkers: true, timeoutMs: 5000 });
    const problems: string[] = [];
    try {
      await this.#cancelJobs(this.#liveJobs());
    } catch (error) {
      problems.push(`cancelling failed: ${(error as Error).message}`);
    }
    try {
      await this.#waitUntilGone(CLOSE_TIMEOUT_MS);
    } catch (error) {
      problems.push((error as Error).message);
    }
    try {
      await this.backend.close?.();
    } catch (error) {
      problems.push(`closing the ${this.backend.name} backend failed: ${(error as Error).message}`);
    }
    this.#closed = true;
    this.#secretFile?.remove();
    untrackCluster(this);
    if (problems.length > 0) {
      throw new SkeinError("cluster", SKEIN_ERROR_CODES.COMMAND_FAILED, `cluster ${this.name} closed, but: ${problems.join("; ")}`);
    }
  }

  /** Poll until the backend reports every job gone. */
  async #waitUntilGone(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let delay = 100;
    for (;;) {
      const live = this.#liveJobs();
      if (live.length === 0) return;
      try {
        const states = await this.backend.status(live.map((j) => j.id));
        for (const job of live) {
          const state = states.get(job.id);
          if (state) job.state = state;
        }
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (this.#liveJobs().length === 0) return;
      if (Date.now() > deadline) {
        throw new SkeinError("cluster", SKEIN_ERROR_CODES.COMMAND_FAILED, `jobs still present after ${timeoutMs / 1000} s: ${this.#liveJobs().map((j) => j.id).join(", ")}; cancel them with your batch system`);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }

  #checkOpen(what: string): void {
    if (this.#closing || this.#closed) throw closedError("cluster", `cannot ${what}: cluster ${this.name} is closed`);
  }
}

/** Queued jobs are cancelled before running ones. */
function rank(job: JobRecord): number {
  return job.state.state === "queued" ? 0 : 1;
}

function tail(text: string, lines: number): string {
  return text.split("\n").slice(-lines).join("\n");
}

/**
 * Where the scheduler listens and what address it gives out: an explicit host, an interface's
 * address, loopback for local workers; for remote workers without an interface, every interface,
 * advertised under this machine's host name.
 */
function schedulerHostFor(backend: ClusterBackend, settings: ClusterSettings): { host: string; advertiseHost?: string } {
  if (settings.schedulerHost) return { host: settings.schedulerHost };
  const iface = settings.schedulerInterface ?? settings.interface;
  if (iface) return { host: interfaceAddress(iface) };
  return backend.capabilities.remoteWorkers ? { host: "0.0.0.0", advertiseHost: hostname() } : { host: "127.0.0.1" };
}
