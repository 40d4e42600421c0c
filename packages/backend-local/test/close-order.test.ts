/**
 * close() ends jobs whose workers never connected before it stops the scheduler: a worker still
 * dialling when the scheduler stops listening would print "cannot reach the scheduler" into the
 * user's terminal at the end of a clean run (a quick computation on a slow machine).
 */
import { connect as tcpConnect } from "node:net";
import { describe, expect, it } from "vitest";
import { Cluster, resolveClusterSettings, type ClusterBackend, type JobId, type JobSpec } from "@skein/core";
import { localBackend } from "../src/index.js";

function listening(address: string): Promise<boolean> {
  const { hostname, port } = new URL(address);
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: hostname, port: Number(port) });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

describe("local cluster close()", () => {
  it("cancels the job whose worker never connected while the scheduler still listens, then the others", async () => {
    const inner = localBackend({ forwardStderr: false });
    const cancels: { ids: readonly JobId[]; schedulerListening: boolean }[] = [];
    let cluster: Cluster | undefined;
    let submitted = 0;
    const backend: ClusterBackend = {
      ...inner,
      // The second job's worker dials a port nobody listens on: it stays unconnected.
      submit: (job: JobSpec) => inner.submit(++submitted === 2 ? { ...job, workerArgs: ["ws://127.0.0.1:9", ...job.workerArgs.slice(1)] } : job),
      cancel: async (ids) => {
        cancels.push({ ids, schedulerListening: await listening(cluster?.schedulerAddress as string) });
        return inner.cancel(ids);
      },
    };
    cluster = await Cluster.start(backend, resolveClusterSettings({ name: "order", processes: 1, deathTimeout: 60 }));
    await cluster.scale(1);
    await cluster.waitForWorkers(1, { timeout: 30_000 });
    await cluster.scale(2);
    const [connected, unconnected] = cluster.jobs.map((j) => j.id);
    await cluster.close();
    expect(cancels[0]).toEqual({ ids: [unconnected], schedulerListening: true });
    // The connected worker left when the scheduler closed; its job is cancelled (or gone) after.
    expect(cancels.slice(1).flatMap((c) => c.ids)).not.toContain(unconnected);
    expect(connected).toBeDefined();
    expect(cluster.jobs).toEqual([]);
  });
});
