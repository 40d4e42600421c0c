export { SLURM_ARRAYS, createBackend, optionKeys, slurmBackend } from "./slurm-backend.js";
export type { SlurmCommands, SlurmOptions } from "./slurm-backend.js";
export { formatSlurmMemory, slurmDirectives } from "./directives.js";
export type { SlurmDirectiveOptions } from "./directives.js";
export { DEFAULT_SHEBANG, slurmJobScript, slurmNodeLauncher } from "./job-script.js";
export type { SlurmJobScriptOptions } from "./job-script.js";
export { parseSbatchJobId } from "./sbatch-parse.js";
export { SQUEUE_ARGS, SQUEUE_FORMAT, isInvalidJobIdError, parseSqueue } from "./squeue-parse.js";
