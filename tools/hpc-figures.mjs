#!/usr/bin/env node
// The README's HPC figures, measured for real on the test cluster (tools/test-cluster.sh) through the
// PBS backend and Slurm's Torque wrappers, with the reference scenario's options:
//
//   scale48  scale(48) → 48 workers connected, map/map/sum = -96, close(), seconds until squeue is empty,
//            jobs left after close, qsub/qstat/qdel calls for the whole run
//   sigint   the same script in a child node process with 48 busy tasks; SIGINT to its process group
//            (what Ctrl-C in a terminal does): exit code, stderr lines, jobs left, seconds until squeue is empty
//   kill9    the same, but SIGKILL to the client: seconds until every job has left squeue by itself
//   failing  jobs whose script fails before the worker starts (prologue "exit 3"): seconds from the
//            job's end (a timestamp the prologue writes) to waitForWorkers rejecting
//
// Usage: npx nx run-many -t build --outputStyle=static && node tools/hpc-figures.mjs [--repeat N] [--only a,b]
// One JSON line per measurement (and one summary line per figure) on stdout, a table on stderr.
// Every job it starts is cancelled in `finally` if still there, checked with squeue; processes it
// started (found by a marker in their environment) are reported and killed if any outlive a run.
import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const FIGURES = ["scale48", "sigint", "kill9", "failing"];
const USAGE = `usage: node tools/hpc-figures.mjs [--repeat N] [--only ${FIGURES.join(",")}] [--busy sleep|spin]
  --repeat N      run every measurement N times; the summary lines and the table give the median
  --only NAMES    run only these measurements (default: all, in this order)
  --busy KIND     what the 48 tasks do when sigint/kill9 strike: "sleep" (default: the task's thread is
                  blocked in Atomics.wait, no CPU) or "spin" (a CPU loop: 48 of them on a small machine
                  slow down everything else that is measured)
  --quiet-wait S  before each run, wait up to S seconds (default 180) until squeue lists no other job and
                  the CPUs are under 30 % busy (what was left is reported with the run)
Needs the test cluster (tools/test-cluster.sh start) and a build (npx nx run-many -t build).`;

/** The reference scenario's options (issue 4), with the test cluster's interface. */
const REFERENCE = {
  backend: "pbs",
  name: "exDaskCluster",
  shebang: "#!/bin/tcsh",
  resourceSpec: "nodes=1:c18a:ppn=12",
  walltime: "00:20:00",
  cores: 12,
  processes: 12,
  memory: "32GB",
  interface: "lo", // the user's is "ib0"; the test cluster has none
};
const WORKERS = 48;
const CONNECT_TIMEOUT_MS = 300_000;
const QUEUE_EMPTY_TIMEOUT_MS = 180_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const seconds = (from, to = now()) => round((to - from) / 1000);
const round = (x, digits = 2) => (x === null || x === undefined ? x : Math.round(x * 10 ** digits) / 10 ** digits);
const say = (line = "") => process.stderr.write(`${line}\n`);

// --- batch commands, asynchronous (the scheduler may live in this process: never block its event loop) ---

function run(file, args, { timeout = 30_000 } = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: "utf8", timeout }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolve({ code, stdout, stderr, error: error && code === null ? error.message : undefined });
    });
  });
}

/** Jobs among `ids` that squeue still lists (pending, running or completing), as { id, state }. */
async function squeueAlive(ids) {
  if (ids.length === 0) return [];
  const r = await run("squeue", ["-h", "-j", ids.join(","), "-o", "%i %T"]);
  // Only unknown ids: exit 1, "Invalid job id specified" (they aged out: gone).
  if (r.code === 1 && /Invalid job id/.test(r.stderr)) return [];
  if (r.code !== 0) throw new Error(`squeue failed (exit ${r.code}): ${r.stderr || r.error}`);
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => line.trim().split(/\s+/))
    .map(([id, state]) => ({ id, state }))
    .filter((j) => ids.includes(j.id));
}

/** Jobs among `ids` that qstat (the wrapper's listing) shows in a state other than C. */
async function qstatAlive(ids) {
  const r = await run("qstat", []);
  if (r.code === 153 && r.stdout.trim() === "") return []; // no job at all
  if (r.code !== 0) throw new Error(`qstat failed (exit ${r.code}): ${r.stderr || r.error}`);
  return r.stdout
    .split("\n")
    .slice(2)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 6 && ids.includes(f[0]) && f[4] !== "C")
    .map((f) => ({ id: f[0], state: f[4] }));
}

/** Every job squeue lists that is not one of `mine`: other users of the shared test cluster. */
async function otherJobs(mine) {
  const r = await run("squeue", ["-h", "-o", "%i %j %T"]);
  if (r.code !== 0) throw new Error(`squeue failed (exit ${r.code}): ${r.stderr || r.error}`);
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => l.trim().split(/\s+/))
    .filter(([id]) => !mine.has(id));
}

/** Seconds from `from` until squeue lists none of `ids` (polled every 250 ms), or null after the timeout. */
async function untilQueueEmpty(ids, from, timeoutMs = QUEUE_EMPTY_TIMEOUT_MS) {
  const deadline = now() + timeoutMs;
  for (;;) {
    if ((await squeueAlive(ids)).length === 0) return seconds(from);
    if (now() > deadline) return null;
    await sleep(250);
  }
}

// --- what a run leaves behind ---

/**
 * A transparent recorder in front of the real qsub/qstat/qdel (as in packages/backend-pbs/test/helpers.ts):
 * it appends a timestamp and its arguments to a log, then execs the real command.
 */
function commandRecorder(dir) {
  const log = join(dir, "calls.log");
  const recorder = join(dir, "record");
  writeFileSync(log, "");
  writeFileSync(recorder, `#!/bin/sh\nprintf '%s %s\\n' "$(date +%s.%N)" "$*" >> '${log}'\nexec "$@"\n`, { mode: 0o700 });
  return {
    commands: { submit: [recorder, "qsub"], status: [recorder, "qstat", "-f"], cancel: [recorder, "qdel"] },
    counts() {
      const counts = { qsub: 0, qstat: 0, qdel: 0 };
      for (const line of readFileSync(log, "utf8").split("\n").filter(Boolean)) {
        const command = line.split(" ")[1];
        counts[command] = (counts[command] ?? 0) + 1;
      }
      return counts;
    },
  };
}

/**
 * Live processes whose command line or environment contains `marker` (this run's temporary directory:
 * the jobs inherit qsub's environment, so every worker carries it), except this process.
 */
function processesWith(marker) {
  const found = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "latin1").replaceAll("\0", " ").trim();
      let environ = "";
      try {
        environ = readFileSync(`/proc/${entry}/environ`, "latin1");
      } catch {
        // not ours to read
      }
      if (cmdline.includes(marker) || environ.includes(marker)) found.push({ pid: Number(entry), cmd: cmdline.slice(0, 160) });
    } catch {
      // ended while we looked
    }
  }
  return found;
}

/** Seconds from `from` until no process carries `marker`, or null after the timeout. */
async function untilNoProcesses(marker, from, timeoutMs = 60_000) {
  const deadline = now() + timeoutMs;
  for (;;) {
    if (processesWith(marker).length === 0) return seconds(from);
    if (now() > deadline) return null;
    await sleep(250);
  }
}

/** Job ids in the job ledgers under `stateDir` (Skein records every submission there at once). */
function ledgerJobs(stateDir) {
  const dir = join(stateDir, "clusters");
  if (!existsSync(dir)) return [];
  const ids = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    try {
      ids.push(...Object.keys(JSON.parse(readFileSync(join(dir, file), "utf8")).jobs ?? {}));
    } catch {
      // half-written
    }
  }
  return ids;
}

// --- the harness ---

/** This invocation's temporary directory (parent only): run directories, job output, the job ledger. */
let BASE;
let STATE_DIR;
/** Every job id any run has started: cancelled at the end if squeue still lists it. */
const started = new Set();
/** Child processes (process group ids) still running. */
const children = new Set();
/** Things that went wrong, printed at the end. */
const problems = [];
/** Set by SIGINT/SIGTERM to this tool: its handler cleans up and exits; the measurements stop. */
let interrupted = false;

function newRunDir(figure, index) {
  const dir = join(BASE, `${figure}-${index}`);
  for (const sub of ["shared", "cwd", "rec", "marks"]) mkdirSync(join(dir, sub), { recursive: true });
  return {
    dir,
    sharedDirectory: join(dir, "shared"),
    marks: join(dir, "marks"),
    recorder: commandRecorder(join(dir, "rec")),
    recorderDir: join(dir, "rec"),
    config: { cwd: join(dir, "cwd"), env: {}, userConfigDir: join(dir, "no-user-config") },
  };
}

/** Cancel whichever of `ids` squeue still lists, wait until they are gone; returns how many it had to cancel. */
async function cancelLeftovers(ids, why) {
  const alive = await squeueAlive([...ids]);
  if (alive.length === 0) return 0;
  problems.push(`${why}: ${alive.length} job(s) still in squeue (${alive.map((j) => `${j.id} ${j.state}`).join(", ")}); the tool cancelled them`);
  await run("scancel", alive.map((j) => j.id));
  await untilQueueEmpty(alive.map((j) => j.id), now(), 60_000);
  return alive.length;
}

/** Machine-wide CPU use (0–1) over `ms`, from /proc/stat. */
async function cpuBusy(ms = 1000) {
  const sample = () => {
    const v = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    return { idle: v[3] + (v[4] ?? 0), total: v.reduce((a, b) => a + b, 0) };
  };
  const a = sample();
  await sleep(ms);
  const b = sample();
  return b.total === a.total ? 0 : 1 - (b.idle - a.idle) / (b.total - a.total);
}

/**
 * Wait (bounded) until other users' jobs have left the queue and the CPUs are mostly idle: on a
 * shared 2-core machine, someone's test run (or the previous run's 48 workers winding down) would
 * otherwise be part of the figures. What was still there is reported with each run.
 */
async function waitForQuiet(maxSeconds) {
  const t0 = now();
  let others = await otherJobs(started);
  let busy = await cpuBusy();
  while ((others.length > 0 || busy > 0.3) && seconds(t0) < maxSeconds) {
    await sleep(1000);
    others = await otherJobs(started);
    busy = await cpuBusy();
  }
  return { othersAtStart: others.length, cpuBusyAtStart: round(busy), waitedS: seconds(t0) };
}

// --- 1. scale(48) → 48 workers, -96, close ---

async function measureScale48(index) {
  const { Client, createCluster } = await import("@skein/core");
  const r = newRunDir("scale48", index);
  const out = { figure: "scale48", run: index };
  let cluster;
  let client;
  let ids = [];
  try {
    cluster = await createCluster({ ...REFERENCE, commands: r.recorder.commands, sharedDirectory: r.sharedDirectory }, r.config);
    const t0 = now();
    const epoch0 = Date.now() / 1000;
    await cluster.scale(WORKERS);
    out.scaleS = seconds(t0);
    ids = cluster.jobs.map((j) => j.id);
    ids.forEach((id) => started.add(id));
    out.jobs = ids.length;
    await cluster.waitForWorkers(WORKERS, { timeout: CONNECT_TIMEOUT_MS });
    out.workersConnectedS = seconds(t0);
    out.workers = cluster.workers.length;
    // When Slurm started each job (whole seconds): the rest of workersConnectedS is the workers' own start-up.
    const starts = await run("squeue", ["-h", "-j", ids.join(","), "-o", "%S"]);
    const startTimes = starts.stdout.split("\n").filter(Boolean).map((s) => new Date(s.trim()).getTime() / 1000);
    if (startTimes.length === ids.length && startTimes.every(Number.isFinite)) out.lastJobStartedS = round(Math.max(...startTimes) - epoch0, 0);

    const tc = now();
    client = await Client.connect(cluster);
    const A = client.map((x) => x * 2, Array(48).fill(1));
    const B = client.map((x) => -x, A);
    out.result = await client.submit((xs) => xs.reduce((a, b) => a + b, 0), B).result();
    out.computeS = seconds(tc);
    await client.close();
    client = undefined;

    const marker = r.dir;
    const tClose = now();
    await cluster.close();
    out.closeS = seconds(tClose);
    const inSqueue = await squeueAlive(ids);
    out.jobsLeftAfterClose = { qstat: (await qstatAlive(ids)).length, squeue: inSqueue.length };
    if (inSqueue.length > 0) out.squeueStatesAfterClose = [...new Set(inSqueue.map((j) => j.state))].join(",");
    out.queueEmptyAfterCloseS = await untilQueueEmpty(ids, tClose);
    out.workerProcessesGoneS = await untilNoProcesses(marker, tClose);
    out.calls = r.recorder.counts();
    if (out.result !== -96) problems.push(`scale48 run ${index}: result ${out.result}, expected -96`);
  } catch (error) {
    out.error = String(error?.stack ?? error).split("\n").slice(0, 3).join(" | ");
    problems.push(`scale48 run ${index}: ${out.error}`);
  } finally {
    await client?.close().catch(() => undefined);
    await cluster?.close().catch((e) => problems.push(`scale48 run ${index}: close() in finally: ${e.message}`));
    out.cancelledByTool = await cancelLeftovers(ids, `scale48 run ${index}`);
  }
  return out;
}

// --- 2 and 3. the scenario in a child process, interrupted once its 48 workers are busy ---

/** Child mode: the reference scenario with 48 busy tasks; prints JSON events on stdout and awaits forever. */
async function childMain(config) {
  const { Client, createCluster } = await import("@skein/core");
  const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
  const cluster = await createCluster({ ...REFERENCE, commands: config.commands, sharedDirectory: config.sharedDirectory }, config.loadConfig);
  await cluster.scale(WORKERS);
  emit({ event: "submitted", ids: cluster.jobs.map((j) => j.id), address: cluster.schedulerAddress });
  await cluster.waitForWorkers(WORKERS, { timeout: CONNECT_TIMEOUT_MS });
  emit({ event: "connected", workers: cluster.workers.length });
  const client = await Client.connect(cluster);
  const task =
    config.busy === "spin"
      ? (i) => {
          const end = Date.now() + 600_000;
          let x = 0;
          while (Date.now() < end) x++;
          return i + (x > 0 ? 0 : 1);
        }
      : (i) => {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600_000);
          return i;
        };
  const busy = client.map(task, Array.from({ length: WORKERS }, (_, i) => i));
  const total = client.submit((xs) => xs.reduce((a, b) => a + b, 0), busy);
  const deadline = Date.now() + 60_000;
  while (cluster.scheduler.workload().idleWorkers.length > 0 && Date.now() < deadline) await sleep(100);
  await sleep(1000); // the tasks reach their threads
  emit({ event: "busy", idleWorkers: cluster.scheduler.workload().idleWorkers.length, pendingTasks: cluster.scheduler.workload().pendingTasks });
  // What a user's script does: wait for the result (it never comes: the signal does).
  console.log(await total.result());
}

async function measureInterrupted(figure, index, busyKind) {
  const signal = figure === "sigint" ? "SIGINT" : "SIGKILL";
  const r = newRunDir(figure, index);
  const out = { figure, run: index, signal, busy: busyKind };
  let ids = [];
  const childConfig = { commands: r.recorder.commands, sharedDirectory: r.sharedDirectory, loadConfig: r.config, busy: busyKind };
  // Its own process group, as a terminal's foreground job: Ctrl-C goes to the whole group.
  const child = spawn(process.execPath, [SELF, "--child"], {
    cwd: r.config.cwd,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HPC_FIGURES_CHILD: JSON.stringify(childConfig) },
  });
  children.add(child.pid);
  let stdout = "";
  let stderr = "";
  const events = [];
  let onEvent = () => {};
  child.stdout.on("data", (d) => {
    stdout += d;
    const lines = stdout.split("\n");
    stdout = lines.pop();
    for (const line of lines) {
      try {
        events.push(JSON.parse(line));
      } catch {
        events.push({ event: "output", line });
      }
      onEvent();
    }
  });
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code, sig) => resolve({ code, signal: sig, at: now() })));
  const waitFor = (name, timeoutMs) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = events.find((e) => e.event === name);
        if (found) return resolve(found);
      };
      onEvent = check;
      check();
      exited.then((e) => reject(new Error(`the child exited (code ${e.code}, signal ${e.signal}) before "${name}"; stderr: ${stderr.trim().slice(0, 2000)}`)));
      setTimeout(() => reject(new Error(`no "${name}" from the child within ${timeoutMs / 1000} s; stderr: ${stderr.trim().slice(0, 2000)}`)), timeoutMs).unref();
    });
  try {
    const t0 = now();
    const submitted = await waitFor("submitted", 120_000);
    ids = submitted.ids;
    ids.forEach((id) => started.add(id));
    out.jobs = ids.length;
    await waitFor("connected", CONNECT_TIMEOUT_MS);
    out.workersConnectedS = seconds(t0);
    const busy = await waitFor("busy", 90_000);
    out.busyTasks = WORKERS - busy.idleWorkers;
    const stderrBefore = stderr;

    const tSignal = now();
    if (signal === "SIGINT") process.kill(-child.pid, "SIGINT");
    else process.kill(child.pid, "SIGKILL");
    const exit = await exited;
    children.delete(child.pid);
    out.exitCode = exit.code;
    out.exitSignal = exit.signal;
    out.exitAfterS = seconds(tSignal, exit.at);
    const newStderr = stderr.slice(stderrBefore.length);
    out.stderrLines = newStderr.split("\n").filter(Boolean).length;
    out.stderr = newStderr.trim().slice(0, 500);
    if (stderrBefore.trim()) out.stderrBeforeSignal = stderrBefore.trim().slice(0, 500);
    const inSqueue = await squeueAlive(ids);
    out.jobsLeftAtExit = { qstat: (await qstatAlive(ids)).length, squeue: inSqueue.length };
    if (inSqueue.length > 0) out.squeueStatesAtExit = [...new Set(inSqueue.map((j) => j.state))].join(",");
    out.queueEmptyS = await untilQueueEmpty(ids, tSignal);
    out.workerProcessesGoneS = await untilNoProcesses(r.dir, tSignal);
    out.ledgerJobs = ledgerJobs(STATE_DIR).filter((id) => ids.includes(id)).length;
    out.calls = r.recorder.counts();
  } catch (error) {
    out.error = String(error?.message ?? error).split("\n").slice(0, 3).join(" | ");
    problems.push(`${figure} run ${index}: ${out.error}`);
  } finally {
    if (children.has(child.pid)) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // gone
      }
      await exited;
      children.delete(child.pid);
    }
    // Ids the child submitted but never printed are in its ledger.
    ids = [...new Set([...ids, ...ledgerJobs(STATE_DIR)])];
    ids.forEach((id) => started.add(id));
    out.cancelledByTool = await cancelLeftovers(ids, `${figure} run ${index}`);
  }
  return out;
}

// --- 4. jobs that fail before their worker starts ---

async function measureFailing(index) {
  const { createCluster } = await import("@skein/core");
  const r = newRunDir("failing", index);
  const out = { figure: "failing", run: index };
  const outputMarker = "hpc-figures: this job fails on purpose before its worker starts";
  let cluster;
  let ids = [];
  try {
    const { shebang: _tcsh, ...options } = REFERENCE; // the default shebang (bash) here
    cluster = await createCluster(
      {
        ...options,
        // The job's end, as close as a script can say it: a timestamp just before exit 3.
        jobScriptPrologue: [`echo "${outputMarker}"`, `date +%s.%N > ${r.marks}/ended-$SLURM_JOB_ID`, "exit 3"],
        commands: r.recorder.commands,
        sharedDirectory: r.sharedDirectory,
      },
      r.config,
    );
    const t0 = now();
    await cluster.scale(WORKERS);
    ids = cluster.jobs.map((j) => j.id);
    ids.forEach((id) => started.add(id));
    out.jobs = ids.length;
    let error;
    try {
      await cluster.waitForWorkers(WORKERS, { timeout: 180_000 });
    } catch (e) {
      error = e;
    }
    const errorAt = Date.now() / 1000;
    out.errorAfterScaleS = seconds(t0);
    if (!error) throw new Error("waitForWorkers resolved although every job fails");
    out.code = error.code;
    const message = String(error.message);
    out.firstLine = message.split("\n")[0];
    out.message = message.slice(0, 3000);
    out.includesJobOutput = message.includes(outputMarker);
    out.includesExitCode3 = /exit code 3\b/.test(message);
    const failedId = /job (\S+) of cluster/.exec(message)?.[1];
    out.failedJob = failedId;
    const endedFile = join(r.marks, `ended-${failedId}`);
    if (failedId && existsSync(endedFile)) {
      out.failureToErrorS = round(errorAt - Number(readFileSync(endedFile, "utf8").trim()));
    } else {
      problems.push(`failing run ${index}: no timestamp for job ${failedId} (files: ${readdirSync(r.marks).join(", ")})`);
    }
    const ended = readdirSync(r.marks).map((f) => Number(readFileSync(join(r.marks, f), "utf8").trim()));
    if (ended.length > 0) out.firstJobEndToErrorS = round(errorAt - Math.min(...ended));
    const tClose = now();
    await cluster.close();
    out.closeS = seconds(tClose);
    out.jobsLeftAfterClose = { qstat: (await qstatAlive(ids)).length, squeue: (await squeueAlive(ids)).length };
    out.queueEmptyAfterCloseS = await untilQueueEmpty(ids, tClose);
    out.calls = r.recorder.counts();
    if (out.code !== "SKEIN_ERR_JOB_FAILED_BEFORE_CONNECT") problems.push(`failing run ${index}: error code ${out.code}: ${out.firstLine}`);
  } catch (error) {
    out.error = String(error?.stack ?? error).split("\n").slice(0, 3).join(" | ");
    problems.push(`failing run ${index}: ${out.error}`);
  } finally {
    await cluster?.close().catch((e) => problems.push(`failing run ${index}: close() in finally: ${e.message}`));
    out.cancelledByTool = await cancelLeftovers(ids, `failing run ${index}`);
  }
  return out;
}

// --- summary ---

/** Numeric leaves of a record, flattened ("calls.qsub"). */
function numbers(record, prefix = "") {
  const result = {};
  for (const [key, value] of Object.entries(record)) {
    if (key === "run") continue;
    if (typeof value === "number") result[prefix + key] = value;
    else if (value && typeof value === "object" && !Array.isArray(value)) Object.assign(result, numbers(value, `${prefix}${key}.`));
  }
  return result;
}

function median(values) {
  const v = values.filter((x) => typeof x === "number").sort((a, b) => a - b);
  if (v.length === 0) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : round((v[v.length / 2 - 1] + v[v.length / 2]) / 2);
}

function summarise(figure, records) {
  const keys = [...new Set(records.flatMap((r) => Object.keys(numbers(r))))];
  const medians = Object.fromEntries(keys.map((k) => [k, median(records.map((r) => numbers(r)[k]))]));
  return { figure, summary: "median", runs: records.length, ...medians };
}

function table(byFigure) {
  const rows = [];
  for (const [figure, records] of Object.entries(byFigure)) {
    const keys = [...new Set(records.flatMap((r) => Object.keys(numbers(r))))];
    for (const key of keys) rows.push([`${figure}.${key}`, ...records.map((r) => String(numbers(r)[key] ?? "-")), String(median(records.map((r) => numbers(r)[key])) ?? "-")]);
    for (const key of ["exitSignal", "squeueStatesAtExit", "squeueStatesAfterClose", "code", "firstLine", "stderr", "includesJobOutput", "includesExitCode3", "error"]) {
      const values = records.map((r) => r[key]).filter((v) => v !== undefined && v !== null);
      if (values.length > 0) rows.push([`${figure}.${key}`, [...new Set(values.map(String))].join(" / ").replaceAll("\n", " ⏎ ").slice(0, 160)]);
    }
  }
  const n = Math.max(...Object.values(byFigure).map((r) => r.length));
  const header = ["figure", ...Array.from({ length: n }, (_, i) => `run ${i + 1}`), "median"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.filter((r) => r.length === header.length).map((r) => r[i].length)));
  const fmt = (r) => (r.length === header.length ? r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ") : `${r[0].padEnd(widths[0])}  ${r[1]}`);
  return [fmt(header), ...rows.map(fmt)].join("\n");
}

// --- main ---

async function main() {
  let args;
  try {
    args = parseArgs({
      options: {
        repeat: { type: "string", default: "1" },
        only: { type: "string", multiple: true },
        busy: { type: "string", default: "sleep" },
        "quiet-wait": { type: "string", default: "180" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    say(`hpc-figures: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const repeat = Number(args.repeat);
  const quietWait = Number(args["quiet-wait"]);
  const selected = args.only ? args.only.flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean) : FIGURES;
  const bad = selected.find((f) => !FIGURES.includes(f));
  if (!Number.isInteger(repeat) || repeat < 1 || bad || !["sleep", "spin"].includes(args.busy) || !(quietWait >= 0)) {
    say(`hpc-figures: bad arguments${bad ? ` (unknown measurement "${bad}")` : ""}\n${USAGE}`);
    return 2;
  }
  const status = spawnSync(join(ROOT, "tools/test-cluster.sh"), ["status"], { encoding: "utf8" });
  if (status.status !== 0) {
    say(`hpc-figures: the test cluster is not up (tools/test-cluster.sh status exited ${status.status}); start it with tools/test-cluster.sh start\n${status.stdout}${status.stderr}`);
    return 1;
  }
  if (!existsSync(join(ROOT, "packages/core/dist/index.js")) || !existsSync(join(ROOT, "packages/backend-pbs/dist/index.js")) || !existsSync(join(ROOT, "packages/worker/dist/bin.js"))) {
    say("hpc-figures: build first: npx nx run-many -t build --outputStyle=static");
    return 1;
  }

  const date = new Date().toISOString();
  say(`hpc-figures: ${selected.join(", ")} × ${repeat}, busy tasks: ${args.busy}; temporary files in ${BASE}`);
  const byFigure = {};
  for (let i = 1; i <= repeat; i++) {
    for (const figure of selected) {
      if (interrupted) return 130;
      const quiet = await waitForQuiet(quietWait);
      say(`hpc-figures: ${figure} run ${i}/${repeat} (waited ${quiet.waitedS} s for a quiet machine: ${quiet.othersAtStart} other job(s) in squeue, CPU ${Math.round(quiet.cpuBusyAtStart * 100)} % busy) …`);
      const t0 = now();
      const record =
        figure === "scale48" ? await measureScale48(i) : figure === "failing" ? await measureFailing(i) : await measureInterrupted(figure, i, args.busy);
      const full = { ...record, date, othersAtStart: quiet.othersAtStart, cpuBusyAtStart: quiet.cpuBusyAtStart, wallS: seconds(t0) };
      if (interrupted) return 130;
      (byFigure[figure] ??= []).push(full);
      process.stdout.write(`${JSON.stringify(full)}\n`);
      // A run's processes must all be gone before the next one starts.
      const strays = processesWith(join(BASE, `${figure}-${i}`));
      if (strays.length > 0) problems.push(`${figure} run ${i}: ${strays.length} process(es) left: ${strays.map((p) => `${p.pid} ${p.cmd}`).join("; ")}`);
    }
  }
  if (interrupted) return 130;
  for (const [figure, records] of Object.entries(byFigure)) process.stdout.write(`${JSON.stringify(summarise(figure, records))}\n`);
  say("");
  say(`Skein HPC figures, ${date}, one-machine Slurm with Torque wrappers, ${availableParallelism()} cores; median of ${repeat} run(s)`);
  say(table(byFigure));
  return problems.length > 0 ? 1 : 0;
}

/** Whatever happens: no child, no job, no process of ours, no temporary file left. */
async function cleanUp() {
  for (const pgid of children) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // gone
    }
  }
  const ids = new Set([...started, ...ledgerJobs(STATE_DIR)]);
  try {
    await cancelLeftovers(ids, "at the end");
    const still = await squeueAlive([...ids]);
    if (still.length > 0) problems.push(`at the end: still in squeue after scancel: ${still.map((j) => j.id).join(", ")}`);
  } catch (error) {
    problems.push(`at the end: could not check squeue: ${error.message}`);
  }
  let strays = processesWith(BASE);
  for (let waited = 0; strays.length > 0 && waited < 10_000; waited += 250) {
    await sleep(250);
    strays = processesWith(BASE);
  }
  if (strays.length > 0) {
    problems.push(`at the end: ${strays.length} process(es) of this tool left; killed: ${strays.map((p) => `${p.pid} ${p.cmd}`).join("; ")}`);
    for (const p of strays) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
  rmSync(BASE, { recursive: true, force: true });
  if (problems.length > 0) say(`\nhpc-figures: problems:\n${problems.map((p) => `- ${p}`).join("\n")}`);
}

if (process.env.HPC_FIGURES_CHILD && process.argv.includes("--child")) {
  await childMain(JSON.parse(process.env.HPC_FIGURES_CHILD));
} else {
  // Skein's ledger (jobs of a client that died) goes under this run's directory, and every job and
  // worker inherits the variable: that is how leftover processes are recognised.
  BASE = mkdtempSync(join(tmpdir(), "skein-hpc-figures-"));
  STATE_DIR = join(BASE, "state");
  process.env.SKEIN_STATE_DIR = STATE_DIR;
  const onSignal = async (signal) => {
    if (interrupted) return;
    interrupted = true;
    say(`hpc-figures: ${signal}: cleaning up`);
    await cleanUp();
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let code = 1;
  try {
    code = await main();
  } catch (error) {
    say(`hpc-figures: ${error?.stack ?? error}`);
  } finally {
    if (!interrupted) await cleanUp();
  }
  // After a signal, its handler finishes the clean-up and exits.
  if (!interrupted) process.exit(code);
}
