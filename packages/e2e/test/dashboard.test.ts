/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core (no browser
 * download), against a real local cluster that ran a computation. Screenshots go to
 * test-results/dashboard/ (git-ignored). With CI=true a missing Chromium fails the run; elsewhere
 * these tests skip with one line saying how to enable them.
 */
import { mkdirSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { Client, createCluster, type Future } from "@skein/core";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTEFACTS, CHROMIUM, chromiumGate, LAUNCH_ARGS } from "./browser.js";
import { expectNoProcessesLeft, startLocal, type LocalSetup } from "./helpers.js";

const gate = chromiumGate();
if (gate.reason) console.warn(gate.reason);

// Named functions: a task group is the function's name. The first two keep a thread busy for a
// moment, so the task stream has bars to draw.
function inc(x: number): number {
  const until = Date.now() + 100;
  while (Date.now() < until) x += 0;
  return x + 1;
}
function double(x: number): number {
  const until = Date.now() + 40;
  while (Date.now() < until) x += 0;
  return 2 * x;
}
function total(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
function failsOnThree(x: number): number {
  if (x === 3) throw new Error("three is not allowed");
  return x;
}

describe.skipIf(gate.skip)("dashboard in Chromium", () => {
  let setup: LocalSetup | undefined;
  let browser: Browser | undefined;
  /** Held until the end, so their results stay in memory and on the page. */
  let held: Future[] = [];
  let link = "";
  /** Checks run when a test ends: no error in the page, including late ones. */
  const afterChecks: (() => void)[] = [];

  beforeAll(async () => {
    mkdirSync(ARTEFACTS, { recursive: true });
    setup = await startLocal(2);
    link = setup.cluster.dashboardLink ?? "";
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
    const { client } = setup;
    const A = client.map(inc, Array.from({ length: 20 }, (_, i) => i));
    const B = client.map(double, A);
    const T = client.submit(total, B);
    expect(await T.result()).toBe(2 * (20 * 21) / 2);
    const F = client.map(failsOnThree, [1, 2, 3]);
    const outcomes = await Promise.allSettled(F.map((f) => f.result()));
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    held = [...A, ...B, T, ...F];
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, headless: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    held = [];
    await setup?.close();
    // Workers, and Chromium too: it inherits this file's process marker.
    await expectNoProcessesLeft();
  }, 60_000);

  async function openDashboard(): Promise<Page> {
    if (!browser) throw new Error("no browser");
    const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("response", (response) => {
      if (response.status() >= 400) errors.push(`${response.status()} for ${response.url().replace(/token=[^&]+/, "token=…")}`);
    });
    const response = await page.goto(link);
    expect(response?.status()).toBe(200);
    await page.locator('#status[data-state="live"]').waitFor({ timeout: 15_000 });
    afterChecks.push(() => expect(errors, "errors in the page").toEqual([]));
    return page;
  }

  it("shows the workers and the task groups with their counts", async () => {
    const page = await openDashboard();
    const names = setup?.cluster.workers.map((w) => w.name).sort() ?? [];
    expect(names).toHaveLength(2);
    const rows = page.locator("#workers tbody tr[data-worker]");
    await expect.poll(() => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-worker")).sort())).toEqual(names);
    await expect.poll(() => page.locator("#summary [data-key=workers] dd").textContent()).toBe("2");

    const group = (prefix: string) => page.locator(`#groups [data-group="${prefix}"]`);
    const counts = (prefix: string) =>
      group(prefix).evaluate((node) => {
        const n = (name: string) => Number(node.getAttribute(`data-${name}`));
        return { total: n("total"), memory: n("memory"), erred: n("erred"), processing: n("processing"), waiting: n("waiting"), finishedEver: n("finished-ever") };
      });
    await expect.poll(() => counts("inc")).toEqual({ total: 20, memory: 20, erred: 0, processing: 0, waiting: 0, finishedEver: 20 });
    await expect.poll(() => counts("double")).toEqual({ total: 20, memory: 20, erred: 0, processing: 0, waiting: 0, finishedEver: 20 });
    await expect.poll(() => counts("total")).toEqual({ total: 1, memory: 1, erred: 0, processing: 0, waiting: 0, finishedEver: 1 });
    await expect.poll(() => counts("failsOnThree")).toEqual({ total: 3, memory: 2, erred: 1, processing: 0, waiting: 0, finishedEver: 3 });
    // What a person reads.
    await expect.poll(() => group("inc").locator(".counts").textContent()).toContain("20 of 20 in memory");
    await expect.poll(() => group("failsOnThree").locator(".counts").textContent()).toContain("1 erred");
    await expect.poll(() => page.locator("#summary [data-key=erred] dd").textContent()).toBe("1");

    // Every finished task is in the task stream (44 of them), and the charts were drawn by uPlot.
    await expect.poll(() => page.locator("#stream-chart").getAttribute("data-events")).toBe("44");
    expect(await page.locator("#stream-chart canvas").count()).toBe(1);
    expect(await page.locator("#load-chart canvas").count()).toBe(1);
    expect(await page.locator("#load dt").allTextContents()).toContain("event-loop delay p50 / p99 / max");

    await page.screenshot({ path: join(ARTEFACTS, "dashboard.png"), fullPage: true });
    await page.close();
    for (const check of afterChecks.splice(0)) check();
  });

  it("shows the cluster's batch jobs with their times and output", async () => {
    const page = await openDashboard();
    const jobs = setup?.cluster.jobs ?? [];
    expect(jobs).toHaveLength(2);
    const rows = page.locator("#jobs tbody tr[data-job]");
    await expect.poll(() => rows.evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute("data-job")}:${tr.getAttribute("data-state")}`).sort())).toEqual(jobs.map((j) => `${j.id}:running`).sort());
    const first = rows.first();
    expect(await first.locator("[data-cell=workers]").textContent()).toBe("1");
    expect(await first.locator("[data-cell=running]").textContent()).toMatch(/^\d+ (s|min)/);
    expect(await first.locator("[data-cell=queued]").textContent()).toMatch(/^\d+ s$/);
    // The local backend enforces no walltime.
    expect(await first.locator("[data-cell=walltime]").textContent()).toBe("none enforced");

    // The log tail loads when opened, and stays open across live updates.
    await first.locator("details summary").click();
    const pre = first.locator("details pre");
    await expect.poll(() => pre.textContent()).not.toBe("loading…");
    await page.waitForTimeout(1200);
    expect(await first.locator("details").getAttribute("open")).not.toBeNull();

    await page.locator("#jobs-section").screenshot({ path: join(ARTEFACTS, "jobs.png") });
    await page.close();
    for (const check of afterChecks.splice(0)) check();
  });

  it("refuses the page, its data and the live socket without the token", async () => {
    if (!browser) throw new Error("no browser");
    const url = new URL(link);
    const bare = `${url.origin}/`;
    const page = await browser.newPage();
    const response = await page.goto(bare);
    expect(response?.status()).toBe(401);
    expect(await page.locator("h1").textContent()).toBe("401: this dashboard needs its link");
    await page.screenshot({ path: join(ARTEFACTS, "unauthorized.png") });
    await page.close();

    for (const path of ["/", "/?token=wrong", "/api/snapshot", "/assets/app.js", "/metrics"]) {
      expect((await fetch(new URL(path, url.origin))).status, path).toBe(401);
    }
    expect(await upgradeStatus(`${url.origin}/ws`)).toBe(401);
    expect(await upgradeStatus(`${url.origin}/ws?token=${"A".repeat(43)}`)).toBe(401);
  });

  it("serves Prometheus text on /metrics with the token", async () => {
    const url = new URL(link);
    const token = url.searchParams.get("token") ?? "";
    const res = await fetch(new URL("/metrics", url.origin), { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const samples = readPrometheusText(await res.text());
    expect(samples.get('skein_tasks{state="memory"}')).toBe(43);
    expect(samples.get('skein_tasks{state="erred"}')).toBe(1);
    expect(samples.get('skein_tasks{state="processing"}')).toBe(0);
    expect(samples.get('skein_tasks_finished_total{outcome="ok"}')).toBe(43);
    expect(samples.get('skein_tasks_finished_total{outcome="error"}')).toBe(1);
    expect(samples.get('skein_workers{status="running"}')).toBe(2);
    expect(samples.get('skein_jobs{state="running"}')).toBe(2);
    expect(samples.get("skein_bytes_held")).toBeGreaterThan(0);
    expect(samples.get("skein_scheduler_memory_rss_bytes")).toBeGreaterThan(0);
    const perWorker = [...samples.keys()].filter((k) => k.startsWith("skein_worker_memory_rss_bytes{"));
    expect(perWorker).toHaveLength(2);
    // The same token in the query works too (a Prometheus `params:` setting).
    expect((await fetch(new URL(`/metrics?token=${token}`, url.origin))).status).toBe(200);
  });
});

describe("dashboard options", () => {
  it("follows dashboardPort, and dashboard: false serves nothing", async () => {
    const probe = await createCluster({ backend: "local" }, { env: {}, userConfigDir: "/nonexistent" });
    const port = Number(new URL(probe.dashboardLink ?? "http://x:1/").port);
    await probe.close();
    // The port just freed, asked for by number.
    const fixed = await createCluster({ backend: "local", dashboardPort: port }, { env: {}, userConfigDir: "/nonexistent" });
    try {
      expect(new URL(fixed.dashboardLink ?? "").port).toBe(String(port));
      expect((await fetch(fixed.dashboardLink ?? "")).status).toBe(200);
      // A client that connects by address learns the link from the scheduler.
      const byAddress = await Client.connect(fixed.schedulerAddress, { secret: fixed.secret });
      expect(byAddress.dashboardLink).toBe(fixed.dashboardLink);
      await byAddress.close();
    } finally {
      await fixed.close();
    }
    const off = await createCluster({ backend: "local", dashboard: false }, { env: {}, userConfigDir: "/nonexistent" });
    try {
      expect(off.dashboardLink).toBeUndefined();
      const client = await Client.connect(off);
      expect(client.dashboardLink).toBeUndefined();
      await client.close();
      expect(off.scheduler.dashboard).toBeUndefined();
    } finally {
      await off.close();
    }
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });
});

/** Status of a WebSocket upgrade request (401 when refused, 101 when accepted). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": Buffer.from("0123456789abcdef").toString("base64") },
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * Prometheus text format 0.0.4, read strictly: each sample follows its family's HELP and TYPE
 * lines, names, labels and values are well formed, no series twice. Returns "name{labels}" → value.
 */
function readPrometheusText(text: string): Map<string, number> {
  expect(text.endsWith("\n")).toBe(true);
  const samples = new Map<string, number>();
  let family = "";
  let typed = false;
  for (const line of text.slice(0, -1).split("\n")) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    if (help) {
      family = help[1] ?? "";
      typed = false;
      continue;
    }
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$/.exec(line);
    if (type) {
      expect(type[1]).toBe(family);
      typed = true;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? ([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/.exec(line);
    expect(sample, `not a Prometheus sample line: ${JSON.stringify(line)}`).not.toBeNull();
    expect(sample?.[1]).toBe(family);
    expect(typed).toBe(true);
    const series = `${sample?.[1]}${sample?.[2] ?? ""}`;
    expect(samples.has(series), `${series} twice`).toBe(false);
    samples.set(series, Number(sample?.[3]));
  }
  return samples;
}
