/** The dashboard server in-process, on a free loopback port: who gets in, and what they get. */
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Sim, task } from "../state/test-helpers.js";
import { startDashboard, type Dashboard, type StartDashboardOptions } from "./http-server.js";
import { dashboardToken } from "./token.js";

const SECRET = "the-cluster-secret";
const open: Dashboard[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});

async function start(options: Partial<StartDashboardOptions> = {}): Promise<{ dashboard: Dashboard; sim: Sim }> {
  const sim = new Sim();
  sim.addClient();
  sim.addWorker("w1", { nthreads: 2 });
  sim.submit([task("inc-1"), task("inc-2")], ["inc-1", "inc-2"]);
  const dashboard = await startDashboard({ secret: SECRET, state: sim.state, schedulerId: "scheduler-t", schedulerAddress: () => "ws://127.0.0.1:1", ...options });
  open.push(dashboard);
  return { dashboard, sim };
}

/** Resolves with the status of a refused upgrade, or "open" with the first message. */
function connectWs(url: string): Promise<{ status: number } | { first: Record<string, unknown>; socket: WebSocket }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once("unexpected-response", (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      socket.terminate();
    });
    socket.once("message", (data) => resolve({ first: JSON.parse(String(data)) as Record<string, unknown>, socket }));
    socket.once("error", (error) => reject(error));
  });
}

describe("dashboard HTTP server", () => {
  it("gives a link on loopback with a token derived from the secret", async () => {
    const { dashboard } = await start();
    expect(dashboard.token).toBe(dashboardToken(SECRET));
    expect(dashboard.link).toBe(`http://127.0.0.1:${dashboard.port}/?token=${dashboard.token}`);
    expect(dashboard.link).not.toContain(SECRET);
  });

  it("answers 401 with a readable page without the token or with a wrong one, on every path", async () => {
    const { dashboard } = await start();
    for (const path of ["/", "/?token=wrong", `/?token=${dashboardToken("another secret")}`, `/?token=${SECRET}`]) {
      const res = await fetch(new URL(path, dashboard.url));
      expect(res.status, path).toBe(401);
      const page = await res.text();
      expect(page).toContain("this dashboard needs its link");
      expect(page).toContain("cluster.dashboardLink");
      expect(page).not.toContain(dashboard.token);
    }
    for (const path of ["/assets/app.js", "/assets/uPlot.iife.min.js", "/api/snapshot", "/metrics", "/api/job-log?id=1", "/nope"]) {
      const res = await fetch(new URL(path, dashboard.url));
      expect(res.status, path).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain("Bearer");
      expect(await res.text()).toContain("401 Unauthorized");
    }
  });

  it("serves the page, its assets and the snapshot with the token", async () => {
    const { dashboard } = await start();
    const page = await fetch(dashboard.link);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain(`assets/app.js?token=${dashboard.token}`);
    expect(html).not.toContain("%TOKEN%");
    for (const [asset, type] of [
      ["app.js", "text/javascript"],
      ["style.css", "text/css"],
      ["uPlot.iife.min.js", "text/javascript"],
      ["uPlot.min.css", "text/css"],
    ] as const) {
      const res = await fetch(new URL(`/assets/${asset}?token=${dashboard.token}`, dashboard.url));
      expect(res.status, asset).toBe(200);
      expect(res.headers.get("content-type")).toContain(type);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
    const snapshot = (await (await fetch(new URL(`/api/snapshot?token=${dashboard.token}`, dashboard.url))).json()) as { workers: { name: string }[]; totals: { tasks: Record<string, number> } };
    expect(snapshot.workers.map((w) => w.name)).toEqual(["w1"]);
    expect(snapshot.totals.tasks.processing).toBe(2);
    expect((await fetch(new URL(`/nope?token=${dashboard.token}`, dashboard.url))).status).toBe(404);
    expect((await fetch(dashboard.link, { method: "POST" })).status).toBe(405);
  });

  it("serves /metrics with a bearer token, and without one only when configured open", async () => {
    const { dashboard } = await start();
    const res = await fetch(new URL("/metrics", dashboard.url), { headers: { authorization: `Bearer ${dashboard.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(await res.text()).toContain('skein_tasks{state="processing"} 2\n');

    const openOne = (await start({ openMetrics: true })).dashboard;
    expect((await fetch(new URL("/metrics", openOne.url))).status).toBe(200);
    // Only /metrics opens: the page and the data stay behind the token.
    expect((await fetch(openOne.url)).status).toBe(401);
    expect((await fetch(new URL("/api/snapshot", openOne.url))).status).toBe(401);
  });

  it("refuses the live WebSocket without the token, and pushes snapshots and the task stream with it", async () => {
    const { dashboard, sim } = await start({ updatesPerSecond: 10 });
    const wsUrl = `ws://127.0.0.1:${dashboard.port}/ws`;
    expect(await connectWs(wsUrl)).toEqual({ status: 401 });
    expect(await connectWs(`${wsUrl}?token=nope`)).toEqual({ status: 401 });
    expect(await connectWs(`ws://127.0.0.1:${dashboard.port}/other?token=${dashboard.token}`)).toEqual({ status: 404 });

    dashboard.recordTask("id-w1", "inc-1", 30, true);
    sim.finish("inc-1");
    // A report from a worker the task does not run on is stale: not recorded.
    dashboard.recordTask("id-w1", "inc-1", 30, true);
    const live = await connectWs(`${wsUrl}?token=${dashboard.token}`);
    if (!("first" in live)) throw new Error(`refused: ${live.status}`);
    expect(live.first).toMatchObject({ type: "update", lastSeq: 1, snapshot: { schedulerId: "scheduler-t" } });
    expect(live.first.stream).toEqual([expect.objectContaining({ seq: 1, worker: "w1", key: "inc-1", prefix: "inc", ok: true })]);
    expect(Array.isArray(live.first.loadHistory)).toBe(true);

    dashboard.recordTask("id-w1", "inc-2", 10, false);
    const next = await new Promise<Record<string, unknown>>((resolve) => live.socket.once("message", (data) => resolve(JSON.parse(String(data)) as Record<string, unknown>)));
    // Only what is new since the last push.
    expect(next.stream).toEqual([expect.objectContaining({ seq: 2, key: "inc-2", ok: false })]);
    expect(next.loadHistory).toBeUndefined();
    const closed = new Promise((resolve) => live.socket.once("close", resolve));
    await dashboard.close();
    await closed;
  });

  it("shows jobs from a provider and their output on request", async () => {
    const { dashboard } = await start();
    expect(dashboard.snapshot().jobs).toBeUndefined();
    dashboard.setJobsProvider(() => [{ id: "42", state: "running", submittedAt: Date.now() - 1000, startedAt: Date.now(), workers: ["w1"] }], {
      logTail: async (id) => `output of ${id}\n`,
    });
    expect(dashboard.snapshot()).toMatchObject({ jobLogs: true, jobs: [{ id: "42", state: "running" }] });
    const log = await fetch(new URL(`/api/job-log?id=42&token=${dashboard.token}`, dashboard.url));
    expect(await log.text()).toBe("output of 42\n");
    expect((await fetch(new URL(`/api/job-log?id=43&token=${dashboard.token}`, dashboard.url))).status).toBe(404);
    expect(dashboard.metrics()).toContain('skein_jobs{state="running"} 1\n');
  });

  it("says which port is taken when it cannot listen", async () => {
    const { dashboard } = await start();
    await expect(start({ port: dashboard.port })).rejects.toThrow(/dashboard could not listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
  });
});
