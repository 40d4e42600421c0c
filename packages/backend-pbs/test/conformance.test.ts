import { describeBackendConformance, slurmTorqueWrappers } from "@skein/backend-testkit";
import { pbsBackend } from "../src/index.js";

describeBackendConformance("pbs (Torque wrappers over Slurm)", {
  createBackend: () => pbsBackend({ queue: "batch" }),
  // Held jobs (qsub -h) stay queued until cancelled.
  createHoldingBackend: () => pbsBackend({ queue: "batch", jobExtraDirectives: ["-h"] }),
  service: slurmTorqueWrappers,
  clusterOptions: { interface: "lo" },
});
