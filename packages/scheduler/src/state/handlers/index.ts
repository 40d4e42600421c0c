import type { Effect } from "../effects.js";
import type { SchedulerEvent } from "../events.js";
import type { SchedulerState } from "../task-state.js";
import { clientAdded, clientRemoved, graphUpdated, keysCancelled, keysReleased, scatterRequested } from "./client-events.js";
import { keysFireAndForget, keysRetried } from "./graph-events.js";
import { workersRetiring } from "./retire.js";
import { stealResponse } from "./steal-response.js";
import { dataStored, keysAdded, missingData, taskErred, taskFinished, workerAdded, workerRemoved } from "./worker-events.js";
import { workerStatusChanged } from "./worker-status.js";

/** Turn one event into effects (recommendations and messages). */
export function handleEvent(state: SchedulerState, event: SchedulerEvent): Effect[] {
  switch (event.type) {
    case "client-added":
      return clientAdded(state, event);
    case "client-removed":
      return clientRemoved(state, event);
    case "graph-updated":
      return graphUpdated(state, event);
    case "keys-released":
      return keysReleased(state, event);
    case "keys-cancelled":
      return keysCancelled(state, event);
    case "keys-fire-and-forget":
      return keysFireAndForget(state, event);
    case "keys-retried":
      return keysRetried(state, event);
    case "scatter-requested":
      return scatterRequested(state, event);
    case "worker-added":
      return workerAdded(state, event);
    case "worker-removed":
      return workerRemoved(state, event);
    case "workers-retiring":
      return workersRetiring(state, event);
    case "steal-response":
      return stealResponse(state, event);
    case "worker-status-changed":
      return workerStatusChanged(state, event);
    case "task-finished":
      return taskFinished(state, event);
    case "task-erred":
      return taskErred(state, event);
    case "keys-added":
      return keysAdded(state, event);
    case "missing-data":
      return missingData(state, event);
    case "data-stored":
      return dataStored(state, event);
    default:
      return assertNever(event);
  }
}

function assertNever(value: never): never {
  throw new Error(`unhandled event ${JSON.stringify(value)}`);
}
