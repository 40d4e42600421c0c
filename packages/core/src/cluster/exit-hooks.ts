/**
 * Nothing left running when the user's process ends: on normal exit, uncaught errors, SIGINT and
 * SIGTERM, every live cluster's jobs are stopped. The hooks exist only while a cluster is live, so a
 * process without clusters keeps Node's default behaviour.
 */

export interface TrackedCluster {
  readonly name: string;
  /** Cancel every live job now, synchronously (from the `exit` event). */
  stopJobsNow(): void;
  /** Cancel every live job and wait (bounded) until they are gone; resolves with how many. */
  abort(): Promise<number>;
}

const live = new Set<TrackedCluster>();
let installed = false;
let aborting = false;

export function trackCluster(cluster: TrackedCluster): void {
  live.add(cluster);
  if (!installed) install();
}

export function untrackCluster(cluster: TrackedCluster): void {
  live.delete(cluster);
  if (live.size === 0 && installed && !aborting) uninstall();
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

function onExit(): void {
  for (const cluster of live) cluster.stopJobsNow();
}

function onSignal(signal: NodeJS.Signals): void {
  if (aborting) return;
  aborting = true;
  const clusters = [...live];
  void Promise.all(clusters.map((c) => c.abort().catch(() => 0))).then((counts) => {
    const total = counts.reduce((a, b) => a + b, 0);
    // One line, not a traceback per pending future.
    if (total > 0) process.stderr.write(`[skein] ${signal}: cancelled ${total} job${total === 1 ? "" : "s"} of ${clusters.map((c) => c.name).join(", ")}\n`);
    // Someone else also listens for this signal: they decide when the process ends.
    if (process.listenerCount(signal) > 1) {
      aborting = false;
      return;
    }
    process.exit(128 + (SIGNAL_NUMBERS[signal] ?? 1));
  });
}

function install(): void {
  installed = true;
  process.on("exit", onExit);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
}

function uninstall(): void {
  installed = false;
  process.off("exit", onExit);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  process.off("SIGHUP", onSignal);
}
