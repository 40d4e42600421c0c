import { libraryConfig } from "../../tools/tsup.base.js";

// The thread and process entries are started by file path, so they are entries of their own.
export default libraryConfig({ entry: ["src/index.ts", "src/executor-thread.ts", "src/worker-process.ts", "src/bin.ts"] });
