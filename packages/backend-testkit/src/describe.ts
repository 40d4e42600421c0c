/**
 * `describeBackendConformance(name, options)`: the tests every ClusterBackend must pass, on the
 * real system. Gated by `requireService`: in CI a missing service fails, elsewhere it skips with
 * one line saying how to enable it.
 */
import { describe } from "vitest";
import { arrayTests } from "./arrays.js";
import { cancelTests } from "./cancel.js";
import { closeTests } from "./close-leaves-nothing.js";
import { failedJobTests } from "./failed-job.js";
import { useHarness } from "./harness.js";
import { multiNodeTests } from "./multi-node.js";
import { resolveConformanceOptions, type ConformanceOptions } from "./options.js";
import { requireService } from "./require-service.js";
import { scaleTests } from "./scale.js";
import { submitStatusTests } from "./submit-status.js";

export function describeBackendConformance(name: string, options: ConformanceOptions): void {
  const gate = requireService(options.service);
  if (gate.skip) console.warn(gate.reason);
  describe.skipIf(gate.skip)(`${name}: backend conformance`, () => {
    const ctx = useHarness(resolveConformanceOptions(options));
    submitStatusTests(ctx);
    cancelTests(ctx);
    failedJobTests(ctx);
    scaleTests(ctx);
    closeTests(ctx);
    arrayTests(ctx);
    multiNodeTests(ctx);
    options.additionalTests?.(ctx);
  });
}
