/**
 * Work stealing: when a worker has free threads and another has tasks waiting behind its own
 * threads, ask the busy one to give some back. The busy worker answers only for tasks it has not
 * started (`steal-request` / `steal-response`), so no task ever runs twice. Placement put each
 * task next to its inputs; stealing moves it only when the work it saves outweighs the transfer.
 */
import { loadOf, transferCost } from "./placement.js";
import { toWorker, type MessageEffect } from "./state/effects.js";
import type { SchedulerState, TaskState, WorkerState } from "./state/task-state.js";

/** Steal only tasks expected to take at least this long: shorter ones finish before a move pays off. */
const MIN_STEAL_SECONDS = 0.05;
/** …and only when moving costs less than this fraction of the task's own duration. */
const MAX_TRANSFER_FRACTION = 0.5;

export function stealWork(state: SchedulerState, stimulusId: string): MessageEffect[] {
  if (!state.config.workStealing) return [];
  let thieves: WorkerState[] | undefined;
  let victims: WorkerState[] | undefined;
  for (const ws of state.workers.values()) {
    // A paused worker (memory) never takes work, but the tasks waiting behind its threads may be
    // taken from it: it starts none of them until it resumes.
    if (ws.status === "paused") {
      if (ws.processing.size > ws.nthreads) (victims ??= []).push(ws);
      continue;
    }
    if (ws.status !== "running") continue;
    if (ws.processing.size < ws.nthreads) (thieves ??= []).push(ws);
    else if (ws.processing.size > ws.nthreads) (victims ??= []).push(ws);
  }
  if (!thieves || !victims) return [];
  // Most of the time (short tasks) nothing is worth moving: find that out without touching tasks.
  // Tasks that never ran have no measured duration: moving them would act on a guess (as in Dask).
  victims = victims.filter((v) => [...v.processingPrefixes.keys()].some((p) => (state.durations.get(p) ?? 0) >= MIN_STEAL_SECONDS));
  if (victims.length === 0) return [];
  victims.sort((a, b) => loadOf(state, b) - loadOf(state, a));
  const effects: MessageEffect[] = [];
  const room = new Map(thieves.map((t) => [t, t.nthreads - t.processing.size - pendingFor(state, t)]));
  for (const victim of victims) {
    // The tasks it will reach last are the ones worth moving.
    const waiting = [...victim.processing].sort(byPriorityDescending).slice(0, victim.processing.size - victim.nthreads);
    for (const ts of waiting) {
      if (ts.stealTarget) continue;
      const thief = bestThief(state, ts, victim, room);
      if (!thief) continue;
      ts.stealTarget = thief;
      room.set(thief, (room.get(thief) as number) - 1);
      effects.push(toWorker(victim, { op: "steal-request", key: ts.key, stimulusId }));
    }
  }
  return effects;
}

/** A worker with room that may run `ts`, gains from it, and would not pay more in transfer than it saves. */
function bestThief(state: SchedulerState, ts: TaskState, victim: WorkerState, room: Map<WorkerState, number>): WorkerState | undefined {
  const duration = state.durations.get(ts.prefix);
  if (duration === undefined || duration < MIN_STEAL_SECONDS || ts.restrictions?.workers) return undefined;
  let best: WorkerState | undefined;
  for (const [thief, free] of room) {
    if (free <= 0) continue;
    const needs = ts.restrictions?.resources;
    if (needs && Object.entries(needs).some(([name, amount]) => (thief.resources[name] ?? 0) < amount)) continue;
    const transfer = transferCost(ts, thief);
    if (transfer > duration * MAX_TRANSFER_FRACTION) continue;
    // Work on a paused victim waits for as long as it stays paused: any thief with room gains.
    if (victim.status !== "paused" && loadOf(state, victim) - loadOf(state, thief) <= duration) continue;
    if (!best || loadOf(state, thief) < loadOf(state, best)) best = thief;
  }
  return best;
}

/** Steals already on their way to `thief`. */
function pendingFor(state: SchedulerState, thief: WorkerState): number {
  let n = 0;
  for (const ws of state.workers.values()) for (const ts of ws.processing) if (ts.stealTarget === thief) n++;
  return n;
}

function byPriorityDescending(a: TaskState, b: TaskState): number {
  return b.priority[0] - a.priority[0] || b.priority[1] - a.priority[1];
}
