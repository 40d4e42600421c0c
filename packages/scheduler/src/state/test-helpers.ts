/**
 * Test-only helpers: drive the pure state machine with events and read back its messages, the way
 * dask's test_worker_state_machine.py does. Not exported from the package (index.ts never
 * re-exports this file), so tsup never bundles it.
 */
import type { EncodedError, FunctionSpec, SchedulerToClient, SchedulerToWorker, TaskSpec } from "@skein/serialization";
import { createSchedulerState } from "./create-state.js";
import type { MessageEffect } from "./effects.js";
import { applyEvents } from "./engine.js";
import type { EventOf, SchedulerEvent } from "./events.js";
import type { SchedulerConfig, SchedulerState, TaskState, TaskStatus, WorkerState } from "./task-state.js";

/** `Omit` that keeps a union discriminated. */
type WithoutStimulus<T> = T extends unknown ? Omit<T, "stimulusId"> : never;

/** A message as a test reads it: addressed by worker or client *name*, without the stimulus id. */
export type Sent =
  | { readonly worker: string; readonly msg: WithoutStimulus<SchedulerToWorker> }
  | { readonly client: string; readonly msg: WithoutStimulus<SchedulerToClient> };

/** Function hash used for a key's prefix: "inc-3" runs the function "h-inc". */
export const fnHashOf = (key: string): string => `h-${key.slice(0, Math.max(key.lastIndexOf("-"), 0)) || key}`;

export function fnSpec(hash: string): FunctionSpec {
  return { kind: "source", hash, name: hash.slice(2), source: `(x) => x` };
}

/** Recognisable argument bytes per key, so a compute-task can be checked for the right recipe. */
export const argsOf = (key: string): Uint8Array => new TextEncoder().encode(`args:${key}`);

export interface TaskOptions {
  readonly priority?: number;
  readonly retries?: number;
  readonly workers?: string[];
  readonly allowOtherWorkers?: boolean;
  readonly fnHash?: string;
}

/** A TaskSpec as a client would send it. */
export function task(key: string, deps: readonly string[] = [], options: TaskOptions = {}): TaskSpec {
  const spec: TaskSpec = {
    key,
    fnHash: options.fnHash ?? fnHashOf(key),
    args: argsOf(key),
    deps: [...deps],
    priority: options.priority ?? 0,
    retries: options.retries ?? 0,
  };
  if (options.workers) spec.workers = options.workers;
  if (options.allowOtherWorkers !== undefined) spec.allowOtherWorkers = options.allowOtherWorkers;
  return spec;
}

export const addressOf = (name: string): string => `ws://${name}.test:9000`;
export const hostOf = (name: string): string => `${name}.test`;
/** Worker ids differ from names on purpose: restrictions and messages must use the right one. */
export const workerIdOf = (name: string): string => `id-${name}`;

export function userError(message = "boom"): EncodedError {
  return { name: "RangeError", message };
}

export function summarize(effects: readonly MessageEffect[]): Sent[] {
  return effects.map((effect) => {
    const { stimulusId: _dropped, ...msg } = effect.message as SchedulerToWorker & { stimulusId?: string };
    return effect.kind === "send-to-worker"
      ? { worker: effect.worker.name, msg: msg as WithoutStimulus<SchedulerToWorker> }
      : { client: effect.client.name, msg: msg as WithoutStimulus<SchedulerToClient> };
  });
}

/** `[worker, key]` of every compute-task, in order. */
export function computes(sent: readonly Sent[]): [string, string][] {
  return sent.flatMap((s) => ("worker" in s && s.msg.op === "compute-task" ? [[s.worker, s.msg.key] as [string, string]] : []));
}

/** Messages of one op, in order. */
export function ops<O extends Sent["msg"]["op"]>(sent: readonly Sent[], op: O): Sent[] {
  return sent.filter((s) => s.msg.op === op);
}

export interface FinishOptions {
  readonly worker?: string;
  readonly nbytes?: number;
  readonly typeName?: string;
  readonly durationMs?: number;
  readonly data?: Uint8Array;
  readonly stimulusId?: string;
}

type Omitted<E extends SchedulerEvent, K extends keyof E> = Omit<E, K | "type" | "stimulusId"> & { stimulusId?: string };

/**
 * A scheduler state with `validate: true` plus shorthands for every event. Each call returns what
 * the scheduler would send (see `Sent`); `lastRaw` keeps the untouched effects.
 *
 * The Sim also plays the workers, from the messages alone: what each was asked to compute and
 * not yet answered (`running`) and what data it holds (`data`). After every event it checks that
 * the scheduler's records agree with that (see `checkWorkersAgree`), so a transition that forgets
 * to send compute-task or free-keys fails at the step that broke it.
 */
export class Sim {
  readonly state: SchedulerState;
  lastRaw: MessageEffect[] = [];
  /** compute-task messages the (imaginary) workers have not answered yet, oldest first. */
  readonly running: { worker: string; key: string }[] = [];
  /** Keys each (imaginary) worker holds, by worker name. */
  readonly data = new Map<string, Set<string>>();
  /** Every key submitted or scattered, so the story of forgotten tasks can still be read. */
  readonly seenKeys = new Set<string>();
  #counter = 0;

  constructor(config: Partial<SchedulerConfig> = {}) {
    // Stealing is tested on its own (stealing.test.ts); elsewhere it would add steal-requests to every expectation.
    this.state = createSchedulerState({ validate: true, workStealing: false, ...config });
  }

  apply(event: SchedulerEvent): Sent[] {
    return this.applyFrame([event]);
  }

  /** Events that arrived in one frame (see applyEvents). */
  applyFrame(events: readonly SchedulerEvent[]): Sent[] {
    this.lastRaw = applyEvents(this.state, events);
    const sent = summarize(this.lastRaw);
    for (const s of sent) {
      if (!("worker" in s)) continue;
      if (s.msg.op === "compute-task") this.running.push({ worker: s.worker, key: s.msg.key });
      if (s.msg.op === "free-keys") {
        const freed = new Set(s.msg.keys);
        const worker = s.worker;
        for (let i = this.running.length - 1; i >= 0; i--) {
          const r = this.running[i] as { worker: string; key: string };
          if (r.worker === worker && freed.has(r.key)) this.running.splice(i, 1);
        }
        for (const key of freed) this.data.get(worker)?.delete(key);
      }
    }
    this.checkWorkersAgree();
    this.checkNothingUnneeded();
    return sent;
  }

  /**
   * Stricter than validateState: once an event settled, no result is kept and nothing is computed
   * that no client and no pending task needs (such a task would never be released or forgotten).
   * Assumes what the real client does: it wants every task it submits.
   */
  checkNothingUnneeded(): void {
    for (const ts of this.state.tasks.values()) {
      const held = ts.status === "memory";
      const pending = ts.status === "waiting" || ts.status === "queued" || ts.status === "no-worker" || ts.status === "processing";
      if ((held || pending) && ts.whoWants.size === 0 && ts.waiters.size === 0) {
        throw new Error(`task ${ts.key} is ${ts.status} but nobody needs it. Story: ${this.state.story.describe(ts.key)}`);
      }
      if ((ts.status === "released" || ts.status === "erred") && ts.whoWants.size === 0 && ts.dependents.size === 0) {
        throw new Error(`task ${ts.key} is ${ts.status}, wanted by nobody and without dependents, but not forgotten`);
      }
    }
  }

  /**
   * The scheduler's view of every live worker matches what its messages told that worker: it
   * thinks a task runs there exactly when a compute-task is unanswered, and a key is held there
   * exactly when the worker has it.
   */
  checkWorkersAgree(): void {
    for (const ws of this.state.workers.values()) {
      const processing = [...ws.processing].map((t) => t.key).sort();
      const asked = this.running.filter((r) => r.worker === ws.name).map((r) => r.key).sort();
      if (JSON.stringify(processing) !== JSON.stringify(asked)) {
        throw new Error(`worker ${ws.name}: scheduler thinks it runs [${processing}], but it was asked for [${asked}]`);
      }
      const byPrefix = new Map<string, number>();
      for (const t of ws.processing) byPrefix.set(t.prefix, (byPrefix.get(t.prefix) ?? 0) + 1);
      const counted = JSON.stringify([...ws.processingPrefixes].sort());
      if (counted !== JSON.stringify([...byPrefix].sort())) {
        throw new Error(`worker ${ws.name}: processingPrefixes ${counted} do not count its processing tasks [${processing}]`);
      }
      const held = [...ws.hasWhat].map((t) => t.key).sort();
      const has = [...(this.data.get(ws.name) ?? [])].sort();
      if (JSON.stringify(held) !== JSON.stringify(has)) {
        throw new Error(`worker ${ws.name}: scheduler thinks it holds [${held}], but it holds [${has}]`);
      }
    }
  }

  #holds(worker: string, key: string): void {
    let keys = this.data.get(worker);
    if (!keys) this.data.set(worker, (keys = new Set()));
    keys.add(key);
  }

  nextStimulus(type: string): string {
    return `${type}-${++this.#counter}`;
  }

  addClient(name = "c1", stimulusId = this.nextStimulus("client-added")): Sent[] {
    return this.apply({ type: "client-added", clientId: `id-${name}`, name, stimulusId });
  }

  removeClient(name = "c1"): Sent[] {
    return this.apply({ type: "client-removed", clientId: `id-${name}`, stimulusId: this.nextStimulus("client-removed") });
  }

  addWorker(name: string, options: { nthreads?: number; stimulusId?: string } = {}): Sent[] {
    return this.apply({
      type: "worker-added",
      workerId: workerIdOf(name),
      name,
      address: addressOf(name),
      nthreads: options.nthreads ?? 1,
      memoryLimit: 2 ** 30,
      host: hostOf(name),
      pid: 1000,
      resources: {},
      stimulusId: options.stimulusId ?? this.nextStimulus("worker-added"),
    });
  }

  removeWorker(name: string, options: { graceful?: boolean; reason?: string } = {}): Sent[] {
    for (let i = this.running.length - 1; i >= 0; i--) if (this.running[i]?.worker === name) this.running.splice(i, 1);
    this.data.delete(name);
    return this.apply({
      type: "worker-removed",
      workerId: workerIdOf(name),
      reason: options.reason ?? "connection lost",
      graceful: options.graceful ?? false,
      stimulusId: this.nextStimulus("worker-removed"),
    });
  }

  /** graph-updated with the functions the tasks use (unless `functions` says otherwise). */
  submit(tasks: readonly TaskSpec[], wants: readonly string[], options: { client?: string; functions?: FunctionSpec[]; stimulusId?: string } = {}): Sent[] {
    for (const t of tasks) this.seenKeys.add(t.key);
    const functions = options.functions ?? [...new Set(tasks.map((t) => t.fnHash))].map(fnSpec);
    return this.apply({
      type: "graph-updated",
      clientId: `id-${options.client ?? "c1"}`,
      functions,
      tasks,
      wants,
      stimulusId: options.stimulusId ?? this.nextStimulus("graph-updated"),
    });
  }

  /** task-finished from the worker the task is processing on (or `worker`). */
  finish(key: string, options: FinishOptions = {}): Sent[] {
    return this.apply(this.finished(key, options));
  }

  /** The task-finished event `finish` applies, for `applyFrame`; the (imaginary) worker now holds the result. */
  finished(key: string, options: FinishOptions = {}): EventOf<"task-finished"> {
    const worker = options.worker ?? this.processingOn(key);
    this.#answered(worker, key);
    if (this.state.workers.has(workerIdOf(worker))) this.#holds(worker, key);
    return {
      type: "task-finished",
      workerId: workerIdOf(worker),
      key,
      nbytes: options.nbytes ?? 8,
      typeName: options.typeName ?? "number",
      durationMs: options.durationMs ?? 100,
      ...(options.data ? { data: options.data } : {}),
      stimulusId: options.stimulusId ?? this.nextStimulus(`finish-${key}`),
    };
  }

  fail(key: string, options: { worker?: string; error?: EncodedError; durationMs?: number } = {}): Sent[] {
    const worker = options.worker ?? this.processingOn(key);
    this.#answered(worker, key);
    return this.apply({
      type: "task-erred",
      workerId: workerIdOf(worker),
      key,
      error: options.error ?? userError(),
      durationMs: options.durationMs ?? 100,
      stimulusId: this.nextStimulus(`erred-${key}`),
    });
  }

  release(keys: readonly string[], client = "c1"): Sent[] {
    return this.apply({ type: "keys-released", clientId: `id-${client}`, keys, stimulusId: this.nextStimulus("keys-released") });
  }

  cancel(keys: readonly string[], options: { client?: string; force?: boolean } = {}): Sent[] {
    return this.apply({
      type: "keys-cancelled",
      clientId: `id-${options.client ?? "c1"}`,
      keys,
      force: options.force ?? false,
      stimulusId: this.nextStimulus("keys-cancelled"),
    });
  }

  scatter(items: readonly { key: string; data?: Uint8Array }[], options: { client?: string; requestId?: number; workers?: string[]; broadcast?: boolean } = {}): Sent[] {
    for (const i of items) this.seenKeys.add(i.key);
    return this.apply({
      type: "scatter-requested",
      clientId: `id-${options.client ?? "c1"}`,
      requestId: options.requestId ?? 1,
      items: items.map((i) => ({ key: i.key, data: i.data ?? argsOf(i.key) })),
      workers: options.workers,
      broadcast: options.broadcast ?? false,
      stimulusId: this.nextStimulus("scatter"),
    });
  }

  dataStored(worker: string, requestId: number, key: string, nbytes = 8): Sent[] {
    if (this.state.workers.has(workerIdOf(worker))) this.#holds(worker, key);
    return this.apply({ type: "data-stored", workerId: workerIdOf(worker), requestId, key, nbytes, stimulusId: this.nextStimulus("data-stored") });
  }

  /** `worker` could not fetch `dep` from the worker at address `from`, which indeed lacks it. */
  missingData(event: Omitted<EventOf<"missing-data">, "workerId"> & { worker: string }): Sent[] {
    const { worker, stimulusId, ...rest } = event;
    const holder = [...this.state.workers.values()].find((w) => w.address === rest.from);
    if (holder) this.data.get(holder.name)?.delete(rest.dep);
    return this.apply({ type: "missing-data", workerId: workerIdOf(worker), ...rest, stimulusId: stimulusId ?? this.nextStimulus("missing-data") });
  }

  keysAdded(worker: string, keys: readonly { key: string; nbytes: number }[]): Sent[] {
    if (this.state.workers.has(workerIdOf(worker))) for (const k of keys) this.#holds(worker, k.key);
    return this.apply({ type: "keys-added", workerId: workerIdOf(worker), keys, stimulusId: this.nextStimulus("keys-added") });
  }

  /**
   * Answer every outstanding compute-task (oldest first) with task-finished, including those the
   * answers cause, until the workers are idle. Returns everything sent meanwhile.
   */
  runAll(options: { nbytes?: number; maxSteps?: number } = {}): Sent[] {
    const all: Sent[] = [];
    for (let step = 0; this.running.length > 0; step++) {
      if (step > (options.maxSteps ?? 100_000)) throw new Error("runAll: too many steps");
      const next = this.running[0] as { worker: string; key: string };
      all.push(...this.finish(next.key, { worker: next.worker, ...(options.nbytes !== undefined ? { nbytes: options.nbytes } : {}) }));
    }
    return all;
  }

  // --- reading the state ---

  task(key: string): TaskState {
    const ts = this.state.tasks.get(key);
    if (!ts) throw new Error(`no task ${key} (forgotten?)`);
    return ts;
  }

  /** The task's status, or "forgotten" once it left the task table. */
  status(key: string): TaskStatus {
    return this.state.tasks.get(key)?.status ?? "forgotten";
  }

  statuses(keys: readonly string[]): Record<string, TaskStatus> {
    return Object.fromEntries(keys.map((k) => [k, this.status(k)]));
  }

  worker(name: string): WorkerState {
    const ws = this.state.workers.get(workerIdOf(name));
    if (!ws) throw new Error(`no worker ${name}`);
    return ws;
  }

  processingOn(key: string): string {
    const ws = this.task(key).processingOn;
    if (!ws) throw new Error(`task ${key} is ${this.status(key)}, not processing`);
    return ws.name;
  }

  whoHas(key: string): string[] {
    return [...this.task(key).whoHas].map((ws) => ws.name).sort();
  }

  // --- internal ---

  #answered(worker: string, key: string): void {
    const i = this.running.findIndex((r) => r.worker === worker && r.key === key);
    if (i >= 0) this.running.splice(i, 1);
  }
}

/** Transitions actually applied (declines excluded), as "from->to" edges, from the story log. */
export function appliedEdges(sim: Sim): Set<string> {
  const edges = new Set<string>();
  for (const key of sim.seenKeys) for (const e of sim.state.story.of(key)) if (!e.to.includes("(")) edges.add(`${e.from}->${e.to}`);
  return edges;
}
