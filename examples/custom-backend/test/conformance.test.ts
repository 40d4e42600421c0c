import { always, describeBackendConformance } from "@skein/backend-testkit";
import { spawnBackend } from "../src/spawn-backend.js";

// The same suite Skein's own backends pass.
describeBackendConformance("spawn (an example backend written outside Skein)", {
  createBackend: () => spawnBackend(),
  service: always,
});
