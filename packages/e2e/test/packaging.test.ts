/**
 * Each package installs alone from its tarball (`npm pack`), with no deep imports and no workspace
 * links: a user's `npm install @skein/core @skein/backend-local @skein/worker` must run the scenario.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { expectNoProcessesLeft, runNode, TEST_MARK } from "./helpers.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const PACKAGES = ["serialization", "transport", "scheduler", "worker", "core", "backend-local", "cli"];

describe("packaging", () => {
  it("installs from tarballs into an empty project and runs the reference scenario", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skein-pack-"));
    const tarballs = join(dir, "tarballs");
    mkdirSync(tarballs);
    for (const name of PACKAGES) {
      execFileSync("npm", ["pack", "-w", `@skein/${name}`, "--pack-destination", tarballs], { cwd: root, stdio: "pipe" });
    }
    const files = readdirSync(tarballs);
    expect(files).toHaveLength(PACKAGES.length);
    for (const file of files) {
      const listing = execFileSync("tar", ["tzf", join(tarballs, file)], { encoding: "utf8" });
      // Only what users need: built code, types and the README.
      expect(listing).toContain("package/dist/index.js");
      expect(listing).toContain("package/dist/index.d.ts");
      expect(listing).toContain("package/README.md");
      expect(listing).not.toMatch(/package\/src\/|\.test\.|tsconfig/);
    }
    const app = join(dir, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    execFileSync("npm", ["install", "--no-audit", "--no-fund", ...files.map((f) => join(tarballs, f))], { cwd: app, stdio: "pipe" });
    writeFileSync(
      join(app, "main.mjs"),
      `import { Client, createCluster } from "@skein/core";
const cluster = await createCluster();
await cluster.scale(2);
const client = await Client.connect(cluster);
const A = client.map((x) => x * 2, Array(48).fill(1));
const B = client.map((x) => -x, A);
console.log(await client.submit((xs) => xs.reduce((a, b) => a + b, 0), B).result());
await client.close();
await cluster.close();
`,
    );
    const result = await runNode([join(app, "main.mjs")], { cwd: app, env: { SKEIN_TEST_MARK: TEST_MARK } });
    expect(result).toMatchObject({ code: 0, stdout: "-96\n", stderr: "" });
    const help = execFileSync(join(app, "node_modules", ".bin", "skein"), ["--help"], { encoding: "utf8" });
    expect(help).toContain("job-script");
    await expectNoProcessesLeft();
  }, 180_000);
});
