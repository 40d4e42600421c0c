/**
 * Clusters whose scheduler runs in this process. `Client.connect(cluster)` looks the cluster up
 * here and talks to that scheduler without a socket (see @skein/scheduler's local-link.ts). Kept
 * out of the public types: a `ClusterLike` of the user's own always goes over the network.
 */
import type { Scheduler } from "@skein/scheduler";

export type InProcessScheduler = Pick<Scheduler, "connectClient">;

const schedulers = new WeakMap<object, InProcessScheduler>();

/** `cluster`'s scheduler runs here. */
export function hostInProcess(cluster: object, scheduler: InProcessScheduler): void {
  schedulers.set(cluster, scheduler);
}

/** The scheduler `target` runs in this process, if it does. */
export function inProcessSchedulerOf(target: object): InProcessScheduler | undefined {
  return schedulers.get(target);
}
