import { describe, expect, it } from "vitest";
import { always, commandProblem, requireService, type ServiceProbe } from "./require-service.js";

const missing: ServiceProbe = { name: "Slurm with the Torque wrappers", check: () => "`qstat` could not run (ENOENT)" };

describe("requireService", () => {
  it("runs the tests when the probe finds the service", () => {
    expect(requireService(always, { CI: "true" })).toEqual({ skip: false });
  });

  it("fails in CI when the service is missing, saying what and how to start it", () => {
    expect(() => requireService(missing, { CI: "true" })).toThrow(
      "[skein-testkit] Slurm with the Torque wrappers is required in CI (CI=true) but `qstat` could not run (ENOENT). Run `tools/test-cluster.sh start` before the tests.",
    );
  });

  it.each([{}, { CI: "" }, { CI: "false" }, { CI: "0" }])("skips with one line elsewhere (%j)", (env) => {
    expect(requireService(missing, env)).toEqual({
      skip: true,
      reason: "[skein-testkit] skipping: Slurm with the Torque wrappers not available (`qstat` could not run (ENOENT)); run `tools/test-cluster.sh start` to enable these tests",
    });
  });
});

describe("commandProblem", () => {
  it("is undefined for a command that exits 0 and passes the check", () => {
    expect(commandProblem(["sh", "-c", "echo up"], (out) => (out.includes("up") ? undefined : "not up"))).toBeUndefined();
  });

  it("describes a missing command, a failing one, and output the check rejects", () => {
    expect(commandProblem(["skein-no-such-command"])).toBe("`skein-no-such-command` could not run (ENOENT)");
    expect(commandProblem(["sh", "-c", "echo 'slurm_load_partitions: Unable to contact slurm controller' >&2; exit 1"])).toBe(
      "`sh -c echo 'slurm_load_partitions: Unable to contact slurm controller' >&2; exit 1` exited 1: slurm_load_partitions: Unable to contact slurm controller",
    );
    expect(commandProblem(["sh", "-c", "echo down"], (out) => (out.includes("up") ? undefined : "no node is up"))).toBe("no node is up");
  });
});
