/**
 * `skein jobs list | cancel`: the jobs each cluster started, from the job ledger, with their state
 * asked of the batch system; and cancelling the ones a dead client left behind.
 */
import { hostname } from "node:os";
import {
  forgetJobs,
  isProcessAlive,
  ledgerDirectory,
  loadBackendModule,
  readLedger,
  removeClusterFiles,
  type ClusterBackend,
  type JobId,
  type JobState,
  type LedgerRecord,
} from "@skein/core";
import { EXIT_CODES } from "../exit-codes.js";

type Record_ = LedgerRecord & { path: string };

interface JobsFlags {
  json?: boolean;
  all?: boolean;
  orphaned?: boolean;
  force?: boolean;
}

export async function runJobs(action: string | undefined, ids: string[], flags: JobsFlags): Promise<number> {
  if (action === "list") return list(flags);
  if (action === "cancel") return cancel(ids, flags);
  process.stderr.write(`skein jobs: expected "list" or "cancel", got ${action === undefined ? "nothing" : `"${action}"`}\nUsage: skein jobs list | skein jobs cancel <cluster-or-job-id…> | --orphaned | --all\n`);
  return EXIT_CODES.USAGE;
}

async function list(flags: JobsFlags): Promise<number> {
  const { records, problems } = readLedger();
  const rows: { record: Record_; owner: string; states: Map<string, JobState | string> }[] = [];
  for (const record of records) {
    const states = await statesOf(record);
    // Jobs the batch system reports ended need no more watching.
    const ended = [...states].filter(([, s]) => typeof s !== "string" && s.state === "exited").map(([id]) => id);
    if (ended.length > 0 && forgetJobs(record, ended)) cleanUpAfter(record);
    rows.push({ record, owner: ownerOf(record), states });
  }
  if (flags.json) {
    const out = rows.map(({ record, owner, states }) => ({
      cluster: record.cluster,
      name: record.name,
      backend: record.backendName,
      host: record.host,
      pid: record.pid,
      owner,
      startedAt: record.startedAt,
      jobs: Object.fromEntries([...states].map(([id, s]) => [id, s])),
    }));
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else if (rows.length === 0) {
    process.stdout.write(`No clusters with jobs in ${ledgerDirectory()}.\n`);
  } else {
    for (const { record, owner, states } of rows) {
      process.stdout.write(`${record.cluster}  ${record.backendName}  started ${record.startedAt} on ${record.host} by pid ${record.pid} (${owner})\n`);
      for (const [id, state] of states) process.stdout.write(`  ${id.padEnd(24)} ${describeState(state)}\n`);
    }
  }
  for (const problem of problems) process.stderr.write(`skein jobs: skipped ${problem}\n`);
  return EXIT_CODES.OK;
}

async function cancel(ids: string[], flags: JobsFlags): Promise<number> {
  if (ids.length === 0 && !flags.all && !flags.orphaned) {
    process.stderr.write("skein jobs cancel: name clusters or job ids (see skein jobs list), or pass --orphaned or --all\n");
    return EXIT_CODES.USAGE;
  }
  const { records } = readLedger();
  let failures = 0;
  let matchedAny = false;
  for (const record of records) {
    const jobIds = Object.keys(record.jobs);
    const chosen = flags.all || (flags.orphaned && ownerOf(record) === "owner gone") || ids.includes(record.cluster) ? jobIds : jobIds.filter((id) => ids.includes(id));
    if (chosen.length === 0) continue;
    matchedAny = true;
    if (ownerOf(record) === "owner running" && !flags.force) {
      process.stderr.write(`skein jobs: ${record.cluster} belongs to a running process (pid ${record.pid}); close it there, or pass --force\n`);
      failures++;
      continue;
    }
    try {
      const backend = await backendOf(record);
      await backend.cancel(chosen as JobId[]);
      const forgotten = forgetJobs(record, chosen);
      process.stdout.write(`cancelled ${chosen.length} job${chosen.length === 1 ? "" : "s"} of ${record.cluster} (${record.backendName}): ${chosen.join(" ")}\n`);
      if (forgotten) cleanUpAfter(record);
    } catch (error) {
      process.stderr.write(`skein jobs: could not cancel jobs of ${record.cluster}: ${(error as Error).message}\n`);
      failures++;
    }
  }
  if (!matchedAny) {
    process.stderr.write(ids.length > 0 ? `skein jobs: no cluster or job matches ${ids.join(", ")} (see skein jobs list)\n` : "skein jobs: nothing to cancel\n");
    return ids.length > 0 ? EXIT_CODES.USAGE : EXIT_CODES.OK;
  }
  return failures > 0 ? EXIT_CODES.FAILURE : EXIT_CODES.OK;
}

async function statesOf(record: Record_): Promise<Map<string, JobState | string>> {
  const ids = Object.keys(record.jobs);
  const states = new Map<string, JobState | string>();
  if (ids.length === 0) return states;
  try {
    const backend = await backendOf(record);
    const reported = await backend.status(ids as JobId[]);
    for (const id of ids) states.set(id, reported.get(id as JobId) ?? "not reported");
  } catch (error) {
    for (const id of ids) states.set(id, `state unknown: ${(error as Error).message}`);
  }
  return states;
}

async function backendOf(record: Record_): Promise<ClusterBackend> {
  if (!record.backend) throw new Error(`the ledger does not say how to reach the ${record.backendName} backend; cancel with your batch system`);
  const module = await loadBackendModule(record.backend.module, record.backend.baseDir);
  return module.createBackend(record.backend.options, { sourceOf: () => record.path, baseDir: record.backend.baseDir });
}

/**
 * The last job of a cluster whose client died is gone: its secret and other files go too (a live
 * client removes them itself on close). Its jobs' output stays, and we say where.
 */
function cleanUpAfter(record: LedgerRecord): void {
  if (ownerOf(record) !== "owner gone") return;
  const { removed, output } = removeClusterFiles(record);
  if (removed) process.stderr.write(`skein jobs: removed the secret of ${record.cluster} (its client is gone)${output ? `; its jobs' output stays in ${output}` : ""}\n`);
}

function ownerOf(record: LedgerRecord): string {
  if (record.host !== hostname()) return `owner on ${record.host}`;
  return isProcessAlive(record.pid) ? "owner running" : "owner gone";
}

function describeState(state: JobState | string): string {
  if (typeof state === "string") return state;
  switch (state.state) {
    case "queued":
      return `queued${state.reason ? ` (${state.reason})` : ""}`;
    case "running":
      return `running${state.host ? ` on ${state.host}` : ""}`;
    case "exited":
      return `ended${state.exitCode !== null ? ` with exit code ${state.exitCode}` : ""}${state.reason ? ` (${state.reason})` : ""}`;
    default:
      return `unknown (${state.detail})`;
  }
}
