import type { JobState } from "@skein/core";

/** One `<job_list>` record of `qstat -xml`. */
export interface QstatJob {
  /** `<JB_job_number>` */
  readonly id: string;
  /** `<tasks>`: one task (`2`) of a running array job, or pending tasks (`1-3:1`, `1,3,4`); absent for a plain job. */
  readonly tasks?: string;
  readonly name: string;
  /** Grid Engine's state letters: `qw`, `hqw`, `Eqw`, `r`, `t`, `dr`, `s`, … */
  readonly state: string;
  /** `<queue_name>`: `all.q@host` for a running job, empty for a pending one. */
  readonly queue: string;
  /** The `state` attribute: "running" (under `<queue_info>`) or "pending" (under `<job_info>`). */
  readonly list: string;
}

/**
 * The records of `qstat -xml`. Throws when the output is not qstat's XML (an empty string too:
 * `qstat -xml` prints its `<job_info>` skeleton even when there are no jobs, plain `qstat` prints
 * nothing).
 */
export function parseQstatXmlJobs(stdout: string): QstatJob[] {
  if (!/<job_info[\s>]/.test(stdout) || !/<\/job_info>\s*$/.test(stdout)) {
    throw new Error(
      `[skein] [sge] expected the XML of \`qstat -xml\` (a <job_info> document), got ${JSON.stringify(stdout.slice(0, 200))}` +
        `${stdout.length > 200 ? "…" : ""}; does the status command include -xml?`,
    );
  }
  const jobs: QstatJob[] = [];
  for (const match of stdout.matchAll(/<job_list\b([^>]*)>([\s\S]*?)<\/job_list>/g)) {
    const attributes = match[1] ?? "";
    const body = match[2] ?? "";
    const field = (tag: string): string | undefined => {
      const value = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>|<${tag}\\s*/>`).exec(body);
      return value === null ? undefined : decode(value[1] ?? "");
    };
    const id = field("JB_job_number");
    const state = field("state");
    if (id === undefined || !/^\d+$/.test(id) || state === undefined) {
      throw new Error(`[skein] [sge] a <job_list> record of qstat -xml has no job number or state: ${JSON.stringify(match[0])}`);
    }
    const tasks = field("tasks");
    jobs.push({
      id,
      ...(tasks ? { tasks } : {}),
      name: field("JB_name") ?? "",
      state,
      queue: field("queue_name") ?? "",
      list: /\bstate="([^"]*)"/.exec(attributes)?.[1] ?? "",
    });
  }
  return jobs;
}

/**
 * `qstat -xml` as one state per job id. A plain job is keyed by its number (`15`). The tasks of
 * an array job are keyed `13.2`, and the array as a whole by its number: running while any task
 * runs, else queued. Jobs that ended are not in qstat at all (Grid Engine has no "completed"
 * state): the caller reads an absent id as exited.
 */
export function parseQstatXml(stdout: string): Map<string, JobState> {
  const states = new Map<string, JobState>();
  const arrays = new Map<string, JobState>();
  for (const job of parseQstatXmlJobs(stdout)) {
    const state = jobState(job);
    if (job.tasks === undefined) {
      states.set(job.id, state);
      continue;
    }
    for (const task of expandTasks(job.id, job.tasks)) states.set(`${job.id}.${task}`, state);
    const whole = arrays.get(job.id);
    if (whole === undefined || rank(state) > rank(whole)) arrays.set(job.id, state);
  }
  for (const [id, state] of arrays) if (!states.has(id)) states.set(id, state);
  return states;
}

/** What Grid Engine's state letters mean to Skein. */
export function jobState(job: Pick<QstatJob, "id" | "state" | "queue">): JobState {
  const letters = job.state;
  if (!/^[A-Za-z]+$/.test(letters)) return { state: "unknown", detail: `qstat reports job ${job.id} in state ${JSON.stringify(letters)}, which Skein does not know` };
  if (letters.includes("E")) {
    // Eqw: it failed to start ("before job") and will never start by itself.
    return {
      state: "queued",
      reason: `error state ${letters}: Grid Engine will not start it until the error is cleared (\`qstat -j ${job.id}\` shows the error reason, \`qmod -cj ${job.id}\` clears it)`,
    };
  }
  if (/[sST]/.test(letters)) return { state: "queued", reason: `suspended (${letters})` };
  if (/[rt]/.test(letters)) {
    // r running, t being transferred to its host, Rr restarted, dr/dt being deleted but still there.
    const host = hostOf(job.queue);
    return host === undefined ? { state: "running" } : { state: "running", host };
  }
  if (letters.includes("z")) return { state: "exited", exitCode: null, reason: "finished (zombie in qstat -s z)" };
  if (/[qw]/.test(letters)) {
    if (letters.includes("d")) return { state: "queued", reason: `being deleted (${letters})` };
    if (letters.includes("h")) return { state: "queued", reason: `held (${letters})` };
    return { state: "queued", reason: `waiting (${letters})` };
  }
  return { state: "unknown", detail: `qstat reports job ${job.id} in state ${letters}, which Skein does not know` };
}

// --- internal ---

function hostOf(queue: string): string | undefined {
  const at = queue.lastIndexOf("@");
  const host = at < 0 ? "" : queue.slice(at + 1);
  return host === "" ? undefined : host;
}

const rank = (state: JobState): number => (state.state === "running" ? 3 : state.state === "queued" ? 2 : state.state === "unknown" ? 1 : 0);

/** Guards against expanding a huge task range into memory. */
const MAX_TASKS = 100_000;

/** `2` → [2]; `1-3:1` → [1, 2, 3]; `1,3,4` → [1, 3, 4]; `1-5:2,8` → [1, 3, 5, 8]. */
function expandTasks(id: string, spec: string): number[] {
  const tasks: number[] = [];
  for (const part of spec.split(",")) {
    const m = /^\s*(\d+)(?:-(\d+)(?::(\d+))?)?\s*$/.exec(part);
    if (!m?.[1]) throw new Error(`[skein] [sge] cannot read the task range ${JSON.stringify(spec)} of array job ${id} in qstat -xml`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (step < 1 || to < from || tasks.length + (to - from) / step >= MAX_TASKS) {
      throw new Error(`[skein] [sge] will not expand the task range ${JSON.stringify(spec)} of array job ${id} (more than ${MAX_TASKS} tasks or a bad range)`);
    }
    for (let n = from; n <= to; n += step) tasks.push(n);
  }
  return tasks;
}

function decode(text: string): string {
  return text.replace(/&(?:#(\d+)|#x([0-9a-fA-F]+)|(amp|lt|gt|quot|apos));/g, (_, dec: string | undefined, hex: string | undefined, named: string | undefined) => {
    if (dec) return String.fromCodePoint(Number(dec));
    if (hex) return String.fromCodePoint(Number.parseInt(hex, 16));
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[named as "amp"];
  });
}
