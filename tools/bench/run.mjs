#!/usr/bin/env node
// Skein benchmark suite. `npm run bench -- [--quick] [--only a,b] [--repeat N] [--compare dask]`
// One JSON line per benchmark and system on stdout, a table on stderr, everything in bench/results/.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runIsolated, waitForQuiet } from "./lib/processes.mjs";

const BENCHES = ["throughput", "latency", "tree_reduce", "transfer", "scheduler_memory", "seed_chain", "cpu_bound", "many_workers", "large_graph"];
const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const ROOT = here("../../");

const USAGE = `usage: node tools/bench/run.mjs [--quick] [--only NAME[,NAME]] [--repeat N] [--compare dask]
  --quick          small sizes, for a CI smoke run
  --only NAMES     run only these (${BENCHES.join(", ")})
  --repeat N       run each benchmark N times; report the median and the min of each figure
  --compare dask   also run the same workloads on Python Dask distributed (default config and
                   worker-saturation=inf) and print Skein's ratio against the faster of the two`;

function fail(message) {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string", multiple: true },
      repeat: { type: "string", default: "1" },
      compare: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  }).values;
} catch (error) {
  fail(error.message);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const repeat = Number(args.repeat);
if (!Number.isInteger(repeat) || repeat < 1) fail(`--repeat needs a whole number ≥ 1, got ${args.repeat}`);
if (args.compare !== undefined && args.compare !== "dask") fail(`--compare knows only "dask", got "${args.compare}"`);
const selected = args.only ? args.only.flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean) : BENCHES;
for (const name of selected) if (!BENCHES.includes(name)) fail(`unknown benchmark "${name}"`);
const size = args.quick ? "quick" : "full";
const timeoutMs = args.quick ? 120_000 : 600_000;
const quietWaitMs = 30_000;

const say = (line = "") => process.stderr.write(`${line}\n`);

// --- Python Dask, if asked for and present ---

function findDask() {
  const candidates = [process.env.BENCH_PYTHON, "python3", "/usr/bin/python3"].filter(Boolean);
  for (const python of [...new Set(candidates)]) {
    try {
      const out = execFileSync(python, ["-c", "import json, sys, dask, distributed; print(json.dumps([distributed.__version__, sys.version.split()[0]]))"], {
        stdio: ["ignore", "pipe", "ignore"],
        encoding: "utf8",
      });
      const [version, pythonVersion] = JSON.parse(out);
      return { python, version, pythonVersion };
    } catch {
      // next candidate
    }
  }
  return undefined;
}

let dask;
if (args.compare === "dask") {
  dask = findDask();
  if (!dask) say("bench: Python Dask not found (no python3 with `distributed`; apt-get install -y python3-distributed): skipping the comparison");
}

// --- systems ---

function daskEnv(saturation) {
  // No __pycache__ in the tree; BENCH_NODE: the transfer benchmark measures raw loopback TCP with tools/bench/lib/loopback.mjs.
  const env = { ...process.env, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1", BENCH_NODE: process.execPath };
  delete env.DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION;
  if (saturation) env.DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION = saturation;
  return env;
}

const SYSTEMS = [
  {
    name: "skein",
    command: (bench, params) => [process.execPath, [here("./lib/child.mjs"), bench, JSON.stringify(params)]],
    env: process.env,
    // Skein promises a quiet stderr: show whatever it writes, as it happens.
    onStderr: (chunk) => process.stderr.write(String(chunk).replace(/^(?=.)/gm, "    | ")),
  },
  ...(dask
    ? [
        { name: "dask", command: (bench, params) => [dask.python, [here(`./dask/${bench}.py`), JSON.stringify(params)]], env: daskEnv(undefined) },
        { name: "dask-inf", command: (bench, params) => [dask.python, [here(`./dask/${bench}.py`), JSON.stringify(params)]], env: daskEnv("inf") },
      ]
    : []),
];

// --- running ---

const modules = Object.fromEntries(await Promise.all(selected.map(async (name) => [name, await import(`./skein/${name}.mjs`)])));

async function runOnce(system, bench, params, timeoutMs) {
  const [command, argv] = system.command(bench, params);
  // Other people's work on a shared machine skews every figure: give it a moment to pass (not in --quick).
  const busy = await waitForQuiet({ maxWaitMs: args.quick ? 0 : quietWaitMs });
  const t0 = performance.now();
  const r = await runIsolated(command, argv, { env: system.env, timeoutMs, onStderr: system.onStderr });
  const seconds = (performance.now() - t0) / 1000;
  if (r.interrupted) {
    say(`bench: ${r.interrupted}: stopped ${bench} (${system.name})${r.leftovers.length ? `, killed ${r.leftovers.length} leftover process(es)` : ""}`);
    process.exit(r.interrupted === "SIGINT" ? 130 : 143);
  }
  const problems = [];
  if (r.timedOut) problems.push(`timed out after ${timeoutMs / 1000} s (hang?)`);
  else if (r.code !== 0) problems.push(`exited with ${r.code ?? r.signal}`);
  if (r.leftovers.length > 0) problems.push(`left ${r.leftovers.length} process(es) running 5 s after exit (killed now):\n      ${r.leftovers.join("\n      ")}`);
  let figures;
  const line = r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
  if (line) {
    try {
      figures = JSON.parse(line);
    } catch {
      problems.push(`printed a line that is not JSON: ${line}`);
    }
  } else if (problems.length === 0) problems.push("printed no figures");
  if (problems.length > 0 && system.name !== "skein") {
    const tail = r.stderr.trim().split("\n").slice(-15).join("\n      ");
    if (tail) problems.push(`stderr (last lines):\n      ${tail}`);
  }
  if (figures && busy !== undefined) figures.cpu_busy_before = Number(busy.toFixed(2));
  return { figures, problems, seconds, busy, aliveAtExit: r.aliveAtExit };
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const startedAt = new Date();
const commitAtStart = tryGit("rev-parse", "--short", "HEAD"); // HEAD only: the build is of the work tree
const load = os.loadavg()[0];
say(`Skein benchmarks (${size}${repeat > 1 ? `, ${repeat} runs each` : ""}): ${selected.join(", ")}${dask ? ` — vs Dask ${dask.version}` : ""}`);
if (load > 0.5) say(`bench: note: load average is ${load.toFixed(2)} before starting; other work on these ${os.cpus().length} cores skews the figures`);

const results = []; // { bench, system, ...figures } as printed
const allRuns = []; // every run's own figures, for the results file
const failures = [];
for (const bench of selected) {
  const module = modules[bench];
  const params = module.params[size];
  // A module may need longer than the default limit (large_graph), or be worth only one run at any --repeat.
  const benchTimeoutMs = module.timeoutS?.[size] ? module.timeoutS[size] * 1000 : timeoutMs;
  const benchRepeat = Math.min(repeat, module.maxRepeat ?? repeat);
  const runs = Object.fromEntries(SYSTEMS.map((s) => [s.name, []]));
  const broken = new Set();
  for (let i = 0; i < benchRepeat; i++) {
    // Round-robin over systems, so drift on a shared machine hits all of them alike.
    for (const system of SYSTEMS) {
      if (broken.has(system.name)) continue;
      const label = `${bench} · ${system.name}${benchRepeat > 1 ? ` · run ${i + 1}/${benchRepeat}` : ""}`;
      const { figures, problems, seconds, busy } = await runOnce(system, bench, params, benchTimeoutMs);
      if (problems.length > 0) {
        say(`  ${label}: FAILED — ${problems.join("; ")}`);
        failures.push({ bench, system: system.name, problems });
        broken.add(system.name);
        continue;
      }
      runs[system.name].push(figures);
      const shown = Object.keys(module.figures).map((f) => `${f}=${figures[f]}`).join(" ");
      const noisy = busy !== undefined && busy > 0.25 ? `; CPUs ${Math.round(busy * 100)} % busy before it started: noisy` : "";
      say(`  ${label}: ${shown}  (${seconds.toFixed(1)} s${noisy})`);
    }
  }
  for (const system of SYSTEMS) {
    const list = runs[system.name];
    if (list.length === 0 || broken.has(system.name)) continue;
    // Details (wall_s, task times, …) come from the run whose first figure is the median one.
    const first = Object.keys(module.figures)[0];
    const byFirst = [...list].sort((a, b) => a[first] - b[first]);
    const row = { bench, system: system.name, ...byFirst[(byFirst.length - 1) >> 1] };
    for (const figure of Object.keys(module.figures)) {
      const values = list.map((r) => r[figure]);
      row[figure] = median(values);
      if (list.length > 1) {
        row[`${figure}_median`] = median(values);
        row[`${figure}_min`] = Math.min(...values);
      }
    }
    row.runs = list.length;
    row.params = params;
    results.push(row);
    allRuns.push(...list.map((figures, i) => ({ bench, system: system.name, run: i + 1, ...figures })));
    process.stdout.write(`${JSON.stringify(row)}\n`);
  }
}

// --- ratios against the faster Dask variant ---

const ratios = [];
if (dask) {
  for (const bench of selected) {
    const skein = results.find((r) => r.bench === bench && r.system === "skein");
    const daskRows = results.filter((r) => r.bench === bench && r.system.startsWith("dask"));
    if (!skein || daskRows.length === 0) continue;
    const row = { bench, system: "ratio", note: "Skein vs the faster Dask variant; > 1 means Skein is better (for times: dask / skein)" };
    for (const [figure, { better }] of Object.entries(modules[bench].figures)) {
      const best = daskRows.reduce((a, b) => ((better === "higher" ? b[figure] > a[figure] : b[figure] < a[figure]) ? b : a));
      row[figure] = Number((better === "higher" ? skein[figure] / best[figure] : best[figure] / skein[figure]).toPrecision(3));
      row[`${figure}_vs`] = best.system;
    }
    ratios.push(row);
    process.stdout.write(`${JSON.stringify(row)}\n`);
  }
}

// --- table ---

function fmt(x) {
  if (x === undefined) return "—";
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  return Number(x.toPrecision(3)).toString();
}
const header = ["bench", "figure", "skein", ...(dask ? ["dask", "dask-inf", "skein vs best dask"] : [])];
const rows = [];
for (const bench of selected) {
  for (const [figure, { better }] of Object.entries(modules[bench].figures)) {
    const get = (system) => results.find((r) => r.bench === bench && r.system === system);
    const cell = (system) => {
      const r = get(system);
      if (!r) return failures.some((f) => f.bench === bench && f.system === system) ? "FAILED" : "—";
      // completed: false — a run that stopped at its time budget (large_graph): a rate over the tasks done.
      const partial = r.completed === false ? " (partial)" : "";
      return (r.runs > 1 ? `${fmt(r[figure])} (min ${fmt(r[`${figure}_min`])})` : fmt(r[figure])) + partial;
    };
    const ratio = ratios.find((r) => r.bench === bench);
    const ratioCell = ratio ? `${fmt(ratio[figure])}× vs ${ratio[`${figure}_vs`]}${better === "lower" ? " (dask/skein)" : ""}` : "—";
    rows.push([bench, figure, cell("skein"), ...(dask ? [cell("dask"), cell("dask-inf"), ratioCell] : [])]);
  }
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
say();
say(line(header));
say(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) say(line(r));
say();
say(
  `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, Node ${process.version}, 2 worker processes × 1 thread${repeat > 1 ? `; median (min) of ${repeat} runs` : ""}; ` +
    `load average ${load.toFixed(1)} at start, ${os.loadavg()[0].toFixed(1)} at end`,
);
if (dask) say(`Ratios: Skein against the faster of Dask default / worker-saturation=inf; > 1 means Skein is better (for times, dask/skein).`);

// --- results file ---

function tryGit(...gitArgs) {
  try {
    return execFileSync("git", gitArgs, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}
const record = {
  date: startedAt.toISOString(),
  argv: process.argv.slice(2),
  size,
  repeat,
  machine: {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    loadavg_at_start: load,
    loadavg_at_end: os.loadavg()[0],
  },
  versions: {
    node: process.version,
    skein: JSON.parse(readFileSync(here("../../packages/core/package.json"), "utf8")).version,
    commit: commitAtStart,
    ...(dask ? { dask_distributed: dask.version, python: dask.pythonVersion } : {}),
  },
  results,
  ratios,
  failures,
  runs: allRuns,
};
const dir = here("../../bench/results/");
mkdirSync(dir, { recursive: true });
const file = `${dir}${startedAt.toISOString().replaceAll(":", "-").replace(/\.\d+Z$/, "Z")}.json`;
writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
say(`Results: ${file.slice(ROOT.length)}`);

if (failures.length > 0) {
  say(`\nbench: ${failures.length} run(s) FAILED: ${failures.map((f) => `${f.bench}/${f.system}`).join(", ")}`);
  process.exitCode = 1;
}
