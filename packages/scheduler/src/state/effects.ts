/**
 * What transitions and event handlers ask for. They never send or await; the engine collects
 * recommendations and the server delivers messages.
 */
import type { SchedulerToClient, SchedulerToWorker } from "@skein/serialization";
import type { ClientState, TaskState, TaskStatus, WorkerState } from "./task-state.js";

export interface SendToWorker {
  readonly kind: "send-to-worker";
  readonly worker: WorkerState;
  readonly message: SchedulerToWorker;
}

export interface SendToClient {
  readonly kind: "send-to-client";
  readonly client: ClientState;
  readonly message: SchedulerToClient;
}

/** Move a task to another state; `worker` says which worker (for processing and scatter). */
export interface Recommend {
  readonly kind: "recommend";
  readonly task: TaskState;
  readonly to: TaskStatus;
  readonly worker?: WorkerState;
}

export type Effect = SendToWorker | SendToClient | Recommend;
export type MessageEffect = SendToWorker | SendToClient;

export const toWorker = (worker: WorkerState, message: SchedulerToWorker): SendToWorker => ({ kind: "send-to-worker", worker, message });
export const toClient = (client: ClientState, message: SchedulerToClient): SendToClient => ({ kind: "send-to-client", client, message });
export const recommend = (task: TaskState, to: TaskStatus, worker?: WorkerState): Recommend =>
  worker ? { kind: "recommend", task, to, worker } : { kind: "recommend", task, to };
