// Running one benchmark in its own process group, with a time limit, and proving nothing is left behind.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

/** Live processes in process group `pgid` (from /proc), as "pid command" strings. */
export function groupMembers(pgid) {
  const members = [];
  let entries = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return members; // not Linux: nothing to inspect
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // fields[0] = state, [1] = ppid, [2] = pgrp
      if (Number(fields[2]) !== pgid || fields[0] === "Z") continue;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      members.push(`${entry} ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return members;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // group already empty
  }
}

/**
 * Run `command args` detached (its own process group). Resolves with
 * { code, signal, stdout, stderr, timedOut, leftovers, aliveAtExit, interrupted }: aliveAtExit counts processes of the
 * group alive the moment the command exited, leftovers lists those still alive 5 s later (they are then
 * killed: they were started by this run).
 */
export async function runIsolated(command, args, { env = process.env, timeoutMs, graceMs = 15_000, onStderr } = {}) {
  const child = spawn(command, args, { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const pgid = child.pid;
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => {
    stderr += d;
    onStderr?.(d);
  });
  let timedOut = false;
  const exited = new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal }));
  });
  // Ctrl-C on the runner: stop this benchmark's whole group too (it is detached, so the terminal's
  // SIGINT does not reach it), then let the caller stop.
  let interrupted;
  const onSigint = (signal) => {
    interrupted = signal;
    signalGroup(pgid, "SIGTERM");
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  const timer = setTimeout(async () => {
    timedOut = true;
    signalGroup(pgid, "SIGTERM"); // Skein's exit hooks cancel the workers; Dask's nannies follow their parent
    await sleep(graceMs);
    signalGroup(pgid, "SIGKILL");
  }, timeoutMs);
  let result;
  try {
    result = await exited;
  } finally {
    clearTimeout(timer);
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
  // Workers get a moment to notice that their parent is gone before we call them strays.
  const atExit = groupMembers(pgid);
  let leftovers = atExit;
  for (let waited = 0; leftovers.length > 0 && waited < 5_000; waited += 250) {
    await sleep(250);
    leftovers = groupMembers(pgid);
  }
  if (leftovers.length > 0) {
    signalGroup(pgid, "SIGKILL");
    await sleep(200);
  }
  return { ...result, stdout, stderr, timedOut, leftovers, aliveAtExit: atExit.length, interrupted };
}

/** Machine-wide CPU use (0–1, all cores) over `ms`, from /proc/stat; undefined where there is none. */
export async function cpuBusy(ms = 500) {
  const sample = () => {
    try {
      const [, ...fields] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
      const v = fields.map(Number);
      const idle = v[3] + (v[4] ?? 0); // idle + iowait
      return { idle, total: v.reduce((a, b) => a + b, 0) };
    } catch {
      return undefined;
    }
  };
  const a = sample();
  await sleep(ms);
  const b = sample();
  if (!a || !b || b.total === a.total) return undefined;
  return 1 - (b.idle - a.idle) / (b.total - a.total);
}

/**
 * On a shared machine, wait (up to `maxWaitMs`) until other work leaves the CPUs mostly idle, so a
 * benchmark does not start in the middle of someone's test run. Resolves with the last busy fraction.
 */
export async function waitForQuiet({ threshold = 0.25, maxWaitMs = 30_000 } = {}) {
  const deadline = Date.now() + maxWaitMs;
  let busy = await cpuBusy();
  while (busy !== undefined && busy > threshold && Date.now() < deadline) busy = await cpuBusy(1000);
  return busy;
}
