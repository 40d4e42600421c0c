/**
 * The only place tasks change state: apply an event, then drain the recommendations it produced,
 * one transition at a time, recording each in the story. Returns the messages to send.
 */
import { recommend, type Effect, type MessageEffect, type Recommend } from "./effects.js";
import type { SchedulerEvent } from "./events.js";
import { takeFromQueue } from "../placement.js";
import { handleEvent } from "./handlers/index.js";
import { progressRetirements } from "./handlers/retire.js";
import { stealWork } from "../stealing.js";
import { validateState, validateTask } from "./invariants.js";
import type { SchedulerState, TaskState, TaskStatus } from "./task-state.js";
import { handlerFor } from "./transition-table.js";
import { isDecline, type TransitionContext } from "./transitions/common.js";

export class InvalidTransitionError extends Error {
  constructor(key: string, from: TaskStatus, to: TaskStatus, story: string) {
    super(`invalid transition ${from} -> ${to} for task ${key}. Story: ${story}`);
    this.name = "InvalidTransitionError";
  }
}

/** Apply one event and every transition it leads to. */
export function applyEvent(state: SchedulerState, event: SchedulerEvent): MessageEffect[] {
  return applyEvents(state, [event]);
}

/**
 * Apply the events of one incoming frame (a worker's results of one event-loop turn), in order,
 * each with every transition it leads to. The follow-ups that look at all workers (refill queue
 * slots, retirements, stealing) run once after the last event instead of after each: they cost a
 * walk over the workers, and with short tasks a frame carries hundreds of results. Each event still
 * sees the state its predecessors left, as it would alone.
 */
export function applyEvents(state: SchedulerState, events: readonly SchedulerEvent[]): MessageEffect[] {
  const last = events[events.length - 1];
  if (!last) return [];
  const messages: MessageEffect[] = [];
  for (const event of events) {
    for (const message of drain(state, handleEvent(state, event), event.stimulusId)) messages.push(message);
    if (state.config.validate) validateState(state);
  }
  for (const message of fillQueueSlots(state, last.stimulusId)) messages.push(message);
  for (const message of progressRetirements(state, last.stimulusId)) messages.push(message);
  for (const message of stealWork(state, last.stimulusId)) messages.push(message);
  if (state.config.validate) validateState(state);
  return messages;
}

/**
 * Give queued root tasks to workers with room, once the event's own transitions are done (dask's
 * `stimulus_queue_slots_maybe_opened`). Done here rather than in the event handlers, which ran
 * before the finished task had left its worker (one task fewer than saturation allows; none at all
 * with saturationTasksPerThread 1), never for cancelled or released tasks, and could pick a queued
 * task that the same event was about to release, losing the slot. Every round takes tasks out of
 * the queue, so the loop ends.
 */
function fillQueueSlots(state: SchedulerState, stimulusId: string): MessageEffect[] {
  const messages: MessageEffect[] = [];
  let before: number;
  do {
    before = state.queued.size;
    for (const ws of state.workers.values()) {
      if (state.queued.size === 0) break;
      const taken = takeFromQueue(state, ws).map((ts) => recommend(ts, "processing", ws));
      if (taken.length > 0) messages.push(...drain(state, taken, stimulusId));
    }
  } while (state.queued.size > 0 && state.queued.size < before);
  return messages;
}

/** Run recommendations until none are left. Later recommendations for a task replace earlier ones. */
export function drain(state: SchedulerState, initial: Effect[], stimulusId: string): MessageEffect[] {
  const messages: MessageEffect[] = [];
  // A queue with lazy deletion: a newer recommendation for a task supersedes the older one and
  // moves it to the back. (Deleting from the front of a Map instead made V8 rescan the deleted
  // slots on every pop: quadratic in the size of one submission.)
  const queue: Recommend[] = [];
  const latest = new Map<TaskState, Recommend>();
  const absorb = (effects: Effect[]) => {
    for (const effect of effects) {
      if (effect.kind === "recommend") {
        latest.set(effect.task, effect);
        queue.push(effect);
      } else {
        messages.push(effect);
      }
    }
  };
  absorb(initial);
  for (let next = 0; next < queue.length; next++) {
    const rec = queue[next] as Recommend;
    if (latest.get(rec.task) !== rec) continue;
    latest.delete(rec.task);
    if (rec.task.status === "forgotten") continue;
    absorb(transition(state, rec.task, rec.to, { stimulusId, worker: rec.worker }));
  }
  return messages;
}

/** Move one task; routes through "released" when there is no direct edge. */
export function transition(state: SchedulerState, ts: TaskState, to: TaskStatus, ctx: TransitionContext): Effect[] {
  const from = ts.status;
  if (from === to) return [];
  const handler = handlerFor(from, to);
  if (handler) {
    const result = handler(state, ts, ctx);
    if (isDecline(result)) {
      state.story.record(ts.key, from, `${to} (declined: ${result.decline})`, ctx.stimulusId);
      return result.decline === from ? [] : [recommend(ts, result.decline, ctx.worker)];
    }
    ts.status = to;
    state.story.record(ts.key, from, to, ctx.stimulusId);
    if (state.config.validate) validateTask(state, ts);
    return result;
  }
  if (from !== "released" && to !== "released" && handlerFor(from, "released") && handlerFor("released", to)) {
    // The first half's own plan for this task ("wait again", "forget") is replaced by the target.
    const first = transition(state, ts, "released", ctx).filter((e) => e.kind !== "recommend" || e.task !== ts);
    if (ts.status !== "released") return first;
    return [...first, ...transition(state, ts, to, ctx)];
  }
  throw new InvalidTransitionError(ts.key, from, to, state.story.describe(ts.key));
}
