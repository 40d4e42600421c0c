export { createBackend, optionKeys, pbsBackend } from "./pbs-backend.js";
export type { PbsCommands, PbsOptions } from "./pbs-backend.js";
export { formatPbsMemory, pbsDirectives } from "./directives.js";
export type { PbsDirectiveOptions, PbsFlavor } from "./directives.js";
export { DEFAULT_SHEBANG, pbsJobScript } from "./job-script.js";
export type { PbsJobScriptOptions } from "./job-script.js";
export { QSUB_JOB_ID_PATTERN, parseQsubJobId } from "./qsub-parse.js";
export { isUnknownJobError, matchJobIds, normaliseJobId, parseQstatFull } from "./qstat-parse.js";
