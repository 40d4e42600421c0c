import { mergeConfig } from "vitest/config";
import { sharedConfig } from "../../vitest.shared.js";

export default mergeConfig(sharedConfig, {
  test: {
    // Real processes on a 2-core machine: one file at a time keeps timings sane.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // `global.gc` for the test that shows dropped futures free their results.
    execArgv: ["--expose-gc"],
  },
});
