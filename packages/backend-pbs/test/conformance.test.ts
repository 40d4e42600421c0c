import { describeBackendConformance, slurmTorqueWrappers } from "@skein/backend-testkit";
import { pbsBackend } from "../src/index.js";

describeBackendConformance("pbs (Torque wrappers over Slurm)", {
  createBackend: () => pbsBackend({ queue: "batch" }),
  // Held jobs (qsub -h) stay queued until cancelled.
  createHoldingBackend: () => pbsBackend({ queue: "batch", jobExtraDirectives: ["-h"] }),
  service: slurmTorqueWrappers,
  clusterOptions: { interface: "lo" },
  // vortex and c18a share this host: a 2-node job (started with srun, since the wrappers have no pbsdsh).
  multiNode: { nodes: 2 },
});
