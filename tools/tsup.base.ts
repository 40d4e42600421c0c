import { defineConfig, type Options } from "tsup";

/** Every package builds the same way: ESM for Node 20, with .d.ts and source maps. */
export const libraryConfig = (o: Pick<Options, "entry" | "banner">) =>
  defineConfig({
    format: ["esm"],
    target: "node20",
    platform: "node",
    // The packages' tsconfigs are composite (for `tsc -b`); tsup's declaration build is a single
    // program and rejects composite settings, so switch them off for it.
    dts: { compilerOptions: { composite: false, incremental: false, declarationMap: false } },
    sourcemap: true,
    clean: true,
    ...o,
  });
