/**
 * All cluster policy, once, for every backend: how many jobs to run for a number of workers, watching
 * their state with one status call for all, noticing jobs that die before their workers connect, and
 * leaving nothing behind on close, exit, error or signal. Backends only start, watch and stop jobs.
 */
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization";
import { startScheduler, type ConnectedWorker, type DashboardJob, type DashboardOptions, type Scheduler } from "@skein/scheduler";
import { generateSecret, interfaceAddress, log, type TlsOptions } from "@skein/transport";
import { SkeinTimeoutError, badOption, closedError } from "../errors.js";
import type { ClusterLike } from "../client.js";
import type { ClusterBackend, JobId, JobSpec, JobState } from "./backend.js";
import type { ClusterSettings } from "./cluster-options.js";
import { trackCluster, untrackCluster, type TrackedCluster } from "./exit-hooks.js";
import { AdaptivePolicy, type AdaptOptions } from "./adaptive.js";
import { setUpClusterTls, type ClusterTls } from "./cluster-tls.js";
import { hostInProcess } from "../in-process.js";
import { buildJobSpec } from "./job-spec.js";
import { JobLedger, type BackendOrigin } from "./job-ledger.js";
import { JobRenewal } from "./job-renewal.js";
import { RemoteScheduler, type ClusterScheduler } from "./remote-scheduler.js";
import { writeSecretFile, type SecretFile } from "./secret-file.js";
import { waitProgressView, type WaitProgressOptions } from "./wait-progress.js";
import { defaultWorkerCommand } from "./worker-command.js";

/** Lines of a failed job's output shown in the error. */
const LOG_TAIL_LINES = 30;
/** Longest wait between status calls while they keep failing. */
const MAX_POLL_BACKOFF_SECONDS = 60;
/** How long close() waits for the batch system to report every job gone. */
const CLOSE_TIMEOUT_MS = 60_000;
/** close() waits this long for jobs whose workers never connected to end before it stops the scheduler. */
const UNCONNECTED_GONE_WAIT_MS = 2_000;
/** Adaptive scaling stops submitting after this many jobs in a row died before connecting. */
const MAX_FAILURES_IN_A_ROW = 3;
/** A running job's output is checked for the workers' "cannot reach the scheduler" line after this long. */
const PREFLIGHT_AFTER_MS = 3_000;
/** Lines of a job's output the dashboard shows. */
const DASHBOARD_LOG_LINES = 40;

export interface ClusterJob {
  /** The job's id; for an element of a job array, the element's own id (`12_3`, `12[3].server`). */
  readonly id: JobId;
  /** The job array this job is an element of (`jobArrays: true`). */
  readonly arrayId?: JobId;
  /** Workers of this job are named `<workerPrefix>-<i>`. */
  readonly workerPrefix: string;
  readonly state: JobState;
  readonly submittedAt: Date;
  /** Workers of this job connected now. */
  readonly workers: readonly string[];
}

export interface WaitForWorkersOptions {
  /** Give up after this many milliseconds, saying what the jobs are doing. @default no limit */
  timeout?: number;
  /**
   * Show what the wait is for — workers connected, queued jobs with the batch system's reason — on
   * stderr: a live bar on a terminal, a line per change elsewhere. Off by default (Skein is quiet).
   */
  progress?: boolean | WaitProgressOptions;
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
  /** Set for an element of a job array: the array's id. */
  readonly arrayId: JobId | undefined;
  readonly index: number;
  readonly workerPrefix: string;
  state: JobState;
  readonly submittedAt: Date;
  /** A worker of this job has connected at some point. */
  connected: boolean;
  cancelRequested: boolean;
  /** Its workers are handing their data over before the job is cancelled (scale down). */
  retiring: boolean;
  /** Set when the job ended before any of its workers connected, or they cannot reach the scheduler. */
  failure: SkeinError | undefined;
  /** When the batch system first reported it running, or its first worker connected. */
  runningSince: number | undefined;
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
  /** The scheduler, in this process (`#local`) or in a batch job (`#remote`). */
  readonly #scheduler: ClusterScheduler;
  readonly #local: Scheduler | undefined;
  readonly #remote: RemoteScheduler | undefined;
  /** Workers one job brings: nodes × processes. */
  readonly workersPerJob: number;
  readonly #nodes: number;
  readonly #jobs = new Map<JobId, JobRecord>();
  readonly #listeners = new Set<() => void>();
  readonly #workerCommand: readonly string[];
  readonly #secretFile: SecretFile | undefined;
  readonly #tls: ClusterTls | undefined;
  readonly #ledger: JobLedger | undefined;
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
  #adaptive: { policy: AdaptivePolicy; timer: NodeJS.Timeout } | undefined;
  /** When an adaptive cluster submits the successor of a job nearing its walltime. */
  readonly #renewal: JobRenewal;
  /** Jobs in a row that ended before any of their workers connected. */
  #failuresInARow = 0;
  /** The last reconcile submitted fewer jobs than wanted because of maxJobs / maxQueuedJobs. */
  #capped = false;
  readonly #toldCapped = new Set<string>();

  private constructor(
    backend: ClusterBackend,
    settings: ClusterSettings,
    scheduler: { local: Scheduler; remote?: undefined } | { local?: undefined; remote: RemoteScheduler },
    secret: string,
    files: { secretFile: SecretFile | undefined; tls: ClusterTls | undefined },
    ledger: JobLedger | undefined,
    nodes: number,
  ) {
    this.#secretFile = files.secretFile;
    this.#tls = files.tls;
    this.#ledger = ledger;
    this.backend = backend;
    this.settings = settings;
    this.name = settings.name;
    this.secret = secret;
    this.#local = scheduler.local;
    if (this.#local) hostInProcess(this, this.#local);
    this.#remote = scheduler.remote;
    this.#scheduler = (scheduler.local ?? scheduler.remote) as ClusterScheduler;
    this.#nodes = nodes;
    this.workersPerJob = nodes * settings.processes;
    this.#workerCommand = settings.workerCommand ?? defaultWorkerCommand();
    this.#renewal = new JobRenewal({
      walltimeSeconds: settings.walltimeSeconds,
      walltimeEnforced: backend.capabilities.walltime,
      workerExtraArgs: settings.workerExtraArgs,
      pollSeconds: this.#pollSeconds(),
    });
    this.#scheduler.onWorkersChanged((workers) => this.#onWorkersChanged(workers));
    this.#remote?.onLost(() => this.#notify());
    trackCluster(this);
    this.#connectDashboard();
  }

  /**
   * Start a scheduler for this cluster, in this process or (with `scheduler: { inJob: true }`) in a
   * batch job of its own; no worker jobs run until `scale`. `origin` says how to build the backend
   * again from another process, so `skein jobs cancel` can clean up after a dead client.
   */
  static async start(backend: ClusterBackend, settings: ClusterSettings, origin?: BackendOrigin): Promise<Cluster> {
    const nodes = checkBackendFits(backend, settings);
    const secret = generateSecret();
    const secretFile = backend.capabilities.remoteWorkers ? writeSecretFile(settings.sharedDirectory, settings.name, secret) : undefined;
    // Only jobs on other hosts can outlive a dead client; local ones end with their scheduler.
    const ledger = backend.capabilities.remoteWorkers ? new JobLedger(settings.name, backend.name, origin) : undefined;
    if (ledger && secretFile) ledger.filesAt(dirname(secretFile.path));
    let tls: ClusterTls | undefined;
    try {
      // A temporary certificate lives next to the secret (jobs read it from the shared filesystem).
      if (settings.tls) tls = await setUpClusterTls(settings.tls, settings.name, secretFile?.path);
      if (settings.schedulerJob) {
        const remote = await RemoteScheduler.start({ backend, settings, secret, secretFile: (secretFile as SecretFile).path, ledger, tls });
        return new Cluster(backend, settings, { remote }, secret, { secretFile, tls }, ledger, nodes);
      }
      const { host, advertiseHost } = schedulerHostFor(backend, settings);
      const local = await startScheduler({
        secret,
        host,
        port: settings.schedulerPort,
        ...(advertiseHost ? { advertiseHost } : {}),
        dashboard: dashboardOptionsFor(settings),
        allowedFailures: settings.allowedFailures,
        ...(tls ? { tls: tls.options } : {}),
      });
      return new Cluster(backend, settings, { local }, secret, { secretFile, tls }, ledger, nodes);
    } catch (error) {
      tls?.remove();
      secretFile?.remove();
      if (ledger && ledger.jobCount === 0) ledger.remove();
      throw error;
    }
  }

  /** `ws://host:port` of this cluster's scheduler (`wss://` with `tls`). */
  get schedulerAddress(): string {
    return this.#scheduler.address;
  }

  /** With the `tls` option: the certificate, key and CA that clients of this cluster present and trust. */
  get tls(): TlsOptions | undefined {
    return this.#tls?.options;
  }

  /**
   * The in-process scheduler, for tests and tools (its `state` is read-only). Throws when the
   * scheduler runs in a batch job (`scheduler: { inJob: true }`): see `schedulerJob`.
   */
  get scheduler(): Scheduler {
    if (!this.#local) throw badOption("cluster", `cluster ${this.name}'s scheduler runs in batch job ${this.#remote?.jobId}, not in this process`);
    return this.#local;
  }

  /** With `scheduler: { inJob: true }`: the scheduler's batch job and its scheduler file (give the file to `Client.connectSchedulerFile` or `skein worker --scheduler-file`). */
  get schedulerJob(): { readonly id: JobId; readonly schedulerFile: string } | undefined {
    return this.#remote ? { id: this.#remote.jobId, schedulerFile: this.#remote.file } : undefined;
  }

  // --- dashboard ---

  /**
   * The dashboard of this cluster, `http://127.0.0.1:<port>/?token=…` (undefined with
   * `dashboard: false`). The token is derived from the cluster secret, not the secret itself: the
   * link shows the cluster, it cannot run anything on it.
   */
  get dashboardLink(): string | undefined {
    return this.#local ? this.#local.dashboard?.link : this.#remote?.dashboardLink;
  }

  /** Show this cluster's jobs on its scheduler's dashboard (the scheduler itself knows no jobs). */
  #connectDashboard(): void {
    // A scheduler in a batch job serves its own dashboard, without this cluster's jobs.
    const dashboard = this.#local?.dashboard;
    if (!dashboard) return;
    // When each job was first seen running (a worker connected, or the batch system said so) and gone.
    const startedAt = new Map<JobId, number>();
    const endedAt = new Map<JobId, number>();
    const see = () => {
      const now = Date.now();
      for (const job of this.#jobs.values()) {
        if (job.state.state === "running" && !startedAt.has(job.id)) startedAt.set(job.id, now);
        if (job.state.state === "exited" && !endedAt.has(job.id)) endedAt.set(job.id, now);
      }
    };
    // Notified after every status poll and every worker change.
    this.#listeners.add(see);
    const walltimeSeconds = this.backend.capabilities.walltime ? this.settings.walltimeSeconds : undefined;
    const jobs = (): DashboardJob[] => {
      see();
      const workers = this.#scheduler.workers;
      return [...this.#jobs.values()].map((job) => {
        const started = startedAt.get(job.id);
        const ended = endedAt.get(job.id);
        const state = job.state;
        const detail = state.state === "queued" ? state.reason : state.state === "exited" ? describeExit(state) : state.state === "unknown" ? state.detail : undefined;
        const host = state.state === "running" ? state.host : undefined;
        return {
          id: job.id,
          state: state.state,
          submittedAt: job.submittedAt.getTime(),
          workers: workers.filter((w) => w.name.startsWith(`${job.workerPrefix}-`)).map((w) => w.name),
          ...(detail === undefined ? {} : { detail }),
          ...(host === undefined ? {} : { host }),
          ...(started === undefined ? {} : { startedAt: started }),
          ...(ended === undefined ? {} : { endedAt: ended }),
          ...(walltimeSeconds === undefined ? {} : { walltimeSeconds }),
        };
      });
    };
    const backend = this.backend;
    const readLogs = backend.capabilities.logs ? backend.logs?.bind(backend) : undefined;
    const logTail =
      readLogs &&
      (async (id: string) => {
        const logs = await readLogs(id as JobId);
        return tail(`${logs.stdout}\n${logs.stderr}`.trim(), DASHBOARD_LOG_LINES);
      });
    dashboard.setJobsProvider(jobs, logTail ? { logTail } : {});
  }

  /** Jobs this cluster started that the batch system has not reported gone. */
  get jobs(): readonly ClusterJob[] {
    const workers = this.#scheduler.workers;
    return this.#liveJobs().map((job) => ({
      id: job.id,
      ...(job.arrayId ? { arrayId: job.arrayId } : {}),
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
    const jobs = this.#jobsFor(request);
    // A fixed size replaces adaptive scaling, as in Dask.
    this.#stopAdaptive();
    this.#targetJobs = jobs;
    await this.#reconcile();
    if (this.#lastReconcileError) {
      const error = this.#lastReconcileError;
      this.#lastReconcileError = undefined;
      throw error;
    }
  }

  /**
   * Let the cluster size follow the work: enough workers to finish the pending tasks in about
   * `targetDuration` seconds, between `minimum` and `maximum` workers. Jobs waiting in the batch
   * queue count as coming, jobs that end (walltime) are replaced, and shrinking waits for
   * `waitCount` decisions in a row. Stops when `scale()` or `close()` is called, or with `stop()`.
   * After 3 jobs in a row die before connecting, it stops submitting and `waitForWorkers` reports why.
   */
  adapt(options: AdaptOptions = {}): { stop(): void } {
    this.#checkOpen("adapt");
    if (this.#remote) {
      throw badOption("cluster", `adapt() needs the scheduler in this process: cluster ${this.name}'s scheduler runs in batch job ${this.#remote.jobId}, whose load this process cannot see. Use scale(n).`);
    }
    const checked = validateAdaptOptions(options);
    this.#stopAdaptive();
    const policy = new AdaptivePolicy(checked);
    const tick = () => {
      if (this.#closing || !this.#adaptive) return;
      if (this.#failuresInARow >= MAX_FAILURES_IN_A_ROW) return;
      const planned = this.#plannedJobs().length * this.workersPerJob;
      const workers = policy.decide(this.#scheduler.workload(), planned);
      const jobs = Math.ceil(workers / this.workersPerJob);
      if (jobs !== this.#targetJobs || jobs * this.workersPerJob !== planned) {
        this.#targetJobs = jobs;
        void this.#reconcile();
      }
    };
    const timer = setInterval(tick, (checked.interval ?? 1) * 1000);
    timer.unref();
    this.#adaptive = { policy, timer };
    tick();
    return { stop: () => this.#stopAdaptive() };
  }

  /** True while `adapt()` decides the size. */
  get adaptive(): boolean {
    return this.#adaptive !== undefined;
  }

  /**
   * Resolves when at least `n` workers are connected. Rejects when the timeout passes (saying what
   * the jobs are doing) or as soon as jobs that died before connecting make `n` unreachable
   * (with the job id and the tail of its output).
   */
  waitForWorkers(n: number, options: WaitForWorkersOptions = {}): Promise<void> {
    this.#checkOpen("waitForWorkers");
    if (!Number.isInteger(n) || n < 0) throw badOption("cluster", `waitForWorkers needs a whole number of workers, got ${String(n)}`);
    const { progress } = options;
    if (progress !== undefined && typeof progress !== "boolean" && (progress === null || typeof progress !== "object")) {
      throw badOption("cluster", `waitForWorkers's progress option is true, false or { stream, mode, interval }, got ${String(progress)}`);
    }
    const waiting = this.#waitForWorkers(n, options.timeout);
    return progress ? this.#showWaiting(waiting, n, progress === true ? {} : progress) : waiting;
  }

  async #showWaiting(waiting: Promise<void>, n: number, options: WaitProgressOptions): Promise<void> {
    waiting.catch(() => undefined); // awaited below, once the view is ready
    const view = await waitProgressView(options, n);
    const snapshot = () => ({ wanted: n, connected: this.#scheduler.workerCount, jobs: this.jobs });
    const show = () => view.update(snapshot());
    this.#listeners.add(show);
    show();
    try {
      await waiting;
      view.stop("connected", snapshot());
    } catch (error) {
      view.stop("failed", snapshot());
      throw error;
    } finally {
      this.#listeners.delete(show);
    }
  }

  #waitForWorkers(n: number, timeout: number | undefined): Promise<void> {
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
        if (this.#remote?.lost) return finish(this.#remote.lost);
        const failed = [...this.#jobs.values()].filter((j) => j.failure);
        const possible = this.#scheduler.workerCount + this.#liveJobs().filter((j) => !j.connected && !j.failure).length * this.workersPerJob;
        if (failed.length > 0 && possible < n) finish(failed[0]?.failure);
      };
      const timer =
        timeout === undefined
          ? undefined
          : setTimeout(() => finish(new SkeinTimeoutError("cluster", `${this.#scheduler.workerCount} of ${n} workers connected after ${timeout} ms. ${this.#describeJobs()}`)), timeout);
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
    for (const job of this.#liveJobs()) job.cancelRequested = true;
    try {
      if (ids.length > 0) this.backend.cancelSync?.(ids);
      this.#remote?.stopNow();
      if ((ids.length === 0 && !this.#remote) || this.backend.cancelSync) this.#ledger?.remove();
    } catch {
      // Last resort while the process exits: the ledger keeps the jobs for `skein jobs cancel`.
    }
    this.#removeFiles();
  }

  /** @internal Signal hooks: cancel jobs and wait (bounded) until they are gone; returns how many. */
  async abort(): Promise<number> {
    this.#stopAdaptive();
    this.#targetJobs = 0;
    const live = this.#liveJobs();
    await Promise.all([this.#cancelJobs(live).catch(() => undefined), this.#remote?.abort()]);
    const gone = await this.#waitUntilGone(10_000).then(
      () => true,
      () => false,
    );
    if (gone) this.#ledger?.remove();
    await Promise.resolve(this.backend.close?.()).catch(() => undefined);
    this.#removeFiles();
    return live.length + (this.#remote ? 1 : 0);
  }

  // --- internal ---

  #stopAdaptive(): void {
    if (!this.#adaptive) return;
    clearInterval(this.#adaptive.timer);
    this.#adaptive = undefined;
  }

  #jobsFor(request: number | ScaleRequest): number {
    if (typeof request === "number") {
      if (!Number.isInteger(request) || request < 0) throw badOption("cluster", `scale needs a whole number of workers (0 or more), got ${String(request)}`);
      return Math.ceil(request / this.workersPerJob);
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
    const live = this.#plannedJobs();
    const missing = this.#targetJobs - live.length;
    if (missing > 0) {
      const allowed = this.#withinCaps(live, missing);
      // One job array for all of them (an array of one is a plain job), or one submission each.
      const submissions = this.settings.jobArrays && allowed > 1 ? [this.#submitArray(allowed)] : Array.from({ length: allowed }, () => this.#submitOne());
      const results = await Promise.allSettled(submissions);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    } else if (missing < 0) {
      // An explicit scale() down is obeyed even if held results must be recomputed later; adaptive
      // scaling never throws results away.
      await this.#shrinkBy(live, -missing, !this.#adaptive);
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
      arrayId: undefined,
      index,
      workerPrefix: `${this.name}-${index}`,
      state: { state: "queued" },
      submittedAt: new Date(),
      connected: false,
      cancelRequested: false,
      retiring: false,
      failure: undefined,
      runningSince: undefined,
    };
    this.#jobs.set(id, record);
    this.#ledger?.submitted(id);
    log.debug(`cluster ${this.name}: submitted job ${id}`);
    if (this.#closing) await this.#cancelJobs([record]);
  }

  /**
   * One job array of `size` elements. Each element becomes a job record of its own (watched,
   * cancelled and replaced alone); its workers are `<name>-<index>-<element>-<i>`, because the job
   * script appends the element's index (from the batch system's environment) to `--name`.
   */
  async #submitArray(size: number): Promise<void> {
    if (this.#closing) return;
    const submitArray = this.backend.submitArray?.bind(this.backend);
    if (!submitArray) throw badOption("cluster", `jobArrays: backend ${this.backend.name} cannot submit job arrays`);
    const index = this.#nextJobIndex++;
    const { id: arrayId, elements } = await submitArray({ ...this.#jobSpec(index), arraySize: size });
    const submittedAt = new Date();
    const records = elements.map(
      (id, i): JobRecord => ({
        id,
        arrayId,
        index,
        workerPrefix: `${this.name}-${index}-${i + 1}`,
        state: { state: "queued" },
        submittedAt,
        connected: false,
        cancelRequested: false,
        retiring: false,
        failure: undefined,
        runningSince: undefined,
      }),
    );
    for (const record of records) {
      this.#jobs.set(record.id, record);
      this.#ledger?.submitted(record.id);
    }
    log.debug(`cluster ${this.name}: submitted job array ${arrayId} (${elements.join(", ")})`);
    if (this.#closing) await this.#cancelJobs(records);
  }

  /**
   * Remove `count` jobs: first those whose workers never connected (nothing is lost), then those
   * whose workers are idle and hold the least data. Connected workers retire first, so the results
   * they hold move to the workers that stay.
   */
  async #shrinkBy(live: readonly JobRecord[], count: number, force: boolean): Promise<void> {
    await this.#remote?.refresh().catch(() => undefined);
    const workload = this.#scheduler.workload();
    const idle = new Set(workload.idleWorkers);
    const workersOf = (job: JobRecord) => this.#scheduler.workers.filter((w) => w.name.startsWith(`${job.workerPrefix}-`)).map((w) => w.name);
    const cost = (job: JobRecord) => {
      const names = workersOf(job);
      if (names.length === 0) return -1;
      const busy = names.filter((n) => !idle.has(n)).length;
      const bytes = names.reduce((sum, n) => sum + (workload.bytesByWorker.get(n) ?? 0), 0);
      return busy * 1e15 + bytes;
    };
    // Cheapest first; among equals the newest (array elements: the highest index).
    const chosen = [...live].sort((a, b) => cost(a) - cost(b) || b.index - a.index || b.workerPrefix.localeCompare(a.workerPrefix, "en", { numeric: true })).slice(0, count);
    for (const job of chosen) job.retiring = true;
    const retiring = chosen.flatMap(workersOf);
    const { kept } = retiring.length > 0 ? await this.#scheduler.retireWorkers(retiring, { reason: `cluster ${this.name} scaled down`, force }) : { kept: [] };
    // Jobs with a worker that had to stay (its results had nowhere to go) keep running.
    const stay = chosen.filter((job) => kept.some((name) => name.startsWith(`${job.workerPrefix}-`)));
    for (const job of stay) job.retiring = false;
    await this.#cancelJobs(chosen.filter((job) => !stay.includes(job)));
  }

  /**
   * How many of `missing` jobs the queue caps let us submit now. The rest follow as queued jobs
   * start (`maxQueuedJobs`) or end (`maxJobs`); the user is told once, on stderr, when a request is capped.
   */
  #withinCaps(live: readonly JobRecord[], missing: number): number {
    const { maxJobs, maxQueuedJobs } = this.settings;
    const queued = live.filter((j) => j.state.state === "queued" && !j.connected).length;
    let allowed = missing;
    let cap: string | undefined;
    // A job whose successor is due (near its walltime) still runs: it counts toward maxJobs.
    const atOnce = this.#liveJobs().filter((j) => !j.cancelRequested && !j.retiring).length;
    if (maxJobs !== undefined && atOnce + allowed > maxJobs) {
      allowed = Math.max(0, maxJobs - atOnce);
      cap = `maxJobs is ${maxJobs}`;
    }
    if (maxQueuedJobs !== undefined && queued + allowed > maxQueuedJobs) {
      allowed = Math.max(0, maxQueuedJobs - queued);
      cap = `maxQueuedJobs is ${maxQueuedJobs}`;
    }
    this.#capped = allowed < missing;
    if (cap && this.#capped && !this.#toldCapped.has(cap)) {
      this.#toldCapped.add(cap);
      process.stderr.write(
        `[skein] cluster ${this.name}: ${this.#targetJobs} jobs wanted, but ${cap}: submitting ${allowed} now, the rest as the queue allows\n`,
      );
    }
    return allowed;
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
      schedulerFile: this.#remote?.file,
      nodes: this.#nodes,
      secret: this.secret,
      secretFile: this.#secretFile?.path,
      tlsEnv: this.#tls?.env,
      workerCommand: this.#workerCommand,
      walltimeEnforced: this.backend.capabilities.walltime,
    });
  }

  #liveJobs(): JobRecord[] {
    return [...this.#jobs.values()].filter((j) => j.state.state !== "exited");
  }

  /**
   * The jobs that count toward the size asked for: live, not being cancelled or retired, and — when
   * adaptive — not about to reach their walltime, so that their successor is submitted in time.
   */
  #plannedJobs(): JobRecord[] {
    const now = Date.now();
    return this.#liveJobs().filter((j) => !j.cancelRequested && !j.retiring && !(this.#adaptive && this.#renewal.endingSoon(j.runningSince, now)));
  }

  #jobOfWorker(name: string): JobRecord | undefined {
    for (const job of this.#jobs.values()) if (name.startsWith(`${job.workerPrefix}-`)) return job;
    return undefined;
  }

  #onWorkersChanged(workers: readonly ConnectedWorker[]): void {
    for (const worker of workers) {
      const job = this.#jobOfWorker(worker.name);
      if (job) {
        if (!job.connected) {
          this.#failuresInARow = 0;
          this.#renewal.observeStartup((Date.now() - job.submittedAt.getTime()) / 1000);
        }
        job.connected = true;
        job.runningSince ??= Date.now();
        if (job.state.state === "queued") job.state = { state: "running", host: worker.host };
      }
    }
    this.#notify();
  }

  #pollSeconds(): number {
    return this.settings.pollIntervalSeconds ?? this.backend.defaultPollIntervalSeconds ?? 5;
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  #schedulePoll(): void {
    if (this.#pollTimer || this.#closed || this.#liveJobs().length === 0) return;
    const base = this.#pollSeconds();
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
      if (job.state.state !== "exited" && state.state === "exited") {
        log.debug(`cluster ${this.name}: job ${job.id} ended (${describeExit(state)})`);
        this.#ledger?.gone([job.id]);
      }
      job.state = state;
      if (state.state === "running") job.runningSince ??= Date.now();
      if (state.state === "running" && !job.connected && !job.failure) await this.#preflight(job);
      if (state.state === "exited" && !job.connected && !job.cancelRequested && !job.retiring && !this.#closing) {
        job.failure = await this.#failureOf(job, state);
        this.#failuresInARow += 1;
        if (this.#failuresInARow === MAX_FAILURES_IN_A_ROW && this.#adaptive) {
          log.warn(`cluster ${this.name}: ${MAX_FAILURES_IN_A_ROW} jobs in a row ended before connecting; adaptive scaling stops submitting. ${job.failure.message}`);
        }
      }
    }
    this.#notify();
    // A capped request goes on as queued jobs start or end. (An adaptive cluster also replaces jobs
    // that ended: its next decision sees fewer planned workers and submits again.)
    if (this.#capped && !this.#closing) void this.#reconcile();
  }

  /**
   * A job that runs but whose workers have not connected: if its output says they cannot reach the
   * scheduler (the worker's preflight line), report that now, with the host and address, instead of
   * after the workers' death timeout.
   */
  async #preflight(job: JobRecord): Promise<void> {
    if (!this.backend.logs || !this.backend.capabilities.logs || job.runningSince === undefined) return;
    if (Date.now() - job.runningSince < PREFLIGHT_AFTER_MS) return;
    let text: string;
    try {
      const logs = await this.backend.logs(job.id);
      text = `${logs.stdout}\n${logs.stderr}`;
    } catch {
      return;
    }
    const line = text.split("\n").find((l) => l.includes("cannot reach the scheduler"));
    if (!line) return;
    job.failure = new SkeinError(
      "cluster",
      SKEIN_ERROR_CODES.CONNECT_FAILED,
      `job ${job.id} of cluster ${this.name} runs, but its workers cannot reach the scheduler at ${this.schedulerAddress}: ${line.replace(/^\[skein\] /, "")}. ` +
        "Set `interface` to a network the compute nodes share with this host (and `schedulerInterface` if this host's differs).",
    );
    this.#failuresInARow += 1;
    // Its workers would only retry until their death timeout: free the allocation now.
    await this.#cancelJobs([job]).catch(() => undefined);
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
    const how = state.exitCode === null ? (state.reason ?? `exit status not reported by ${this.backend.name}`) : `exit code ${state.exitCode}${state.reason ? `, ${state.reason}` : ""}`;
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
    this.#stopAdaptive();
    this.#targetJobs = 0;
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    this.#notify();
    await this.#reconciling;
    const problems: string[] = [];
    let uncancelled = new Set<JobRecord>();
    // Jobs whose workers never connected hold nothing: they go first, so that no worker is still
    // dialling when the scheduler stops listening (it would report the scheduler unreachable).
    const unconnected = this.#liveJobs().filter((j) => !j.connected);
    const cancelled = await this.#cancelJobs(unconnected).then(
      () => true,
      () => {
        // Tried again, and reported if it fails again, with every other job below.
        for (const job of unconnected) job.cancelRequested = false;
        return false;
      },
    );
    if (cancelled) await this.#waitUntilGone(UNCONNECTED_GONE_WAIT_MS, new Set(this.#liveJobs().filter((j) => !unconnected.includes(j)))).catch(() => undefined);
    // Then workers: they leave cleanly (no task counted as killed), and their jobs end by themselves.
    // A scheduler in a batch job does the same when its job is cancelled (SIGTERM).
    try {
      await this.#scheduler.close({ closeWorkers: true, timeoutMs: 5000 });
    } catch (error) {
      problems.push((error as Error).message);
    }
    try {
      await this.#cancelJobs(this.#liveJobs());
    } catch (error) {
      // A running job ends by itself now that its workers left; one still queued will not go away
      // by waiting, so it is reported now rather than after the close timeout.
      uncancelled = new Set(this.#liveJobs().filter((j) => j.state.state !== "running"));
      const ids = [...uncancelled].map((j) => j.id).join(" ");
      problems.push(
        `cancelling failed: ${(error as Error).message}` +
          (uncancelled.size > 0 ? `\nThese jobs are still queued and stay in the job ledger; cancel them later with: skein jobs cancel ${ids}` : ""),
      );
    }
    try {
      await this.#waitUntilGone(CLOSE_TIMEOUT_MS, uncancelled);
    } catch (error) {
      problems.push((error as Error).message);
    }
    try {
      await this.backend.close?.();
    } catch (error) {
      problems.push(`closing the ${this.backend.name} backend failed: ${(error as Error).message}`);
    }
    this.#closed = true;
    this.#removeFiles();
    // Jobs we could not confirm gone stay in the ledger, for `skein jobs list`.
    if (problems.length === 0) this.#ledger?.remove();
    untrackCluster(this);
    if (problems.length > 0) {
      throw new SkeinError("cluster", SKEIN_ERROR_CODES.COMMAND_FAILED, `cluster ${this.name} closed, but: ${problems.join("; ")}`);
    }
  }

  /** Poll until the backend reports every job gone (but those in `except`). */
  async #waitUntilGone(timeoutMs: number, except: ReadonlySet<JobRecord> = new Set()): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // Start polling fast: local jobs end within tens of milliseconds; batch ones back off to 2 s.
    let delay = 20;
    const waitingFor = () => this.#liveJobs().filter((j) => !except.has(j));
    for (;;) {
      const live = waitingFor();
      if (live.length === 0) return;
      try {
        const states = await this.backend.status(live.map((j) => j.id));
        for (const job of live) {
          const state = states.get(job.id);
          if (state) job.state = state;
          if (state?.state === "exited") this.#ledger?.gone([job.id]);
        }
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (waitingFor().length === 0) return;
      if (Date.now() > deadline) {
        throw new SkeinError("cluster", SKEIN_ERROR_CODES.COMMAND_FAILED, `jobs still present after ${timeoutMs / 1000} s: ${waitingFor().map((j) => j.id).join(", ")}; cancel them with your batch system`);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }

  /** The secret file and a temporary certificate: gone with the cluster. */
  #removeFiles(): void {
    this.#tls?.remove();
    this.#secretFile?.remove();
  }

  #checkOpen(what: string): void {
    if (this.#closing || this.#closed) throw closedError("cluster", `cannot ${what}: cluster ${this.name} is closed`);
  }
}

/**
 * The script `scale()` would submit for the first job, before any scheduler runs: the same job
 * spec as a running cluster's `jobScript()` (nodes, walltime-driven lifetime, secret file, TLS
 * file), with placeholders for what only a running cluster knows. `skein job-script` prints this.
 */
export function previewJobScript(backend: ClusterBackend, settings: ClusterSettings): string {
  const nodes = checkBackendFits(backend, settings);
  return backend.jobScript(
    buildJobSpec(settings, {
      index: 0,
      schedulerAddress: "ws://<scheduler-host>:<port>",
      nodes,
      secret: "<secret: passed by environment or file, never in the script>",
      // Jobs of batch backends read the secret from a 0600 file the cluster writes when it starts.
      ...(backend.capabilities.remoteWorkers ? { secretFile: join(settings.sharedDirectory, "clusters", `${settings.name}-<id>`, "secret") } : {}),
      workerCommand: settings.workerCommand ?? defaultWorkerCommand(),
      walltimeEnforced: backend.capabilities.walltime,
    }),
  );
}

/**
 * Refuse what the backend cannot do (job arrays, jobs on several nodes, a scheduler in a job), and
 * settle how many nodes each job spans: the `nodes` option, else what the backend's own resource
 * request says (PBS `nodes=2:ppn=12`), else 1.
 */
function checkBackendFits(backend: ClusterBackend, settings: ClusterSettings): number {
  if (settings.jobArrays && !(backend.capabilities.arrays && backend.submitArray)) {
    throw badOption("cluster", `jobArrays: backend ${backend.name} has no job arrays (the pbs and slurm backends have them); remove jobArrays`);
  }
  // A batch system: its jobs run on other hosts (the secret file) and are batch jobs (walltime), not ssh sessions.
  if (settings.schedulerJob && !(backend.capabilities.remoteWorkers && backend.capabilities.walltime)) {
    throw badOption("cluster", `scheduler: { inJob: true } needs a batch backend (pbs, slurm, …): backend ${backend.name} starts no batch jobs`);
  }
  const fromBackend = backend.nodesPerJob;
  if (settings.nodes !== undefined && fromBackend !== undefined && settings.nodes !== fromBackend) {
    throw badOption("cluster", `option "nodes" is ${settings.nodes}, but backend ${backend.name}'s resource request asks for ${fromBackend} nodes per job; keep one of them`);
  }
  const nodes = settings.nodes ?? fromBackend ?? 1;
  if (nodes > 1 && !backend.capabilities.multiNode) {
    throw badOption("cluster", `nodes: backend ${backend.name} cannot start workers on ${nodes} nodes of one job (the pbs and slurm backends can)`);
  }
  return nodes;
}

function describeExit(state: Extract<JobState, { state: "exited" }>): string {
  return state.exitCode === null ? (state.reason ?? "ended") : `exit code ${state.exitCode}${state.reason ? `, ${state.reason}` : ""}`;
}

function validateAdaptOptions(options: AdaptOptions): AdaptOptions {
  const check = (key: keyof AdaptOptions, min: number) => {
    const value = options[key];
    if (value === undefined) return;
    if (typeof value !== "number" || Number.isNaN(value) || value < min) {
      throw badOption("cluster", `adapt option "${key}" must be a number of at least ${min}, got ${JSON.stringify(value)}`);
    }
  };
  for (const key of Object.keys(options)) {
    if (!["minimum", "maximum", "interval", "targetDuration", "waitCount"].includes(key)) {
      throw badOption("cluster", `adapt got unknown option "${key}"; known: minimum, maximum, interval, targetDuration, waitCount`);
    }
  }
  check("minimum", 0);
  check("maximum", 0);
  check("interval", 0.05);
  check("targetDuration", 0.001);
  check("waitCount", 1);
  if ((options.minimum ?? 0) > (options.maximum ?? Number.POSITIVE_INFINITY)) {
    throw badOption("cluster", `adapt: minimum (${options.minimum}) is above maximum (${options.maximum})`);
  }
  return options;
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

/** The scheduler's dashboard options from the cluster's (`dashboard`, `dashboardPort`, `dashboardHost`, `dashboardOpenMetrics`). */
function dashboardOptionsFor(settings: ClusterSettings): DashboardOptions | false {
  if (!settings.dashboard) return false;
  return { host: settings.dashboardHost, port: settings.dashboardPort, openMetrics: settings.dashboardOpenMetrics };
}
