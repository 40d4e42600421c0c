import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

describe("the example script", () => {
  it("runs the reference scenario through the custom backend module", () => {
    const main = fileURLToPath(new URL("../dist/main.js", import.meta.url));
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
    delete env.FORCE_COLOR;
    expect(execFileSync(process.execPath, [main], { encoding: "utf8", env })).toBe("-96\n");
  });

  it("rejects a bad option with its source", async () => {
    const { createBackend } = await import("../src/spawn-backend.js");
    expect(() => createBackend({ niceness: 42 }, { sourceOf: () => "skein.config.yaml", baseDir: "." })).toThrow(/option "niceness" from skein.config.yaml must be a whole number from 0 to 19, got 42/);
  });
});
