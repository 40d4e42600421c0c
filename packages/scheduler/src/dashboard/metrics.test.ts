import { describe, expect, it } from "vitest";
import { Sim, task } from "../state/test-helpers.js";
import { escapeLabelValue, formatMetrics } from "./metrics.js";
import { buildSnapshot, type SchedulerLoad } from "./snapshot.js";

const LOAD: SchedulerLoad = { eventLoopDelayMs: { p50: 1, p99: 4, max: 9 }, cpuPercent: 12.5, rssBytes: 80e6, heapUsedBytes: 30e6, uptimeSeconds: 42 };

/**
 * A strict reading of the text exposition format 0.0.4: every sample belongs to a family declared
 * just before it with HELP and TYPE, names and labels are well formed, values parse, and no series
 * appears twice. Returns the samples as "name{labels}" → value.
 */
function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  expect(text.endsWith("\n")).toBe(true);
  let family: string | undefined;
  let typed = false;
  const seenFamilies = new Set<string>();
  for (const line of text.slice(0, -1).split("\n")) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (help) {
      family = help[1] as string;
      expect(seenFamilies.has(family), `family ${family} declared twice`).toBe(false);
      seenFamilies.add(family);
      typed = false;
      continue;
    }
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      expect(type[1]).toBe(family);
      typed = true;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (\S+)$/.exec(line);
    expect(sample, `not a valid sample line: ${JSON.stringify(line)}`).not.toBeNull();
    if (!sample) continue;
    expect(sample[1], `sample ${sample[1]} outside its family`).toBe(family);
    expect(typed).toBe(true);
    const value = sample[3] as string;
    expect(value, `value of ${line}`).toMatch(/^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/);
    const series = `${sample[1]}${sample[2] ?? ""}`;
    expect(samples.has(series), `series ${series} twice`).toBe(false);
    samples.set(series, Number(value.replace("Inf", "Infinity")));
  }
  return samples;
}

function scenario() {
  const sim = new Sim();
  sim.addClient();
  sim.addWorker("w1", { nthreads: 2 });
  sim.submit([task("inc-1"), task("inc-2"), task("double-1", ["inc-1"])], ["inc-1", "inc-2", "double-1"]);
  sim.finish("inc-1", { nbytes: 100 });
  sim.fail("inc-2");
  return sim;
}

describe("formatMetrics", () => {
  it("writes valid Prometheus text with tasks by state, workers, bytes and the scheduler's load", () => {
    const sim = scenario();
    const snapshot = buildSnapshot({ state: sim.state, schedulerId: "scheduler-1", address: "ws://127.0.0.1:1", now: 0, load: LOAD });
    const text = formatMetrics(snapshot, { finished: 2, erred: 1 });
    const samples = parsePrometheusText(text);
    expect(text).toContain("# HELP skein_tasks Tasks the scheduler holds, by state.\n# TYPE skein_tasks gauge\n");
    expect(samples.get('skein_tasks{state="memory"}')).toBe(1);
    expect(samples.get('skein_tasks{state="erred"}')).toBe(1);
    expect(samples.get('skein_tasks{state="processing"}')).toBe(1);
    expect(samples.get('skein_tasks{state="waiting"}')).toBe(0);
    expect(samples.get('skein_tasks_finished_total{outcome="ok"}')).toBe(1);
    expect(samples.get('skein_tasks_finished_total{outcome="error"}')).toBe(1);
    expect(samples.get('skein_workers{status="running"}')).toBe(1);
    expect(samples.get("skein_worker_threads")).toBe(2);
    expect(samples.get("skein_bytes_held")).toBe(100);
    expect(samples.get('skein_worker_bytes_held{worker="w1",host="w1.test"}')).toBe(100);
    expect(samples.get("skein_scheduler_event_loop_delay_seconds")).toBe(0.004);
    expect(samples.get("skein_scheduler_cpu_ratio")).toBe(0.125);
    expect(samples.get('skein_scheduler_info{scheduler_id="scheduler-1",address="ws://127.0.0.1:1"}')).toBe(1);
    expect(text).toMatch(/# TYPE skein_tasks_finished_total counter\n/);
    // No jobs provider, no job series.
    expect(text).not.toContain("skein_jobs");
  });

  it("counts jobs by state, every state present", () => {
    const sim = scenario();
    const jobs = [
      { id: "1", state: "running", submittedAt: 0, startedAt: 0, workers: [] },
      { id: "2", state: "running", submittedAt: 0, startedAt: 0, workers: [] },
      { id: "3", state: "queued", submittedAt: 0, workers: [] },
    ];
    const samples = parsePrometheusText(formatMetrics(buildSnapshot({ state: sim.state, schedulerId: "s", address: "a", now: 0, load: LOAD, jobs }), { finished: 0, erred: 0 }));
    expect(samples.get('skein_jobs{state="running"}')).toBe(2);
    expect(samples.get('skein_jobs{state="queued"}')).toBe(1);
    expect(samples.get('skein_jobs{state="exited"}')).toBe(0);
    expect(samples.get('skein_jobs{state="unknown"}')).toBe(0);
  });

  it("escapes label values, so a worker name cannot break the format", () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    const sim = new Sim();
    sim.addWorker('we"ird\\name\n');
    const text = formatMetrics(buildSnapshot({ state: sim.state, schedulerId: "s", address: "a", now: 0, load: LOAD }), { finished: 0, erred: 0 });
    expect(parsePrometheusText(text).get('skein_worker_bytes_held{worker="we\\"ird\\\\name\\n",host="we\\"ird\\\\name\\n.test"}')).toBe(0);
  });
});
