import { describe, expect, it } from "vitest";
import { buildJobSpec, buildSchedulerJobSpec } from "./job-spec.js";
import { resolveClusterSettings } from "./cluster-options.js";

describe("cluster settings", () => {
  it("has laptop defaults", () => {
    expect(resolveClusterSettings({})).toMatchObject({ backend: "local", name: "skein", cores: 1, processes: 1, threadsPerWorker: 1, deathTimeoutSeconds: 60, schedulerPort: 0 });
  });

  it("converts the reference scenario's units exactly", () => {
    const s = resolveClusterSettings({ name: "exDaskCluster", cores: 12, processes: 12, memory: "32GB", walltime: "00:20:00", interface: "ib0" });
    expect(s).toMatchObject({ threadsPerWorker: 1, memoryBytes: 32e9, memoryPerWorkerBytes: Math.floor(32e9 / 12), walltimeSeconds: 1200 });
    expect(resolveClusterSettings({ memory: "32GiB", processes: 2, cores: 2 }).memoryPerWorkerBytes).toBe(16 * 2 ** 30);
  });

  it("gives cores / processes threads to each worker", () => {
    expect(resolveClusterSettings({ cores: 12, processes: 3 }).threadsPerWorker).toBe(4);
  });

  it("rejects job names batch systems would choke on", () => {
    expect(() => resolveClusterSettings({ name: "my cluster" })).toThrow(/option "name" .* must be 1-63 letters/);
  });

  it("accepts the prologue as one line or many", () => {
    expect(resolveClusterSettings({ jobScriptPrologue: "module load node" }).prologue).toEqual(["module load node"]);
  });
});

describe("job specs", () => {
  it("start the worker supervisor with the cluster's shape, never with the secret", () => {
    const settings = resolveClusterSettings({ name: "exDaskCluster", cores: 12, processes: 12, memory: "32GB", interface: "ib0", workerExtraArgs: ["--resources", "GPU=1"] });
    const spec = buildJobSpec(settings, { index: 3, schedulerAddress: "ws://10.0.0.1:8786", secret: "s3cret", workerCommand: ["/usr/bin/node", "/opt/w/bin.js"] });
    expect(spec.workerArgs).toEqual([
      "ws://10.0.0.1:8786",
      "--nworkers",
      "12",
      "--nthreads",
      "1",
      "--name",
      "exDaskCluster-3",
      "--death-timeout",
      "60",
      "--memory-limit",
      String(Math.floor(32e9 / 12)),
      "--interface",
      "ib0",
      "--resources",
      "GPU=1",
    ]);
    expect(spec.workerArgs.join(" ")).not.toContain("s3cret");
    expect(spec).toMatchObject({ name: "exDaskCluster", workerProcesses: 12, cores: 12, memoryBytes: 32e9 });
  });
});

describe("tls and allowedModules", () => {
  it("read tls as true or the user's three files (made absolute), and refuse anything else", () => {
    expect(resolveClusterSettings({ tls: true }).tls).toBe(true);
    expect(resolveClusterSettings({ tls: false }).tls).toBeUndefined();
    expect(resolveClusterSettings({ tls: { cert: "/etc/c.pem", key: "/etc/k.pem", ca: "/etc/ca.pem", checkServerNames: false } }).tls).toEqual({ cert: "/etc/c.pem", key: "/etc/k.pem", ca: "/etc/ca.pem", checkServerNames: false });
    expect(() => resolveClusterSettings({ tls: "yes" as never })).toThrow(/option "tls" .* must be true, false, or \{ cert, key, ca \}/);
    expect(() => resolveClusterSettings({ tls: { cert: "/c.pem" } as never })).toThrow(/option "tls"/);
  });

  it("give the workers TLS through the environment and the allow-list on their command line", () => {
    const settings = resolveClusterSettings({ allowedModules: ["/shared/lab", "@lab/sim"], env: { A: "1" } });
    const spec = buildJobSpec(settings, { index: 0, schedulerAddress: "wss://h:1", secret: "s", workerCommand: ["node", "w.js"], tlsEnv: { SKEIN_TLS_FILE: "/home/u/.skein/c/tls.pem" } });
    expect(spec.workerArgs.join(" ")).toContain("--allowed-modules /shared/lab,@lab/sim");
    expect(spec.env).toEqual({ A: "1", SKEIN_TLS_FILE: "/home/u/.skein/c/tls.pem" });
    expect(() => resolveClusterSettings({ allowedModules: [] })).toThrow(/option "allowedModules" .* must not be empty/);
    expect(() => resolveClusterSettings({ allowedModules: ["./lab"] })).toThrow(/option "allowedModules.0" .* not relative paths, got ".\/lab"/);
  });
});

describe("queue caps and launchers", () => {
  it("validates maxJobs, maxQueuedJobs and workerLauncher", () => {
    expect(resolveClusterSettings({ maxJobs: 4, maxQueuedJobs: 2, workerLauncher: ["srun", "--ntasks=1"] })).toMatchObject({ maxJobs: 4, maxQueuedJobs: 2, workerLauncher: ["srun", "--ntasks=1"] });
    expect(() => resolveClusterSettings({ maxJobs: 0 })).toThrow(/option "maxJobs" .* must be at least 1/);
    expect(() => resolveClusterSettings({ workerLauncher: "srun" as never })).toThrow(/option "workerLauncher" .* must be an array of words/);
  });

  it("puts the launcher in front of the worker command", () => {
    const settings = resolveClusterSettings({ workerLauncher: ["srun", "--ntasks=1"] });
    const spec = buildJobSpec(settings, { index: 0, schedulerAddress: "ws://h:1", secret: "s", workerCommand: ["/usr/bin/node", "/opt/w/bin.js"] });
    expect(spec.workerCommand).toEqual(["srun", "--ntasks=1", "/usr/bin/node", "/opt/w/bin.js"]);
  });
});

describe("job arrays, nodes and the scheduler in a job (settings and specs)", () => {
  it("defaults to plain one-node jobs and an in-process scheduler", () => {
    expect(resolveClusterSettings({})).toMatchObject({ jobArrays: false, nodes: undefined, schedulerJob: undefined });
  });

  it("reads scheduler: { inJob } with its own cores, memory and walltime (else the cluster's walltime)", () => {
    expect(resolveClusterSettings({ walltime: "01:00:00", scheduler: { inJob: true } }).schedulerJob).toMatchObject({ cores: 1, walltimeSeconds: 3600, startTimeoutSeconds: 600, file: undefined });
    expect(resolveClusterSettings({ walltime: "01:00:00", scheduler: { inJob: true, walltime: "02:00:00", memory: "4GB", cores: 2, startTimeout: 30 } }).schedulerJob).toMatchObject({ cores: 2, memoryBytes: 4e9, walltimeSeconds: 7200, startTimeoutSeconds: 30 });
    expect(resolveClusterSettings({ scheduler: { inJob: false, cores: 4 } }).schedulerJob).toBeUndefined();
    expect(() => resolveClusterSettings({ scheduler: { inJob: true, where: "login" } as never })).toThrow(/scheduler/);
    expect(() => resolveClusterSettings({ nodes: 0 })).toThrow(/nodes/);
  });

  it("points workers at the scheduler file instead of an address, and records the nodes per job", () => {
    const settings = resolveClusterSettings({ name: "c", cores: 4, processes: 2 });
    const spec = buildJobSpec(settings, { index: 3, schedulerAddress: "ws://h:1", schedulerFile: "/shared/c/scheduler.json", secret: "s", workerCommand: ["/usr/bin/node", "/w/bin.js"], nodes: 2 });
    expect(spec.workerArgs.slice(0, 4)).toEqual(["--scheduler-file", "/shared/c/scheduler.json", "--nworkers", "2"]);
    expect(spec.nodes).toBe(2);
    expect(buildJobSpec(settings, { index: 0, schedulerAddress: "ws://h:1", secret: "s", workerCommand: ["/usr/bin/node", "/w/bin.js"], nodes: 1 }).nodes).toBeUndefined();
  });

  it("builds the scheduler's job: skein scheduler with the file, the secret file and the cluster's interface", () => {
    const settings = resolveClusterSettings({ name: "c", interface: "ib0", walltime: "00:30:00", allowedFailures: 5, scheduler: { inJob: true, memory: "2GB" } });
    const spec = buildSchedulerJobSpec(settings, { secret: "the-cluster-secret", secretFile: "/shared/c/secret", schedulerFile: "/shared/c/scheduler.json", command: ["/usr/bin/node", "/cli/dist/cli.js"] });
    expect(spec).toMatchObject({ name: "c-scheduler", cores: 1, memoryBytes: 2e9, walltimeSeconds: 1800, secretFile: "/shared/c/secret", workerCommand: ["/usr/bin/node", "/cli/dist/cli.js"] });
    expect(spec.workerArgs).toEqual(["scheduler", "--scheduler-file", "/shared/c/scheduler.json", "--secret-file", "/shared/c/secret", "--port", "0", "--allowed-failures", "5", "--interface", "ib0", "--dashboard-port", "0", "--dashboard-host", "0.0.0.0"]);
    expect(spec.workerArgs.join(" ")).not.toContain("the-cluster-secret");
    const noInterface = buildSchedulerJobSpec(resolveClusterSettings({ name: "c", dashboard: false, scheduler: { inJob: true } }), { secret: "s", secretFile: "/f", schedulerFile: "/g", command: ["n", "c"] });
    expect(noInterface.workerArgs.slice(-3)).toEqual(["--host", "0.0.0.0", "--no-dashboard"]);
  });
});
