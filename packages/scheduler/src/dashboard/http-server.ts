/**
 * The dashboard's HTTP server: one small page, its assets (uPlot from node_modules), a JSON
 * snapshot, Prometheus text on /metrics, and a WebSocket that pushes updates a few times per
 * second to open pages. node:http and ws only. Every request and every WebSocket upgrade must
 * carry the token derived from the cluster secret (./token.ts); /metrics may be opened read-only.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization";
import { log } from "@skein/transport";
import { WebSocketServer, type WebSocket } from "ws";
import type { SchedulerState } from "../state/task-state.js";
import { formatMetrics, METRICS_CONTENT_TYPE } from "./metrics.js";
import { renderReport, type ReportData } from "./report.js";
import { buildSnapshot, type DashboardJob, type DashboardSnapshot, type SchedulerLoad } from "./snapshot.js";
import { DEFAULT_TASK_STREAM_LENGTH, TaskStream, type TaskStreamEvent } from "./task-stream.js";
import { dashboardToken, presentedToken, tokenMatches } from "./token.js";

export interface DashboardOptions {
  /** Interface address to listen on. @default "127.0.0.1" */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Host name to put in the link when listening on every interface ("0.0.0.0", "::"). @default the machine's host name */
  advertiseHost?: string;
  /**
   * Serve `/metrics` without the token: read-only counts (worker names and hosts, job states; no
   * task keys, no data), for a Prometheus that cannot send a bearer token. @default false
   */
  openMetrics?: boolean;
  /** Live updates pushed to each open page per second, at most. @default 2 */
  updatesPerSecond?: number;
  /** Finished tasks kept for the task stream chart. @default 10000 */
  taskStreamLength?: number;
}

/** What a cluster tells the dashboard about its batch jobs. */
export type JobsProvider = () => readonly DashboardJob[];

export interface JobsProviderOptions {
  /** The last lines of a job's output, for the jobs table (backends that can read job output). */
  logTail?: (jobId: string) => Promise<string>;
}

export interface Dashboard {
  /** `http://host:port/`, without the token. */
  readonly url: string;
  /** `http://host:port/?token=…`: the address to open. */
  readonly link: string;
  /** The token every request needs (`?token=` or `Authorization: Bearer`). Derived from the secret. */
  readonly token: string;
  readonly port: number;
  /** Let the page show batch jobs (the scheduler knows none itself; the cluster that starts them does). */
  setJobsProvider(provider: JobsProvider | undefined, options?: JobsProviderOptions): void;
  /** What the page shows, now. */
  snapshot(): DashboardSnapshot;
  /** `/metrics`, now. */
  metrics(): string;
  /**
   * A standalone HTML report of the work since `fromMs` (epoch ms): the page in its report mode,
   * with the task stream of that span, uPlot inlined, and no token in it.
   */
  report(title: string, fromMs: number): string;
  /**
   * @internal The scheduler calls this when a worker reports a task finished or failed, before
   * the state machine applies it (stale reports, from a worker the task no longer runs on, are ignored).
   */
  recordTask(workerId: string, key: string, durationMs: number, ok: boolean): void;
  close(): Promise<void>;
}

export interface StartDashboardOptions extends DashboardOptions {
  readonly secret: string;
  readonly state: SchedulerState;
  readonly schedulerId: string;
  /** The scheduler's `ws://` address, shown on the page. */
  readonly schedulerAddress: () => string;
}

/** Open pages get at most this many past task-stream events when they connect. */
const INITIAL_STREAM_EVENTS = 5_000;
/** A page whose socket holds more unsent bytes than this skips updates until it catches up. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** The scheduler's load is sampled this often; its history covers the last LOAD_HISTORY samples. */
const LOAD_SAMPLE_MS = 1_000;
/** Tick of the event-loop delay monitor. */
const DELAY_RESOLUTION_MS = 10;
const LOAD_HISTORY = 300;
/** How long the page waits for a backend to read a job's output. */
const JOB_LOG_TIMEOUT_MS = 10_000;
const JOB_LOG_MAX_CHARS = 64 * 1024;

interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

interface LoadSample {
  readonly t: number;
  readonly p99: number;
  readonly cpu: number;
  readonly rss: number;
}

interface Viewer {
  readonly socket: WebSocket;
  lastSeq: number;
  first: boolean;
}

export async function startDashboard(options: StartDashboardOptions): Promise<Dashboard> {
  const { secret, state, schedulerId, schedulerAddress, host = "127.0.0.1", port = 0, openMetrics = false, updatesPerSecond = 2 } = options;
  if (!(updatesPerSecond > 0 && updatesPerSecond <= 20)) throw new SkeinError("scheduler", SKEIN_ERROR_CODES.BAD_OPTION, `dashboard updatesPerSecond must be more than 0 and at most 20, got ${updatesPerSecond}`);
  const token = dashboardToken(secret);
  const assets = loadAssets(token);
  const stream = new TaskStream(options.taskStreamLength ?? DEFAULT_TASK_STREAM_LENGTH);
  let jobsProvider: JobsProvider | undefined;
  let logTail: JobsProviderOptions["logTail"];

  // --- the scheduler's own load: event-loop delay and CPU over the last second, memory ---
  const delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
  delay.enable();
  const startedAt = Date.now();
  let lastCpu = process.cpuUsage();
  let lastSampleAt = performance.now();
  const history: LoadSample[] = [];
  let load: SchedulerLoad = sampleLoad();
  function sampleLoad(): SchedulerLoad {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    const elapsedMs = Math.max(1, now - lastSampleAt);
    lastCpu = process.cpuUsage();
    lastSampleAt = now;
    // The histogram records the time between its timer's ticks: the delay is what exceeds the tick.
    const ms = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - DELAY_RESOLUTION_MS) : 0);
    const memory = process.memoryUsage();
    const sample: SchedulerLoad = {
      eventLoopDelayMs: delay.count > 0 ? { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) } : { p50: 0, p99: 0, max: 0 },
      cpuPercent: (100 * (cpu.user + cpu.system)) / 1000 / elapsedMs,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      uptimeSeconds: (Date.now() - startedAt) / 1000,
    };
    delay.reset();
    history.push({ t: Date.now(), p99: sample.eventLoopDelayMs.p99, cpu: sample.cpuPercent, rss: sample.rssBytes });
    if (history.length > LOAD_HISTORY) history.shift();
    return sample;
  }
  const loadTimer = setInterval(() => (load = sampleLoad()), LOAD_SAMPLE_MS);
  loadTimer.unref();

  const readJobs = (): readonly DashboardJob[] | undefined => {
    if (!jobsProvider) return undefined;
    try {
      return jobsProvider();
    } catch (error) {
      log.warn(`dashboard: the jobs provider failed: ${(error as Error).message}`);
      return undefined;
    }
  };
  const snapshot = (maxJobs?: number): DashboardSnapshot =>
    buildSnapshot({
      state,
      schedulerId,
      address: schedulerAddress(),
      now: Date.now(),
      load,
      jobs: readJobs(),
      jobLogs: logTail !== undefined,
      groupTotals: stream.groups,
      ...(maxJobs === undefined ? {} : { maxJobs }),
    });
  // Every job counts in /metrics, not only the ones the page lists.
  const metrics = () => formatMetrics(snapshot(Number.POSITIVE_INFINITY), stream.totals);
  const report = (title: string, fromMs: number): string => {
    const to = Date.now();
    const data: ReportData = {
      title,
      from: fromMs,
      to,
      snapshot: snapshot(Number.POSITIVE_INFINITY),
      stream: stream.since(0).filter((e) => e.stop >= fromMs),
      loadHistory: history.filter((s) => s.t >= fromMs).map((s) => ({ t: s.t, p99: s.p99, cpu: s.cpu })),
    };
    return renderReport(data, readRawAsset);
  };

  // --- HTTP ---
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.warn(`dashboard: ${req.url ?? ""} failed: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "internal error; see the scheduler's log (SKEIN_LOG=warn)\n");
      else res.destroy();
    });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://dashboard.invalid");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      return send(res, 405, "text/plain; charset=utf-8", "the dashboard is read-only: GET and HEAD only\n");
    }
    const authorized = tokenMatches(presentedToken(url, req.headers), token);
    if (url.pathname === "/metrics") {
      if (!authorized && !openMetrics) return unauthorized(res, false);
      return send(res, 200, METRICS_CONTENT_TYPE, metrics());
    }
    if (!authorized) return unauthorized(res, url.pathname === "/" || url.pathname === "/index.html");
    if (url.pathname === "/" || url.pathname === "/index.html") {
      const page = assets.get("index.html");
      if (!page) return send(res, 500, "text/plain; charset=utf-8", "dashboard page missing from the installation\n");
      res.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
      return send(res, 200, page.type, page.body);
    }
    if (url.pathname === "/api/snapshot") return send(res, 200, "application/json; charset=utf-8", JSON.stringify(snapshot()));
    if (url.pathname === "/api/job-log") return sendJobLog(res, url.searchParams.get("id") ?? "");
    const asset = url.pathname.startsWith("/assets/") ? assets.get(url.pathname.slice("/assets/".length)) : undefined;
    if (asset) return send(res, 200, asset.type, asset.body);
    return send(res, 404, "text/plain; charset=utf-8", `no such dashboard page: ${url.pathname}\n`);
  };
  const sendJobLog = async (res: ServerResponse, id: string): Promise<void> => {
    if (!logTail) return send(res, 404, "text/plain; charset=utf-8", "this cluster's backend cannot read job output\n");
    if (!readJobs()?.some((job) => job.id === id)) return send(res, 404, "text/plain; charset=utf-8", "no such job in this cluster\n");
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${JOB_LOG_TIMEOUT_MS / 1000} s`)), JOB_LOG_TIMEOUT_MS);
    });
    try {
      const text = await Promise.race([logTail(id), timeout]);
      send(res, 200, "text/plain; charset=utf-8", text.length > JOB_LOG_MAX_CHARS ? text.slice(-JOB_LOG_MAX_CHARS) : text);
    } catch (error) {
      send(res, 502, "text/plain; charset=utf-8", `could not read the job's output: ${(error as Error).message}\n`);
    } finally {
      clearTimeout(timer);
    }
  };

  // --- live updates ---
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  const viewers = new Set<Viewer>();
  let pushTimer: NodeJS.Timeout | undefined;
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://dashboard.invalid");
    if (url.pathname !== "/ws") return refuseUpgrade(socket, 404, "Not Found");
    if (!tokenMatches(presentedToken(url, req.headers), token)) return refuseUpgrade(socket, 401, "Unauthorized");
    sockets.handleUpgrade(req, socket, head, (ws) => {
      const viewer: Viewer = { socket: ws, lastSeq: Math.max(0, stream.lastSeq - INITIAL_STREAM_EVENTS), first: true };
      viewers.add(viewer);
      // The page sends nothing we act on; closing is all it does.
      ws.on("close", () => viewers.delete(viewer));
      ws.on("error", () => viewers.delete(viewer));
      push([viewer]);
      pushTimer ??= setInterval(() => {
        if (viewers.size === 0) {
          clearInterval(pushTimer);
          pushTimer = undefined;
          return;
        }
        push([...viewers]);
      }, 1000 / updatesPerSecond);
      pushTimer.unref();
    });
  });
  /** One snapshot for all, plus each page's new task-stream events. */
  const push = (targets: readonly Viewer[]) => {
    const snapshotJson = JSON.stringify(snapshot());
    for (const viewer of targets) {
      if (viewer.socket.readyState !== viewer.socket.OPEN || viewer.socket.bufferedAmount > MAX_BUFFERED_BYTES) continue;
      const events: TaskStreamEvent[] = stream.since(viewer.lastSeq);
      const extra = viewer.first ? `,"loadHistory":${JSON.stringify(history)}` : "";
      viewer.socket.send(`{"type":"update","snapshot":${snapshotJson},"stream":${JSON.stringify(events)},"lastSeq":${stream.lastSeq}${extra}}`);
      viewer.lastSeq = stream.lastSeq;
      viewer.first = false;
    }
  };

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        new SkeinError(
          "scheduler",
          SKEIN_ERROR_CODES.BAD_OPTION,
          `the dashboard could not listen on ${host}:${port} (${error.code ?? error.message}); pick another dashboard port, 0 for a free one, or turn the dashboard off`,
          { cause: error },
        ),
      );
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  }).catch((error: unknown) => {
    clearInterval(loadTimer);
    delay.disable();
    throw error;
  });
  const boundPort = (server.address() as AddressInfo).port;
  const url = `http://${linkHost(host, options.advertiseHost)}:${boundPort}/`;
  const link = `${url}?token=${token}`;
  log.debug(`dashboard of ${schedulerId} at ${url}`);

  let closed = false;
  return {
    url,
    link,
    token,
    port: boundPort,
    setJobsProvider(provider, providerOptions = {}) {
      jobsProvider = provider;
      logTail = provider ? providerOptions.logTail : undefined;
    },
    snapshot: () => snapshot(),
    metrics,
    report,
    recordTask(workerId, key, durationMs, ok) {
      const ts = state.tasks.get(key);
      const ws = state.workers.get(workerId);
      if (!ts || !ws || ts.processingOn !== ws) return;
      const stop = Date.now();
      stream.record({ worker: ws.name, key, prefix: ts.prefix, start: stop - Math.max(0, durationMs), stop, ok });
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(loadTimer);
      clearInterval(pushTimer);
      delay.disable();
      for (const viewer of viewers) viewer.socket.close(1001, "the scheduler is shutting down");
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Pages keep their sockets open; give them a moment to take the close frame, then cut.
        setTimeout(() => {
          for (const viewer of viewers) viewer.socket.terminate();
          server.closeAllConnections();
        }, 200).unref();
        server.closeIdleConnections();
      });
      sockets.close();
    },
  };
}

/** Scripts and styles come from this server only; the page talks only to this server. */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.statusCode = status;
  res.setHeader("Content-Type", type);
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("X-Frame-Options", "DENY");
  res.end(res.req.method === "HEAD" ? undefined : body);
}

function unauthorized(res: ServerResponse, page: boolean): void {
  res.setHeader("WWW-Authenticate", 'Bearer realm="skein dashboard"');
  if (!page) return send(res, 401, "text/plain; charset=utf-8", "401 Unauthorized: add ?token=… from the dashboard link, or send Authorization: Bearer <token>\n");
  res.setHeader("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
  send(res, 401, "text/html; charset=utf-8", UNAUTHORIZED_PAGE);
}

const UNAUTHORIZED_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Skein dashboard: link needed</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}code{background:#f3f3f3;padding:0 .3em}</style>
</head><body>
<h1>401: this dashboard needs its link</h1>
<p>The Skein dashboard is protected by the cluster's secret. Open the full link, which carries a
token derived from that secret (<code>?token=…</code>). Find it with:</p>
<ul>
<li><code>console.log(cluster.dashboardLink)</code> in the program that started the cluster, or</li>
<li>the <code>Dashboard:</code> line that <code>skein scheduler</code> printed.</li>
</ul>
<p>A token from another cluster, or from an earlier run, does not work here.</p>
</body></html>
`;

function refuseUpgrade(socket: Socket, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function linkHost(host: string, advertiseHost: string | undefined): string {
  const name = advertiseHost ?? (host === "0.0.0.0" || host === "::" ? hostname() : host);
  return isIP(name) === 6 ? `[${name}]` : name;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/** An asset's text as shipped (the page still has its %TOKEN% placeholders), for reports. */
function readRawAsset(name: string): string {
  const path = name.startsWith("uPlot.") ? join(dirname(createRequire(import.meta.url).resolve("uplot/package.json")), "dist", name) : join(assetDirectory(), name);
  return readFileSync(path, "utf8");
}

/**
 * The page, its script and style, and uPlot's browser build, read once. The page's references to
 * its assets carry the token (it is only ever served to a request that presented it).
 */
function loadAssets(token: string): Map<string, Asset> {
  const dir = assetDirectory();
  const uplot = join(dirname(createRequire(import.meta.url).resolve("uplot/package.json")), "dist");
  const files: [name: string, path: string][] = [
    ["index.html", join(dir, "index.html")],
    ["app.js", join(dir, "app.js")],
    ["style.css", join(dir, "style.css")],
    ["uPlot.iife.min.js", join(uplot, "uPlot.iife.min.js")],
    ["uPlot.min.css", join(uplot, "uPlot.min.css")],
  ];
  const assets = new Map<string, Asset>();
  for (const [name, path] of files) {
    const ext = name.slice(name.lastIndexOf("."));
    let body = readFileSync(path);
    if (name === "index.html") body = Buffer.from(body.toString("utf8").replaceAll("%TOKEN%", token));
    assets.set(name, { body, type: TYPES[ext] ?? "application/octet-stream" });
  }
  return assets;
}

/** `src/dashboard/assets` when running from source; `dist/dashboard-assets` (copied by the build) from the bundle. */
function assetDirectory(): string {
  const candidates = [fileURLToPath(new URL("./assets/", import.meta.url)), fileURLToPath(new URL("./dashboard-assets/", import.meta.url))];
  const found = candidates.find((dir) => existsSync(join(dir, "index.html")));
  if (!found) throw new SkeinError("scheduler", SKEIN_ERROR_CODES.BAD_OPTION, `the dashboard's page is missing (looked in ${candidates.join(", ")}); reinstall @skein/scheduler or start with dashboard: false`);
  return found;
}
