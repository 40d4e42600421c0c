import { describe, expect, it } from "vitest";
import { AdaptivePolicy } from "./adaptive.js";

describe("adaptive policy", () => {
  it("asks for enough workers to finish the work in the target duration", () => {
    const policy = new AdaptivePolicy({ maximum: 100, targetDuration: 5 });
    expect(policy.target({ pendingTasks: 1000, estimatedSeconds: 100 })).toBe(20);
    expect(policy.target({ pendingTasks: 3, estimatedSeconds: 100 })).toBe(3);
    expect(policy.target({ pendingTasks: 50, estimatedSeconds: 0.01 })).toBe(1);
    expect(policy.target({ pendingTasks: 0, estimatedSeconds: 0 })).toBe(0);
  });

  it("keeps one worker while results are held", () => {
    const policy = new AdaptivePolicy({ maximum: 5 });
    expect(policy.target({ pendingTasks: 0, estimatedSeconds: 0, holdsWantedResults: true })).toBe(1);
  });

  it("stays within minimum and maximum", () => {
    const policy = new AdaptivePolicy({ minimum: 2, maximum: 8 });
    expect(policy.target({ pendingTasks: 0, estimatedSeconds: 0 })).toBe(2);
    expect(policy.target({ pendingTasks: 10_000, estimatedSeconds: 10_000 })).toBe(8);
  });

  it("scales up at once and down only after waitCount decisions in a row", () => {
    const policy = new AdaptivePolicy({ maximum: 10, waitCount: 3 });
    const busy = { pendingTasks: 100, estimatedSeconds: 50 };
    const idle = { pendingTasks: 0, estimatedSeconds: 0 };
    expect(policy.decide(busy, 0)).toBe(10);
    expect(policy.decide(idle, 10)).toBe(10);
    expect(policy.decide(idle, 10)).toBe(10);
    expect(policy.decide(busy, 10)).toBe(10);
    expect(policy.decide(idle, 10)).toBe(10);
    expect(policy.decide(idle, 10)).toBe(10);
    expect(policy.decide(idle, 10)).toBe(0);
  });
});
