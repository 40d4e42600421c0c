/** The shared backend conformance suite, run against the test cluster's loopback sshd. */
import { describeBackendConformance, type ServiceProbe } from "@skein/backend-testkit";
import { sshBackend } from "../src/index.js";
import { findSshTarget, type SshTarget } from "./ssh-target.js";

const found = findSshTarget();

const loopbackSshd: ServiceProbe = {
  name: "the test cluster's sshd (SKEIN_TEST_SSH_* or tools/test-cluster.sh's env.sh)",
  check: () => found.missing,
};

describeBackendConformance("ssh (loopback sshd)", {
  service: loopbackSshd,
  createBackend: () => {
    const target = found.target as SshTarget;
    return sshBackend({ hosts: [target.entry], identityFile: target.identityFile, knownHostsFile: target.knownHostsFile });
  },
  // No queue: an ssh job starts at once, so there is no queued job to cancel.
  stateChangeTimeoutMs: 30_000,
});
