import { always, describeBackendConformance } from "@skein/backend-testkit";
import { localBackend } from "../src/index.js";

describeBackendConformance("local", {
  // Workers' stderr would interleave with the test report; the failed-job test reads it through logs().
  createBackend: () => localBackend({ forwardStderr: false }),
  service: always,
});
