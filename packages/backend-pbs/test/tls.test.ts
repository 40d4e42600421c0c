/**
 * `tls: true` on a batch cluster: the temporary certificate reaches the jobs as a 0600 file next to
 * the secret (named in the job script, never pasted into it), workers connect over wss:// and move
 * data between each other over TLS, and close removes the file.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, expect, it } from "vitest";
import { Client, createCluster, type Cluster } from "@skein/core";
import { describeOnTestCluster, squeueNames } from "./helpers.js";

describeOnTestCluster("a pbs cluster with tls: true", () => {
  let cluster: Cluster | undefined;
  let client: Client | undefined;
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skein-pbs-tls-"));
  });
  afterEach(async () => {
    await client?.close().catch(() => undefined);
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("hands the jobs the certificate file, computes over wss://, and removes the file at close", async () => {
    cluster = await createCluster(
      { backend: "pbs", name: "tlsjobs", shebang: "#!/bin/tcsh", cores: 2, processes: 2, interface: "lo", tls: true, sharedDirectory: dir },
      { cwd: dir, env: {}, userConfigDir: join(dir, "none") },
    );
    const script = cluster.jobScript();
    const tlsFile = /SKEIN_TLS_FILE=(\S+)/.exec(script)?.[1]?.replace(/^'|'$/g, "");
    expect(tlsFile).toBeDefined();
    expect(tlsFile?.startsWith(dir)).toBe(true);
    expect(script).not.toContain("PRIVATE KEY");
    expect(statSync(tlsFile as string).mode & 0o777).toBe(0o600);
    expect(readFileSync(tlsFile as string, "utf8")).toContain("BEGIN CERTIFICATE");

    await cluster.scale(4);
    await cluster.waitForWorkers(4, { timeout: 90_000 });
    expect(cluster.schedulerAddress).toMatch(/^wss:\/\//);
    for (const worker of cluster.workers) expect(worker.address).toMatch(/^wss:\/\//);
    client = await Client.connect(cluster);
    const A = client.map((x: number) => Array.from({ length: 400 }, () => x * 2), Array.from({ length: 48 }, () => 1));
    const B = client.map((xs: number[]) => -xs[0]!, A);
    expect(await client.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), B).result()).toBe(-96);

    await client.close();
    client = undefined;
    await cluster.close();
    cluster = undefined;
    expect(existsSync(tlsFile as string)).toBe(false);
    expect(squeueNames().filter((n) => n === "tlsjobs")).toEqual([]);
  }, 120_000);
});
