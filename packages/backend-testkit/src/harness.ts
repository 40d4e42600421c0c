/**
 * What every conformance test uses: a fresh backend, job specs whose "worker" is a tiny `node -e`
 * program, polls with deadlines, and a clean-up that cancels every job the test started, waits
 * until the backend reports them gone and checks that none of their processes is left.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";
import { Cluster, resolveClusterSettings, type ClusterBackend, type ClusterOptions, type JobId, type JobSpec, type JobState, type SubmittedArray } from "@skein/core";
import type { ResolvedConformanceOptions } from "./options.js";
import { until as pollUntil } from "./polling.js";

/** Environment variable that marks every process a test starts, so the suite can find leftovers. */
export const MARK_VARIABLE = "SKEIN_CONFORMANCE_MARK";

export type StateName = JobState["state"];

export interface ConformanceContext {
  readonly options: ResolvedConformanceOptions;
  /** This test's backend, created on first use and closed after the test. */
  backend(): Promise<ClusterBackend>;
  /** This test's holding backend (jobs stay queued); throws when the options have none. */
  holdingBackend(): Promise<ClusterBackend>;
  /** This test's marker value (in `MARK_VARIABLE` of every job it starts). */
  readonly mark: string;
  /** A job whose worker command is `node -e <code>` (the worker arguments are ignored). */
  jobSpec(code: string, overrides?: Partial<JobSpec>): JobSpec;
  /** Submit and remember the job for clean-up. */
  submit(backend: ClusterBackend, spec: JobSpec): Promise<JobId>;
  /** Submit a job array (`backend.submitArray`) and remember its elements for clean-up. */
  submitArray(backend: ClusterBackend, spec: JobSpec & { readonly arraySize: number }): Promise<SubmittedArray>;
  /** Start a Cluster with real workers on `backend` (default: this test's); closed after the test. */
  startCluster(options?: ClusterOptions, backend?: ClusterBackend): Promise<Cluster>;
  /** Poll `status([id])` until the job is in one of `states`; returns the states seen on the way. */
  waitForState(backend: ClusterBackend, id: JobId, states: readonly StateName[], timeoutMs?: number): Promise<{ state: JobState; seen: StateName[] }>;
  /** Poll until `check` returns a truthy value; the timeout error shows `what` and the last value. */
  until<T>(what: string | (() => string), check: () => T | Promise<T>, timeoutMs?: number): Promise<NonNullable<T>>;
  /** Live processes (pids) started by this test: they carry its mark. Empty when jobs run elsewhere. */
  processesLeft(): number[];
}

/** Register per-test set-up and clean-up in the enclosing `describe`, and return the helpers. */
export function useHarness(options: ResolvedConformanceOptions): ConformanceContext & { cleanup(): Promise<void>; report(): Promise<void> } {
  let state = freshState();

  beforeEach(() => {
    state = freshState();
  });
  afterEach(async () => {
    await cleanup();
  }, options.testTimeoutMs);

  const cleanup = (): Promise<void> => (state.cleanup ??= cleanUp(state, options));

  const getBackend = async (kind: "plain" | "holding"): Promise<ClusterBackend> => {
    const existing = state.backends.get(kind);
    if (existing) return existing;
    const factory = kind === "plain" ? options.createBackend : options.createHoldingBackend;
    if (!factory) throw new Error("[skein-testkit] this backend's conformance options have no createHoldingBackend");
    const backend = await factory();
    state.backends.set(kind, backend);
    return backend;
  };

  const until = <T>(what: string | (() => string), check: () => T | Promise<T>, timeoutMs = options.stateChangeTimeoutMs) => pollUntil(what, check, timeoutMs);

  return {
    options,
    get mark() {
      return state.mark;
    },
    backend: () => getBackend("plain"),
    holdingBackend: () => getBackend("holding"),
    jobSpec: (code, overrides = {}) => ({
      name: "skein-conformance",
      workerProcesses: 1,
      threadsPerWorker: 1,
      cores: 1,
      schedulerAddress: "ws://127.0.0.1:9",
      secret: state.secret,
      secretFile: secretFile(state),
      workerCommand: [process.execPath, "-e", code],
      workerArgs: [],
      env: { [MARK_VARIABLE]: state.mark },
      prologue: [],
      ...overrides,
    }),
    async submit(backend, spec) {
      const id = await backend.submit(spec);
      const ids = state.jobs.get(backend) ?? [];
      ids.push(id);
      state.jobs.set(backend, ids);
      return id;
    },
    async submitArray(backend, spec) {
      if (!backend.submitArray) throw new Error(`[skein-testkit] backend ${backend.name} has no submitArray`);
      const submitted = await backend.submitArray(spec);
      const ids = state.jobs.get(backend) ?? [];
      ids.push(...submitted.elements);
      state.jobs.set(backend, ids);
      return submitted;
    },
    async startCluster(clusterOptions = {}, backend) {
      const settings = resolveClusterSettings({
        name: "skein-conformance",
        pollInterval: 1,
        deathTimeout: 30,
        ...options.clusterOptions,
        ...clusterOptions,
        sharedDirectory: workDirectory(state, options),
        env: { ...options.clusterOptions.env, ...clusterOptions.env, [MARK_VARIABLE]: state.mark },
      });
      const cluster = await Cluster.start(backend ?? (await getBackend("plain")), settings);
      state.clusters.push(cluster);
      return cluster;
    },
    async waitForState(backend, id, states, timeoutMs) {
      const seen: StateName[] = [];
      const state = await until(
        () => `job ${id} to be ${states.join(" or ")} (states seen: ${seen.join(" → ") || "none"})`,
        async () => {
          const current = (await backend.status([id])).get(id);
          if (current && seen.at(-1) !== current.state) seen.push(current.state);
          return current && states.includes(current.state) ? current : undefined;
        },
        timeoutMs,
      );
      return { state, seen };
    },
    until,
    processesLeft: () => (options.jobsRunOnThisHost ? processesWithMark(state.mark) : []),
    cleanup,
    report: () => report(state),
  };
}

/** Pids of live (not zombie) processes whose environment carries `MARK_VARIABLE=mark`. */
export function processesWithMark(mark: string): number[] {
  return livePids((pid) => readFileSync(`/proc/${pid}/environ`, "latin1").includes(`${MARK_VARIABLE}=${mark}`));
}

/** Pids of live (not zombie) processes whose command line contains `text`. */
export function processesWith(text: string): number[] {
  return livePids((pid) => readFileSync(`/proc/${pid}/cmdline`, "latin1").replaceAll("\0", " ").includes(text));
}

// --- internal ---

/** Live processes other than this one for which `test` holds (one that ends while we look is skipped). */
function livePids(test: (pid: string) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (!test(entry)) continue;
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${entry}/stat`, "latin1"))) continue;
      pids.push(Number(entry));
    } catch {
      // It ended while we looked.
    }
  }
  return pids;
}

interface TestState {
  readonly mark: string;
  readonly secret: string;
  readonly backends: Map<"plain" | "holding", ClusterBackend>;
  readonly jobs: Map<ClusterBackend, JobId[]>;
  readonly clusters: Cluster[];
  dir: string | undefined;
  secretFile: string | undefined;
  cleanup: Promise<void> | undefined;
}

function freshState(): TestState {
  return { mark: randomUUID(), secret: randomUUID(), backends: new Map(), jobs: new Map(), clusters: [], dir: undefined, secretFile: undefined, cleanup: undefined };
}

function workDirectory(state: TestState, options: ResolvedConformanceOptions): string {
  state.dir ??= mkdtempSync(join(options.clusterOptions.sharedDirectory ?? tmpdir(), "skein-conformance-"));
  return state.dir;
}

function secretFile(state: TestState): string {
  if (!state.secretFile) {
    state.secretFile = join(state.dir ?? (state.dir = mkdtempSync(join(tmpdir(), "skein-conformance-"))), "secret");
    writeFileSync(state.secretFile, `${state.secret}\n`, { mode: 0o600 });
  }
  return state.secretFile;
}

async function cleanUp(state: TestState, options: ResolvedConformanceOptions): Promise<void> {
  const problems: string[] = [];
  for (const cluster of state.clusters) {
    await cluster.close().catch((error: Error) => problems.push(`closing cluster ${cluster.name}: ${error.message}`));
  }
  for (const [backend, ids] of state.jobs) {
    try {
      await backend.cancel(ids);
      const deadline = Date.now() + options.stateChangeTimeoutMs;
      for (;;) {
        const states = await backend.status(ids);
        const left = ids.filter((id) => states.get(id)?.state !== "exited");
        if (left.length === 0) break;
        if (Date.now() > deadline) throw new Error(`jobs ${left.join(", ")} still not gone after clean-up`);
        await new Promise((r) => setTimeout(r, 500));
      }
    } catch (error) {
      problems.push(`cancelling ${ids.join(", ")}: ${(error as Error).message}`);
    }
  }
  if (options.jobsRunOnThisHost) {
    const deadline = Date.now() + options.stateChangeTimeoutMs;
    while (processesWithMark(state.mark).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const left = processesWithMark(state.mark);
    for (const pid of left) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    if (left.length > 0) problems.push(`processes ${left.join(", ")} of this test were still running (killed now)`);
  }
  for (const backend of state.backends.values()) await backend.close?.().catch((error: Error) => problems.push(`closing the backend: ${error.message}`));
  if (state.dir) rmSync(state.dir, { recursive: true, force: true });
  if (problems.length > 0) throw new Error(`[skein-testkit] clean-up found: ${problems.join("; ")}`);
}

async function report(state: TestState): Promise<void> {
  const lines: string[] = [];
  for (const [backend, ids] of state.jobs) {
    const states = await backend.status(ids).catch((error: Error) => new Map<JobId, JobState>(ids.map((id) => [id, { state: "unknown", detail: error.message }])));
    for (const id of ids) {
      lines.push(`job ${id}: ${JSON.stringify(states.get(id))}`);
      if (backend.logs) lines.push(await backend.logs(id).then((l) => `${l.stdout}${l.stderr}`.trim().split("\n").slice(-20).join("\n"), (error: Error) => `(no output: ${error.message})`));
    }
  }
  for (const cluster of state.clusters) lines.push(`cluster ${cluster.name}: jobs ${JSON.stringify(cluster.jobs.map((j) => [j.id, j.state]))}, workers ${cluster.workers.length}`);
  if (lines.length > 0) console.error(`[skein-testkit] state after the failure:\n${lines.join("\n")}`);
}
