import { describe, expect, it } from "vitest";
import { DEFAULT_MEMORY_THRESHOLDS, parseMemoryFraction, resolveMemoryThresholds } from "./memory-thresholds.js";
import { parseMemoryFlags } from "./worker-cli.js";

describe("memory thresholds", () => {
  it("default to Dask's 0.6 / 0.7 / 0.8 / 0.95", () => {
    expect(resolveMemoryThresholds()).toEqual({ target: 0.6, spill: 0.7, pause: 0.8, terminate: 0.95 });
    expect(resolveMemoryThresholds({ pause: false, target: 0.5 })).toEqual({ ...DEFAULT_MEMORY_THRESHOLDS, pause: false, target: 0.5 });
  });

  it.each([
    [0.7, 0.7],
    ["0.7", 0.7],
    [1, 1],
    ["false", false],
    [false, false],
  ])("%j → %j", (value, expected) => {
    expect(parseMemoryFraction(value, "--memory-spill")).toBe(expected);
  });

  it.each([0, -0.1, 1.5, "70%", "", true, null, Number.NaN])("rejects %j, naming the flag and the way out", (value) => {
    expect(() => parseMemoryFraction(value, "--memory-spill")).toThrowError(
      expect.objectContaining({ code: "SKEIN_ERR_BAD_OPTION", message: expect.stringMatching(/--memory-spill must be a fraction .* or false to turn it off; got/) }),
    );
  });

  it("come from the worker's flags (as cac parses them), absent ones left to the defaults", () => {
    expect(parseMemoryFlags({ memoryTarget: "false", memorySpill: 0.5, memoryPause: false })).toEqual({ target: false, spill: 0.5, pause: false });
    expect(parseMemoryFlags({})).toEqual({});
    expect(() => parseMemoryFlags({ memoryTerminate: true })).toThrow(/--memory-terminate must be a fraction/);
  });
});
