/**
 * The only file of the scheduler that touches sockets: decode → applyEvents → send effects.
 * Everything it knows about tasks it learns from the state machine in ./state.
 */
import { randomUUID } from "node:crypto";
import { SKEIN_ERROR_CODES, SkeinError, secretsEqual, type ClientToScheduler, type MessageOf, type WorkerToScheduler } from "@skein/serialization";
import { CLOSE_CODES, listen, log, type AcceptedConnection, type Connection, type Listener, type TlsOptions } from "@skein/transport";
import { createSchedulerState } from "./state/create-state.js";
import type { MessageEffect } from "./state/effects.js";
import { applyEvents } from "./state/engine.js";
import type { SchedulerEvent } from "./state/events.js";
import type { SchedulerConfig, SchedulerState } from "./state/task-state.js";
import { describeState, measureWorkload } from "./identity.js";
import { startDashboard, type Dashboard, type DashboardOptions } from "./dashboard/http-server.js";
import { localLink, type MessageChannel } from "./local-link.js";

/** A client that answers no ping for this long is dropped (its futures released). */
const CLIENT_DEAD_AFTER_MS = 60_000;

export interface SchedulerOptions extends Partial<SchedulerConfig> {
  /** The cluster secret every client and worker must present. */
  secret: string;
  /** Interface address to listen on. @default "127.0.0.1" */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Host name or address to put in the advertised address when listening on 0.0.0.0. */
  advertiseHost?: string;
  /**
   * Ping every worker and client this often; one that misses a whole interval is dropped (a hung or
   * stopped process, a dead network). @default 5000
   */
  heartbeatMs?: number;
  /** How long a worker may take to register after its hello. @default 10000 */
  registerTimeoutMs?: number;
  /** A retiring worker that has not finished copying its data by then is closed anyway. @default 20000 */
  retireTimeoutMs?: number;
  /** Serve `wss://` with this material (clients and workers must present a certificate it trusts). */
  tls?: TlsOptions | undefined;
  /**
   * Serve the dashboard (a web page, and Prometheus text on /metrics) on its own HTTP port,
   * protected by a token derived from the secret. `true` for the defaults (127.0.0.1, a free port).
   * @default false
   */
  dashboard?: boolean | DashboardOptions;
}

export interface ConnectedWorker {
  readonly name: string;
  readonly address: string;
  readonly host: string;
  readonly pid: number;
}

export interface Workload {
  /** Tasks not yet finished: processing, queued for room, or waiting for a suitable worker. */
  readonly pendingTasks: number;
  /** Estimated seconds of work in those tasks, with the current per-function estimates. */
  readonly estimatedSeconds: number;
  /** Workers that are idle (nothing processing) and running, by name. */
  readonly idleWorkers: readonly string[];
  /** Bytes held per worker name. */
  readonly bytesByWorker: ReadonlyMap<string, number>;
  /** A client holds a future whose result lives on a worker. */
  readonly holdsWantedResults: boolean;
}

export interface RetireResult {
  /** Workers that left. */
  readonly retired: readonly string[];
  /** Workers kept because results somebody needs had nowhere else to go (only without `force`). */
  readonly kept: readonly string[];
}

export interface Scheduler {
  readonly id: string;
  /** `ws://host:port` that workers and clients connect to. */
  readonly address: string;
  /** Read-only view for tests and the dashboard. */
  readonly state: SchedulerState;
  /** The dashboard, when started with `dashboard` (its `link` carries the access token). */
  readonly dashboard: Dashboard | undefined;
  /** Why the dashboard could not start, when it was asked for and did not. */
  readonly dashboardError: string | undefined;
  /** Number of connected workers. */
  readonly workerCount: number;
  /** Connected workers: name and data address. */
  readonly workers: readonly ConnectedWorker[];
  /** Called after a worker joins or leaves. Returns an unsubscribe function. */
  onWorkersChanged(listener: (workers: readonly ConnectedWorker[]) => void): () => void;
  /**
   * Retire workers by name: no new tasks, their unique results copied to others, then closed.
   * Resolves when they are gone; workers that do not finish within `timeoutMs` are closed anyway.
   */
  retireWorkers(names: readonly string[], options?: { reason?: string; timeoutMs?: number; force?: boolean }): Promise<RetireResult>;
  /** How much work is waiting or running, for adaptive scaling. */
  workload(): Workload;
  /**
   * Connect a client that lives in this process, without a socket (see local-link.ts): the same
   * messages, never encoded. The secret is checked as a hello's would be.
   */
  connectClient(options: { secret: string; name: string }): { connection: MessageChannel; id: string };
  /**
   * Stop: ask every worker to exit (with `closeWorkers`), wait for them up to `timeoutMs`, then
   * close every connection.
   */
  close(options?: { closeWorkers?: boolean; timeoutMs?: number }): Promise<void>;
}

/** Start a scheduler listening for clients and workers. */
export async function startScheduler(options: SchedulerOptions): Promise<Scheduler> {
  const id = `scheduler-${randomUUID().slice(0, 8)}`;
  const { secret, host = "127.0.0.1", port = 0, heartbeatMs = 5000, registerTimeoutMs = 10_000, retireTimeoutMs = 20_000, advertiseHost, dashboard: dashboardOptions = false, tls, ...config } = options;
  const state = createSchedulerState(config);
  const workerConnections = new Map<string, Connection>();
  const clientConnections = new Map<string, MessageChannel>();
  const workerGone = new Set<() => void>();
  const workersListeners = new Set<(workers: readonly ConnectedWorker[]) => void>();
  const connectedWorkers = (): ConnectedWorker[] => [...state.workers.values()].map((ws) => ({ name: ws.name, address: ws.address, host: ws.host, pid: ws.pid }));
  const announceWorkers = () => {
    const workers = connectedWorkers();
    for (const listener of [...workersListeners]) listener(workers);
  };
  let stimulusCounter = 0;
  let closing = false;
  const stimulus = (what: string) => `${what}-${++stimulusCounter}`;

  const deliver = (effects: MessageEffect[]) => {
    for (const effect of effects) {
      const connection = effect.kind === "send-to-worker" ? workerConnections.get(effect.worker.id) : clientConnections.get(effect.client.id);
      connection?.send(effect.message);
    }
  };
  // Set once the dashboard listens; until then there is nothing to record for.
  let dashboard: Dashboard | undefined;
  const apply = (event: SchedulerEvent) => applyAll([event]);
  /** The events of one incoming frame, in order (see applyEvents). */
  const applyAll = (events: readonly SchedulerEvent[]) => {
    if (events.length === 0) return;
    // Dashboard task stream: note finished or failed tasks before the transitions forget where they ran.
    if (dashboard) {
      for (const event of events) {
        if (event.type === "task-finished" || event.type === "task-erred") dashboard.recordTask(event.workerId, event.key, event.durationMs, event.type === "task-finished");
      }
    }
    try {
      deliver(applyEvents(state, events));
    } catch (error) {
      // A bug in a transition must be loud: it means the scheduler's state can no longer be trusted.
      log.error(`scheduler: ${events.map((e) => e.type).join(", ")} failed: ${(error as Error).stack ?? error}`);
      throw error;
    }
  };

  const onClient = ({ connection, hello, id: clientId }: { connection: MessageChannel; hello: { name: string }; id: string }) => {
    clientConnections.set(clientId, connection);
    apply({ type: "client-added", clientId, name: hello.name, stimulusId: stimulus("client-added") });
    connection.onMessages((messages) => {
      for (const message of messages) handleClientMessage(clientId, connection, message as ClientToScheduler);
    });
    connection.onClose(() => {
      clientConnections.delete(clientId);
      if (!closing) apply({ type: "client-removed", clientId, stimulusId: stimulus("client-removed") });
    });
  };

  const handleClientMessage = (clientId: string, connection: MessageChannel, message: ClientToScheduler) => {
    switch (message.op) {
      case "update-graph":
        return apply({ type: "graph-updated", clientId, functions: message.functions, tasks: message.tasks, wants: message.wants, stimulusId: message.stimulusId });
      case "release-keys":
        return apply({ type: "keys-released", clientId, keys: message.keys, stimulusId: message.stimulusId });
      case "cancel-keys":
        return apply({ type: "keys-cancelled", clientId, keys: message.keys, force: message.force, stimulusId: message.stimulusId });
      case "fire-and-forget":
        return apply({ type: "keys-fire-and-forget", clientId, keys: message.keys, stimulusId: message.stimulusId });
      case "retry-keys":
        return apply({ type: "keys-retried", clientId, keys: message.keys, stimulusId: message.stimulusId });
      case "scatter":
        return apply({
          type: "scatter-requested",
          clientId,
          requestId: message.requestId,
          items: message.items,
          workers: message.workers,
          broadcast: message.broadcast,
          stimulusId: message.stimulusId,
        });
      case "who-has": {
        const whoHas: Record<string, string[]> = {};
        for (const key of message.keys) whoHas[key] = [...(state.tasks.get(key)?.whoHas ?? [])].map((ws) => ws.address);
        return connection.send({ op: "who-has-reply", requestId: message.requestId, whoHas });
      }
      case "performance-report": {
        if (!dashboard) {
          return connection.send({ op: "performance-report-reply", requestId: message.requestId, error: "this scheduler records no task stream: it was started without its dashboard (dashboard: false)" });
        }
        return connection.send({ op: "performance-report-reply", requestId: message.requestId, html: dashboard.report(message.title, message.since) });
      }
      case "identity":
        return connection.send({
          op: "identity-reply",
          requestId: message.requestId,
          ...describeState(state, id, listener.address),
          ...(dashboard ? { dashboard: dashboard.link } : {}),
        });
      case "retire-workers": {
        const known = [...state.workers.values()];
        const unknown = message.workers.filter((w) => !known.some((ws) => ws.name === w || ws.address === w));
        if (unknown.length > 0) {
          const names = known.map((ws) => ws.name).join(", ") || "none";
          return connection.send({ op: "retire-workers-reply", requestId: message.requestId, retired: [], kept: [], error: `no worker named or at ${unknown.join(", ")}; the workers are: ${names}` });
        }
        const names = known.filter((ws) => message.workers.includes(ws.name) || message.workers.includes(ws.address)).map((ws) => ws.name);
        void retireByName(names, { reason: `retired by client ${clientId}`, timeoutMs: retireTimeoutMs, force: message.force }).then(
          ({ retired, kept }) => connection.send({ op: "retire-workers-reply", requestId: message.requestId, retired: [...retired], kept: [...kept] }),
        );
        return;
      }
      case "error":
        return log.warn(`scheduler: client ${clientId} reported: ${message.code}: ${message.message}`);
      default:
        return connection.replyError(SKEIN_ERROR_CODES.PROTOCOL, `a client may not send "${(message as { op: string }).op}"`);
    }
  };

  const onWorker = ({ connection, hello, id: workerId }: AcceptedConnection) => {
    let registered = false;
    const timer = setTimeout(() => {
      if (!registered) connection.close(CLOSE_CODES.PROTOCOL, `no register-worker within ${registerTimeoutMs} ms`);
    }, registerTimeoutMs);
    timer.unref();
    // The events of one frame, applied together once it is read (or before a message handled on the spot).
    const events: SchedulerEvent[] = [];
    connection.onMessages((messages) => {
      for (const message of messages) {
        if (!registered) {
          if (message.op !== "register-worker") {
            connection.close(CLOSE_CODES.PROTOCOL, `a worker's first message must be register-worker, got ${message.op}`);
            return;
          }
          if (closing) {
            connection.send({ op: "close-worker", reason: "the scheduler is shutting down" });
            return;
          }
          registered = true;
          clearTimeout(timer);
          workerConnections.set(workerId, connection);
          apply({ type: "worker-added", workerId, ...registration(message, hello.name), stimulusId: stimulus("worker-added") });
          announceWorkers();
          continue;
        }
        const event = eventOfWorkerMessage(workerId, connection, message as WorkerToScheduler, events);
        if (event) events.push(event);
      }
      applyAll(events.splice(0));
    });
    connection.onClose((code, reason) => {
      clearTimeout(timer);
      if (!registered) return;
      workerConnections.delete(workerId);
      const graceful = code === CLOSE_CODES.SHUTDOWN || closing;
      apply({
        type: "worker-removed",
        workerId,
        reason: reason || (code === 1006 ? "connection lost" : `connection closed (code ${code})`),
        graceful,
        stimulusId: stimulus("worker-removed"),
      });
      for (const notify of workerGone) notify();
      announceWorkers();
    });
  };

  /**
   * The event a worker's message stands for, or undefined when it was handled on the spot. A message
   * handled on the spot first applies the events read before it (`pending`), so order is kept.
   */
  const eventOfWorkerMessage = (workerId: string, connection: Connection, message: WorkerToScheduler, pending: SchedulerEvent[]): SchedulerEvent | undefined => {
    switch (message.op) {
      case "task-finished":
        return { type: "task-finished", workerId, key: message.key, nbytes: message.nbytes, typeName: message.typeName, durationMs: message.durationMs, data: message.data, stimulusId: message.stimulusId };
      case "task-erred":
        return { type: "task-erred", workerId, key: message.key, error: message.error, durationMs: message.durationMs, stimulusId: message.stimulusId };
      case "keys-added":
        return { type: "keys-added", workerId, keys: message.keys, stimulusId: message.stimulusId };
      case "missing-data":
        return { type: "missing-data", workerId, key: message.key, dep: message.dep, from: message.from, stimulusId: message.stimulusId };
      case "data-stored":
        return { type: "data-stored", workerId, requestId: message.requestId, key: message.key, nbytes: message.nbytes, stimulusId: message.stimulusId };
      case "steal-response":
        return { type: "steal-response", workerId, key: message.key, stolen: message.stolen, stimulusId: message.stimulusId };
      case "worker-status":
        return { type: "worker-status-changed", workerId, status: message.status, stimulusId: message.stimulusId };
      case "heartbeat": {
        const ws = state.workers.get(workerId);
        if (ws) {
          ws.lastSeen = Date.now();
          ws.metrics = { executing: message.executing, ready: message.ready, rss: message.rss };
        }
        return undefined;
      }
      case "error":
        log.warn(`scheduler: worker ${workerId} reported: ${message.code}: ${message.message}`);
        return undefined;
      case "request-retire":
        // The worker is leaving anyway (walltime, SIGTERM): move what can be moved, then let it go.
        applyAll(pending.splice(0));
        retire([workerId], message.reason, retireTimeoutMs, true);
        return undefined;
      case "register-worker":
        connection.replyError(SKEIN_ERROR_CODES.PROTOCOL, "this worker is already registered");
        return undefined;
      default:
        connection.replyError(SKEIN_ERROR_CODES.PROTOCOL, `a worker may not send "${(message as { op: string }).op}"`);
        return undefined;
    }
  };

  /** Start retiring; a worker still retiring after the deadline is told to close regardless. */
  const retire = (workerIds: string[], reason: string, timeoutMs: number, force = true) => {
    apply({ type: "workers-retiring", workerIds, reason, force, stimulusId: stimulus("retire") });
    for (const id of workerIds) {
      const timer = setTimeout(() => {
        const ws = state.workers.get(id);
        if (!ws || ws.status !== "closing-gracefully") return;
        ws.status = "closing";
        workerConnections.get(id)?.send({ op: "close-worker", reason: `${reason} (its data could not all be copied within ${timeoutMs} ms)` });
      }, timeoutMs);
      timer.unref();
    }
  };

  /** Retire workers by name and wait until each has left, or stays because its results had nowhere to go. */
  const retireByName = async (names: readonly string[], { reason, timeoutMs, force }: { reason: string; timeoutMs: number; force: boolean }): Promise<RetireResult> => {
    const wanted = new Set(names);
    const targets = [...state.workers.values()].filter((ws) => wanted.has(ws.name));
    if (targets.length === 0) return { retired: [], kept: [] };
    retire(
      targets.map((ws) => ws.id),
      reason,
      timeoutMs,
      force,
    );
    // Each either leaves, or is running (or paused) again because its results had nowhere to go.
    const settled = () => targets.every((ws) => !state.workers.has(ws.id) || ws.status === "running" || ws.status === "paused");
    while (!settled()) await new Promise((resolve) => setTimeout(resolve, 50));
    return {
      retired: targets.filter((ws) => !state.workers.has(ws.id)).map((ws) => ws.name),
      kept: targets.filter((ws) => state.workers.has(ws.id)).map((ws) => ws.name),
    };
  };

  const listener: Listener = await listen({
    tls,
    host,
    port,
    secret,
    roles: ["client", "worker"],
    label: "scheduler",
    heartbeatMs,
    // A worker that stops answering is noticed within a heartbeat; a client only after a minute:
    // its event loop is the user's (a huge graph being built), and dropping it loses its futures.
    deadAfterMs: { client: CLIENT_DEAD_AFTER_MS },
    schedulerId: id,
    onConnection: (accepted) => (accepted.hello.role === "worker" ? onWorker(accepted) : onClient(accepted)),
  });
  const address = advertiseHost ? listener.address.replace(/\/\/[^:]+:/, `//${advertiseHost}:`) : listener.address;
  log.debug(`scheduler ${id} listening on ${address}`);
  let dashboardError: string | undefined;
  if (dashboardOptions !== false) {
    try {
      dashboard = await startDashboard({ ...(dashboardOptions === true ? {} : dashboardOptions), secret, state, schedulerId: id, schedulerAddress: () => address });
    } catch (error) {
      // The dashboard is a view: without it (port taken, assets missing) the cluster still computes.
      dashboardError = (error as Error).message;
      log.warn(`scheduler ${id}: dashboard not available: ${dashboardError}`);
    }
  }

  return {
    id,
    address,
    state,
    dashboard,
    dashboardError,
    get workerCount() {
      return state.workers.size;
    },
    get workers() {
      return connectedWorkers();
    },
    onWorkersChanged(listener) {
      workersListeners.add(listener);
      return () => workersListeners.delete(listener);
    },
    workload() {
      return measureWorkload(state);
    },
    connectClient({ secret: presented, name }) {
      if (!secretsEqual(presented, secret)) {
        throw new SkeinError("client", SKEIN_ERROR_CODES.AUTH_FAILED, "wrong cluster secret: use the secret of the cluster you are connecting to (SKEIN_SECRET or SKEIN_SECRET_FILE)");
      }
      if (closing) throw new SkeinError("client", SKEIN_ERROR_CODES.CONNECT_FAILED, `the scheduler at ${address} is shutting down`);
      const [clientEnd, schedulerEnd] = localLink([`scheduler ${address} (in this process)`, `client ${name} (in this process)`]);
      const clientId = `client-${randomUUID().slice(0, 8)}`;
      onClient({ connection: schedulerEnd, hello: { name }, id: clientId });
      return { connection: clientEnd, id: clientId };
    },
    retireWorkers(names, { reason = "retired by the cluster", timeoutMs = retireTimeoutMs, force = false } = {}) {
      return retireByName(names, { reason, timeoutMs, force });
    },
    async close({ closeWorkers = true, timeoutMs = 5000 } = {}) {
      if (closing) return;
      closing = true;
      await dashboard?.close();
      if (closeWorkers && workerConnections.size > 0) {
        for (const connection of workerConnections.values()) connection.send({ op: "close-worker", reason: "the scheduler is shutting down" });
        await new Promise<void>((resolve) => {
          const done = () => {
            if (workerConnections.size > 0) return;
            clearTimeout(timer);
            workerGone.delete(done);
            resolve();
          };
          const timer = setTimeout(() => {
            workerGone.delete(done);
            resolve();
          }, timeoutMs);
          timer.unref();
          workerGone.add(done);
        });
      }
      for (const connection of clientConnections.values()) connection.close(CLOSE_CODES.SHUTDOWN, "the scheduler is shutting down");
      await listener.close();
    },
  };
}

function registration(message: MessageOf<"register-worker">, helloName: string) {
  return {
    name: message.name || helloName,
    address: message.address,
    nthreads: message.nthreads,
    memoryLimit: message.memoryLimit,
    host: message.host,
    pid: message.pid,
    resources: message.resources,
  };
}
