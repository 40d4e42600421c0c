/**
 * THE table of legal transitions. Anything not here is routed through "released" when both halves
 * exist, and is an InvalidTransitionError otherwise.
 */
import type { TaskStatus } from "./task-state.js";
import type { TransitionHandler } from "./transitions/common.js";
import { erredToForgotten, erredToReleased } from "./transitions/erred.js";
import { memoryToReleased } from "./transitions/memory.js";
import { processingToErred, processingToMemory, processingToReleased } from "./transitions/processing.js";
import {
  noWorkerToErred,
  noWorkerToProcessing,
  noWorkerToQueued,
  noWorkerToReleased,
  queuedToErred,
  queuedToNoWorker,
  queuedToProcessing,
  queuedToReleased,
} from "./transitions/queued.js";
import { releasedToErred, releasedToForgotten, releasedToMemory, releasedToWaiting } from "./transitions/released.js";
import { waitingToErred, waitingToNoWorker, waitingToProcessing, waitingToQueued, waitingToReleased } from "./transitions/waiting.js";

export type Edge = `${TaskStatus}->${TaskStatus}`;

export const TRANSITIONS = {
  "released->waiting": releasedToWaiting,
  "released->memory": releasedToMemory,
  "released->erred": releasedToErred,
  "released->forgotten": releasedToForgotten,
  "waiting->processing": waitingToProcessing,
  "waiting->queued": waitingToQueued,
  "waiting->no-worker": waitingToNoWorker,
  "waiting->released": waitingToReleased,
  "waiting->erred": waitingToErred,
  "queued->processing": queuedToProcessing,
  "queued->no-worker": queuedToNoWorker,
  "queued->released": queuedToReleased,
  "queued->erred": queuedToErred,
  "no-worker->processing": noWorkerToProcessing,
  "no-worker->queued": noWorkerToQueued,
  "no-worker->released": noWorkerToReleased,
  "no-worker->erred": noWorkerToErred,
  "processing->memory": processingToMemory,
  "processing->erred": processingToErred,
  "processing->released": processingToReleased,
  "memory->released": memoryToReleased,
  "erred->released": erredToReleased,
  "erred->forgotten": erredToForgotten,
} as const satisfies Partial<Record<Edge, TransitionHandler>>;

/** TRANSITIONS by source state, then target: looked up per transition without building the edge's name. */
const BY_SOURCE = new Map<string, Map<string, TransitionHandler>>();
for (const [edge, handler] of Object.entries(TRANSITIONS)) {
  const [from, to] = edge.split("->") as [TaskStatus, TaskStatus];
  let targets = BY_SOURCE.get(from);
  if (!targets) BY_SOURCE.set(from, (targets = new Map()));
  targets.set(to, handler);
}

export function handlerFor(from: TaskStatus, to: TaskStatus): TransitionHandler | undefined {
  return BY_SOURCE.get(from)?.get(to);
}
