import { libraryConfig } from "../../tools/tsup.base.js";

// secret-source and log are entries of their own: the worker supervisor needs only them, not the WebSocket stack.
export default libraryConfig({ entry: ["src/index.ts", "src/secret-source.ts", "src/log.ts"] });
