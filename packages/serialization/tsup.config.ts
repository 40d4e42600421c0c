import { libraryConfig } from "../../tools/tsup.base.js";

// errors and units are entries of their own: the worker supervisor needs only them, and loading the codecs and schemas would slow every job start.
export default libraryConfig({ entry: ["src/index.ts", "src/errors.ts", "src/units.ts"] });
