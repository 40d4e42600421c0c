export { createBackend, localBackend, optionKeys } from "./local-backend.js";
export type { LocalBackendOptions } from "./local-backend.js";
export { localJobScript, shellQuote } from "./job-script.js";
