/**
 * The reference scenario ends clean: exit 0, nothing on stderr, no worker left — also when the
 * script throws, and on SIGINT / SIGTERM. Each run is a real `node` process with real workers.
 */
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { expectNoProcessesLeft, processesWithMark, runNode, TEST_MARK } from "./helpers.js";

const scenario = fileURLToPath(new URL("./fixtures/scenario.mjs", import.meta.url));
const seed = fileURLToPath(new URL("../../../examples/seed/dist/main.js", import.meta.url));
const env = { SKEIN_TEST_MARK: TEST_MARK, SKEIN_LOG: "" };

describe("clean end", () => {
  afterEach(async () => {
    await expectNoProcessesLeft();
  });

  it("the seed example prints -96, exits 0 and writes nothing to stderr", async () => {
    const result = await runNode([seed], { env });
    expect(result).toMatchObject({ code: 0, stdout: "-96\n", stderr: "" });
    expect(processesWithMark()).toEqual([]);
  });

  it("a script that throws exits 1 with only its own error, and leaves no worker", async () => {
    const result = await runNode([scenario, "throw"], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("-96\n");
    expect(result.stderr).toContain("the user's script failed after computing");
    expect(result.stderr).not.toMatch(/cancel/i);
  });

  it("an unhandled rejection ends the script without a worker left behind", async () => {
    const result = await runNode([scenario, "unhandled"], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("unhandled in user code");
    expect(result.stderr).not.toMatch(/FutureCancelled|SKEIN_ERR/);
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`${signal} with 24 pending futures prints at most one line and stops every worker`, async () => {
      const result = await runNode([scenario, "wait"], {
        env,
        onStdout: (text, child) => {
          if (text.includes("ready")) child.kill(signal);
        },
      });
      expect(result.stdout).toBe("-96\nready\n");
      expect(result.code).toBe(signal === "SIGINT" ? 130 : 143);
      const lines = result.stderr.split("\n").filter(Boolean);
      expect(lines.length).toBeLessThanOrEqual(1);
      if (lines.length === 1) expect(lines[0]).toMatch(new RegExp(`^\\[skein\\] ${signal}: cancelled 4 jobs of skein$`));
    });
  }

  it("kill -9 of the client: its workers notice and exit by themselves", async () => {
    const result = await runNode([scenario, "wait"], {
      env,
      onStdout: (text, child) => {
        if (text.includes("ready")) child.kill("SIGKILL");
      },
    });
    expect(result.signal).toBe("SIGKILL");
    // The workers lost their scheduler (it lived in the killed process); afterEach checks they are gone.
  });
});
