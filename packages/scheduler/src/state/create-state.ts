import { Story } from "./story.js";
import { TaskQueue } from "./task-queue.js";
import { DEFAULT_SCHEDULER_CONFIG, type SchedulerConfig, type SchedulerState } from "./task-state.js";

export function createSchedulerState(config: Partial<SchedulerConfig> = {}): SchedulerState {
  return {
    tasks: new Map(),
    workers: new Map(),
    clients: new Map(),
    functions: new Map(),
    queued: new TaskQueue(),
    noWorker: new Set(),
    prefixes: new Map(),
    durations: new Map(),
    scatters: new Map(),
    story: new Story(),
    config: { ...DEFAULT_SCHEDULER_CONFIG, ...config },
    sequence: 0,
  };
}
