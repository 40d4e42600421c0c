/**
 * The import direction in docs/architecture.md, enforced: a package may depend on (and import)
 * only the Skein packages below it, and only through their public entry points.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const packagesDir = fileURLToPath(new URL("../../", import.meta.url));

/** Who may use whom. Anything not listed is forbidden. */
const ALLOWED: Record<string, readonly string[]> = {
  "@skein/serialization": [],
  "@skein/transport": ["@skein/serialization"],
  "@skein/scheduler": ["@skein/serialization", "@skein/transport"],
  "@skein/worker": ["@skein/serialization", "@skein/transport"],
  "@skein/core": ["@skein/serialization", "@skein/transport", "@skein/scheduler"],
  "@skein/backend-testkit": ["@skein/core", "@skein/worker"],
  "@skein/cli": ["@skein/core", "@skein/scheduler", "@skein/transport", "@skein/worker", "@skein/serialization"],
};
/** Backends see core only (and depend on the worker package so that it is installed for their jobs). */
const BACKEND_ALLOWED = ["@skein/core", "@skein/worker", "@skein/backend-testkit"];

interface PackageInfo {
  name: string;
  dir: string;
  private: boolean;
  deps: string[];
}

function packages(): PackageInfo[] {
  return readdirSync(packagesDir)
    .filter((d) => statSync(join(packagesDir, d)).isDirectory())
    .map((d) => {
      const pkg = JSON.parse(readFileSync(join(packagesDir, d, "package.json"), "utf8")) as {
        name: string;
        private?: boolean;
        dependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
      };
      return { name: pkg.name, dir: join(packagesDir, d), private: pkg.private ?? false, deps: Object.keys(pkg.dependencies ?? {}) };
    });
}

function allowedFor(name: string): readonly string[] | undefined {
  if (name.startsWith("@skein/backend-") && name !== "@skein/backend-testkit") return BACKEND_ALLOWED;
  return ALLOWED[name];
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (/\.ts$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) out.push(path);
  }
  return out;
}

/** The subpaths a package exports (`"./bin"`, `"./errors"`, …): importing those is not a deep import. */
function exportsOf(name: string): string[] {
  const dir = packages().find((p) => p.name === name)?.dir;
  if (!dir) return [];
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { exports?: Record<string, unknown> };
  return Object.keys(pkg.exports ?? {});
}

const skeinImports = (text: string) => [...text.matchAll(/(?:from|import\()\s*["'](@skein\/[^"']+)["']/g)].map((m) => m[1] as string);

describe("dependency direction", () => {
  const published = packages().filter((p) => !p.private);

  it("knows every published package", () => {
    for (const pkg of published) expect(allowedFor(pkg.name), `${pkg.name} has no rule in this test`).toBeDefined();
  });

  for (const pkg of published) {
    it(`${pkg.name} depends only on packages below it`, () => {
      const allowed = allowedFor(pkg.name) ?? [];
      const skeinDeps = pkg.deps.filter((d) => d.startsWith("@skein/"));
      expect(skeinDeps.filter((d) => !allowed.includes(d))).toEqual([]);
    });

    it(`${pkg.name} imports only allowed packages, through their entry points`, () => {
      const allowed = allowedFor(pkg.name) ?? [];
      const offending: string[] = [];
      for (const file of sourceFiles(join(pkg.dir, "src"))) {
        for (const spec of skeinImports(readFileSync(file, "utf8"))) {
          const [scope, name, ...rest] = spec.split("/");
          const target = `${scope}/${name}`;
          const exported = rest.length === 0 || exportsOf(target).includes(`./${rest.join("/")}`);
          if (!allowed.includes(target) || !exported) offending.push(`${file.slice(packagesDir.length)} imports ${spec}`);
        }
      }
      expect(offending).toEqual([]);
    });
  }

  it("catches a violation (the check itself works)", () => {
    expect(skeinImports('import { x } from "@skein/worker";\nconst m = await import("@skein/scheduler/src/x.js");')).toEqual(["@skein/worker", "@skein/scheduler/src/x.js"]);
  });
});
