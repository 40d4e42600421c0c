import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

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
