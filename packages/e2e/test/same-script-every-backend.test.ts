/**
 * The promise of configuration over code: the seed example, unchanged, on every backend. Only
 * SKEIN_* variables differ between the runs. Each run must print -96, exit 0, write nothing to
 * stderr and leave no job or worker behind.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { commandProblem, requireService, slurm, slurmTorqueWrappers, type ServiceProbe } from "@skein/backend-testkit";
import { expectNoProcessesLeft, runNode, TEST_MARK, until } from "./helpers.js";

const seed = fileURLToPath(new URL("../../../examples/seed/dist/main.js", import.meta.url));
const STATE = "/var/tmp/skein-test-cluster";
const sshKey = process.env.SKEIN_TEST_SSH_KEY ?? `${STATE}/ssh/id_ed25519`;
const knownHosts = process.env.SKEIN_TEST_SSH_KNOWN_HOSTS ?? `${STATE}/ssh/known_hosts`;
const sshTarget = `${process.env.SKEIN_TEST_SSH_USER ?? "root"}@${process.env.SKEIN_TEST_SSH_HOST ?? "127.0.0.1"}:${process.env.SKEIN_TEST_SSH_PORT ?? "2222"}`;

const loopbackSsh: ServiceProbe = {
  name: "the test cluster's loopback sshd",
  check: () => {
    if (!existsSync(sshKey)) return `no key at ${sshKey}`;
    const [user, rest] = sshTarget.split("@") as [string, string];
    const [host, port] = rest.split(":") as [string, string];
    return commandProblem(["ssh", "-p", port, "-i", sshKey, "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "ConnectTimeout=5", `${user}@${host}`, "true"]);
  },
};

/** Jobs named like ours still pending or running in Slurm. */
const slurmJobsNamed = (name: string) => execFileSync("squeue", ["--noheader", "--format=%j"], { encoding: "utf8" }).split("\n").filter((n) => n === name);

const cases: { backend: string; probe: ServiceProbe | undefined; env: Record<string, string>; batchName?: string }[] = [
  { backend: "local", probe: undefined, env: {} },
  { backend: "pbs", probe: slurmTorqueWrappers, env: { SKEIN_INTERFACE: "lo", SKEIN_NAME: "seedpbs" }, batchName: "seedpbs" },
  { backend: "slurm", probe: slurm, env: { SKEIN_INTERFACE: "lo", SKEIN_NAME: "seedslurm" }, batchName: "seedslurm" },
  { backend: "ssh", probe: loopbackSsh, env: { SKEIN_HOSTS: sshTarget, SKEIN_IDENTITY_FILE: sshKey, SKEIN_KNOWN_HOSTS_FILE: knownHosts } },
];

describe("the same script on every backend", () => {
  for (const { backend, probe, env, batchName } of cases) {
    const gate = probe ? requireService(probe) : { skip: false };
    if (gate.skip && "reason" in gate) console.warn(gate.reason);
    it.skipIf(gate.skip)(`examples/seed with SKEIN_BACKEND=${backend}`, async () => {
      const shared = mkdtempSync(join(tmpdir(), "skein-seed-shared-"));
      const result = await runNode([seed], {
        cwd: mkdtempSync(join(tmpdir(), "skein-seed-")),
        env: { SKEIN_TEST_MARK: TEST_MARK, SKEIN_BACKEND: backend, SKEIN_SHARED_DIRECTORY: shared, SKEIN_STATE_DIR: join(shared, "state"), ...env },
        timeout: 180_000,
      });
      expect(result).toMatchObject({ code: 0, stdout: "-96\n", stderr: "" });
      // The Torque wrappers report a job done (C) while Slurm still completes it (test-cluster.md).
      if (batchName) await until(() => slurmJobsNamed(batchName).length === 0, { what: `no ${batchName} job in squeue`, timeout: 60_000 });
      await expectNoProcessesLeft(30_000);
    }, 240_000);
  }
});
