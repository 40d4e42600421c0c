export { describeBackendConformance } from "./describe.js";
export type { ConformanceOptions } from "./options.js";
export type { ConformanceContext, StateName } from "./harness.js";
export { MARK_VARIABLE, processesWith, processesWithMark } from "./harness.js";
export { until } from "./polling.js";
export { always, commandProblem, requireService, slurm, slurmTorqueWrappers } from "./require-service.js";
export type { ServiceGate, ServiceProbe } from "./require-service.js";
export { ELEMENT_LINE, FAILURE_LINE, arrayElementReporter, failing, sleeper } from "./jobs.js";
