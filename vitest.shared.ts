import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

// nx turns FORCE_COLOR=0 into NO_COLOR=1 and then gives each task FORCE_COLOR=true. With both set,
// every node process a test starts warns about it on stderr, and tests that read a child's stderr
// (it must say nothing, or exactly one line) would see the warning instead of Skein's output.
if (process.env.NO_COLOR !== undefined && process.env.FORCE_COLOR !== undefined) delete process.env.FORCE_COLOR;

/** Shared by every package: resolve sibling packages to their TypeScript source. */
export const sharedConfig = defineConfig({
  // vitest 4 needs the custom condition here; `resolve.conditions` alone does not reach SSR imports.
  ssr: { resolve: { conditions: ["@skein/source", ...defaultServerConditions] } },
  test: {
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
    exclude: ["**/node_modules/**", "**/dist/**", "**/dist-types/**"],
  },
});
