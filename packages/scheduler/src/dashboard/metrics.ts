/**
 * Prometheus text exposition (format 0.0.4) of a dashboard snapshot. Pure. Every family has its
 * HELP and TYPE lines; label values are escaped; series of one family are written together.
 */
import { TASK_STATUSES, type DashboardSnapshot } from "./snapshot.js";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The states a job can be in, always written (0 when none), so dashboards see every series. */
const JOB_STATES = ["queued", "running", "exited", "unknown"] as const;

type Labels = Readonly<Record<string, string>>;
type Sample = readonly [Labels, number];

interface Family {
  readonly name: string;
  readonly type: "gauge" | "counter";
  readonly help: string;
  readonly samples: readonly Sample[];
}

export interface MetricsCounters {
  /** Tasks that finished (successfully or not) since the scheduler started. */
  readonly finished: number;
  /** ...of which failed. */
  readonly erred: number;
}

export function formatMetrics(snapshot: DashboardSnapshot, counters: MetricsCounters): string {
  const { totals, load } = snapshot;
  const families: Family[] = [
    { name: "skein_scheduler_info", type: "gauge", help: "The scheduler's identity; always 1.", samples: [[{ scheduler_id: snapshot.schedulerId, address: snapshot.address }, 1]] },
    {
      name: "skein_tasks",
      type: "gauge",
      help: "Tasks the scheduler holds, by state.",
      samples: TASK_STATUSES.filter((s) => s !== "forgotten").map((state) => [{ state }, totals.tasks[state]]),
    },
    {
      name: "skein_tasks_finished_total",
      type: "counter",
      help: "Tasks that finished on a worker since the scheduler started, by outcome.",
      samples: [
        [{ outcome: "ok" }, counters.finished - counters.erred],
        [{ outcome: "error" }, counters.erred],
      ],
    },
    { name: "skein_workers", type: "gauge", help: "Connected workers, by status.", samples: Object.entries(totals.workers).map(([status, n]) => [{ status }, n]) },
    { name: "skein_worker_threads", type: "gauge", help: "Executor threads over all connected workers.", samples: [[{}, totals.threads]] },
    { name: "skein_bytes_held", type: "gauge", help: "Bytes of results held by all workers.", samples: [[{}, totals.bytesHeld]] },
    { name: "skein_clients", type: "gauge", help: "Connected clients.", samples: [[{}, totals.clients]] },
    {
      name: "skein_worker_bytes_held",
      type: "gauge",
      help: "Bytes of results held, per worker.",
      samples: snapshot.workers.map((w) => [{ worker: w.name, host: w.host }, w.nbytes]),
    },
    {
      name: "skein_worker_memory_rss_bytes",
      type: "gauge",
      help: "Resident memory of each worker process, from its last heartbeat.",
      samples: snapshot.workers.map((w) => [{ worker: w.name, host: w.host }, w.rssBytes]),
    },
    {
      name: "skein_worker_tasks_processing",
      type: "gauge",
      help: "Tasks sent to each worker and not finished.",
      samples: snapshot.workers.map((w) => [{ worker: w.name, host: w.host }, w.processing]),
    },
    { name: "skein_scheduler_event_loop_delay_seconds", type: "gauge", help: "The scheduler's event-loop delay over the last interval, 99th percentile.", samples: [[{}, load.eventLoopDelayMs.p99 / 1000]] },
    { name: "skein_scheduler_cpu_ratio", type: "gauge", help: "CPU the scheduler's process used over the last interval, in cores.", samples: [[{}, load.cpuPercent / 100]] },
    { name: "skein_scheduler_memory_rss_bytes", type: "gauge", help: "Resident memory of the scheduler's process.", samples: [[{}, load.rssBytes]] },
  ];
  if (snapshot.jobs) {
    const counts = new Map<string, number>(JOB_STATES.map((s) => [s, 0]));
    for (const job of snapshot.jobs) counts.set(job.state, (counts.get(job.state) ?? 0) + 1);
    families.push({ name: "skein_jobs", type: "gauge", help: "Batch jobs the cluster started, by state.", samples: [...counts].map(([state, n]) => [{ state }, n]) });
  }
  return families.map(formatFamily).join("");
}

function formatFamily(family: Family): string {
  let text = `# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} ${family.type}\n`;
  for (const [labels, value] of family.samples) text += `${family.name}${formatLabels(labels)} ${formatValue(value)}\n`;
  return text;
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(",")}}`;
}

/** Label values: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** HELP text: backslash and line feed are escaped. */
function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}
