import { describe, expect, it } from "vitest";
import { parseModulePolicy, refusal } from "./module-policy.js";

describe("module policy", () => {
  const policy = parseModulePolicy(["/shared/code", "@lab/sim", "file:///opt/tools"])!;

  it("refuses functions sent by value, saying how to send them", () => {
    expect(refusal(policy, { kind: "source", name: "double" })).toMatch(/runs only functions by reference .* "double" was sent by value/);
  });

  it.each([
    ["file:///shared/code/sim.js", undefined],
    ["file:///shared/code/deep/x.mjs", undefined],
    ["file:///opt/tools/t.js", undefined],
    ["@lab/sim", undefined],
    ["@lab/sim/fast", undefined],
  ])("allows %s", (module, expected) => {
    expect(refusal(policy, { kind: "module", module })).toBe(expected);
  });

  it.each([
    ["file:///shared/codex/evil.js", /outside the allowed module roots/],
    ["file:///shared/code/../other/x.js", /outside the allowed module roots/],
    ["file:///tmp/x.js", /outside/],
    ["@lab/simulator", /not in the allowed modules/],
    ["node:child_process", /not in the allowed modules/],
    ["@lab/sim/../../evil", /not in the allowed modules/],
    ["data:text/javascript,export const f = () => 1", /not in the allowed modules/],
  ])("refuses %s", (module, pattern) => {
    expect(refusal(policy, { kind: "module", module })).toMatch(pattern);
  });

  it("is off without a list", () => {
    expect(parseModulePolicy(undefined)).toBeUndefined();
    expect(parseModulePolicy([])).toBeUndefined();
  });
});
