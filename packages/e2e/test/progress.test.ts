/** `progress(futures)`: plain lines in logs and CI, live bars on a terminal (checked in a real tmux pane). */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { progress, type Client } from "@skein/core";
import { expectNoProcessesLeft, startLocal, TEST_MARK, until, type LocalSetup } from "./helpers.js";

let setup: LocalSetup;
let client: Client;
beforeAll(async () => {
  setup = await startLocal(2);
  client = setup.client;
});
afterAll(async () => {
  await setup?.close();
  await expectNoProcessesLeft();
});

describe("progress in plain lines", () => {
  it("reports each task group when it is done, counting failures, and resolves without throwing", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (c: Buffer) => (text += c.toString()));
    const multiply = (x: number) => x * 2;
    const check = (x: number) => {
      if (x > 14) throw new Error(`too big: ${x}`);
      return x;
    };
    const A = client.map(multiply, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const B = client.map(check, A);
    const summary = await progress([A, B], { stream: out, mode: "lines" });
    expect(summary).toEqual({ multiply: { total: 10, finished: 10, errors: 0, cancelled: 0 }, check: { total: 10, finished: 7, errors: 3, cancelled: 0 } });
    expect(text).toContain("[skein] multiply 10/10 done\n");
    expect(text).toContain("[skein] check 10/10 (3 failed) done\n");
  });

  it("rejects an unknown mode", async () => {
    await expect(progress([], { mode: "fancy" as never })).rejects.toThrow(/mode must be "auto", "bar" or "lines"/);
  });
});

describe("progress on a terminal", () => {
  const hasTmux = (() => {
    try {
      execFileSync("tmux", ["-V"]);
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!hasTmux && !process.env.CI)("draws live bars per task group, and one while waiting for workers, in a real pty", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skein-progress-"));
    const core = fileURLToPath(new URL("../../core/dist/index.js", import.meta.url));
    const script = join(dir, "bars.mjs");
    writeFileSync(
      script,
      `import { Client, createCluster, progress } from ${JSON.stringify(core)};
const cluster = await createCluster({ backend: "local" }, { env: {}, userConfigDir: "/nonexistent" });
await cluster.scale(2);
await cluster.waitForWorkers(2, { progress: true });
const client = await Client.connect(cluster);
const multiply = (x) => new Promise((r) => setTimeout(() => r(x * 2), 20));
const A = client.map(multiply, Array.from({ length: 48 }, (_, i) => i));
await progress(A);
await client.close();
await cluster.close();
process.stderr.write("\\nFINISHED\\n");
`,
    );
    const session = `skein-progress-${process.pid}`;
    // A pty of its own, outside CI, so the bars are drawn as a user would see them.
    execFileSync("tmux", ["new-session", "-d", "-s", session, "-x", "100", "-y", "20", `env -u CI SKEIN_TEST_MARK=${TEST_MARK} ${process.execPath} ${script}; sleep 30`]);
    try {
      const screen = await until(
        () => {
          const pane = execFileSync("tmux", ["capture-pane", "-p", "-t", session], { encoding: "utf8" });
          return pane.includes("FINISHED") ? pane : undefined;
        },
        { what: "the script to finish in tmux", timeout: 60_000 },
      );
      expect(screen).toMatch(/workers \|[█]+\| 2\/2/);
      expect(screen).toMatch(/multiply \|[█]+\| 48\/48/);
    } finally {
      execFileSync("tmux", ["kill-session", "-t", session]);
    }
  }, 90_000);
});
