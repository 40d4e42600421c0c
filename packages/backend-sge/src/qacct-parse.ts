/** One record of `qacct -j <id>`. */
export interface QacctRecord {
  readonly jobnumber: string;
  readonly taskid: string;
  readonly jobname: string;
  /** `qsub_time` as milliseconds since the epoch (qacct prints local time), NaN when unreadable. */
  readonly submittedAt: number;
  /** `failed`: 0 when Grid Engine started and ended the job normally. */
  readonly failed: number;
  /** The text after `failed`'s number: "qmaster enforced h_rt, h_cpu, or h_vmem limit", "assumedly after job". */
  readonly failedReason: string;
  /** `exit_status`: the job script's exit code, 128 + signal when killed (137 = SIGKILL). */
  readonly exitStatus: number;
}

/**
 * The records of `qacct -j <id>`, in the accounting file's order (oldest first). A job id can
 * appear more than once when ids were reused (a new cell starts again at 1), and an array job has
 * one record per task. `error: job id 99999 not found` (stderr, exit 1) is no record at all.
 */
export function parseQacct(stdout: string): QacctRecord[] {
  const records: QacctRecord[] = [];
  for (const block of stdout.split(/^={10,}\s*$/m)) {
    const fields = new Map<string, string>();
    for (const line of block.split(/\r?\n/)) {
      const m = /^(\w+)\s+(.*?)\s*$/.exec(line);
      if (m?.[1] && m[2] !== undefined && !fields.has(m[1])) fields.set(m[1], m[2]);
    }
    const jobnumber = fields.get("jobnumber");
    if (jobnumber === undefined) continue;
    const failed = /^(\d+)\s*(?::\s*(.*))?$/.exec(fields.get("failed") ?? "");
    const exitStatus = /^(-?\d+)/.exec(fields.get("exit_status") ?? "");
    if (!failed?.[1] || !exitStatus?.[1]) {
      throw new Error(`[skein] [sge] a qacct record of job ${jobnumber} has no readable "failed" or "exit_status": ${JSON.stringify(block.trim())}`);
    }
    records.push({
      jobnumber,
      taskid: fields.get("taskid") ?? "undefined",
      jobname: fields.get("jobname") ?? "",
      submittedAt: Date.parse(fields.get("qsub_time") ?? ""),
      failed: Number(failed[1]),
      failedReason: (failed[2] ?? "").trim(),
      exitStatus: Number(exitStatus[1]),
    });
  }
  return records;
}

/** True for qacct's answer when it has no record of the job (yet: accounting is flushed every `flush_time`). */
export function isQacctNotFound(stderr: string, exitCode: number | null): boolean {
  return exitCode === 1 && /error: job id \S+ not found/.test(stderr);
}
