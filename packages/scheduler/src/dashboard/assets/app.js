// The Skein dashboard page. Plain browser JavaScript, no build step: the scheduler pushes a snapshot
// (and the task-stream events since the last one) over a WebSocket a few times per second; this
// file draws it. Everything user-controlled (task keys, worker and host names, job output) is
// written with textContent, never as HTML.
/* global uPlot */
"use strict";
(() => {
  const token = new URLSearchParams(location.search).get("token") || "";
  // A performance report (a file, see report.ts) carries its data and shows all of it.
  const report = window.SKEIN_REPORT;
  const STREAM_WINDOW_S = report ? Number.POSITIVE_INFINITY : 300;
  const MAX_STREAM_EVENTS = report ? Number.POSITIVE_INFINITY : 20000;
  const MAX_LOAD_POINTS = 600;
  const $ = (id) => document.getElementById(id);

  /** el("td", { text: "x", className: "y", data: { worker: "w" }, title: "…" }, child…) */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    const p = props || {};
    if (p.text !== undefined) node.textContent = String(p.text);
    if (p.className) node.className = p.className;
    if (p.title) node.title = p.title;
    if (p.width !== undefined) node.style.width = p.width;
    for (const [k, v] of Object.entries(p.data || {})) node.dataset[k] = String(v);
    for (const child of children) if (child) node.append(child);
    return node;
  }

  const fmt = {
    bytes(n) {
      if (!Number.isFinite(n) || n <= 0) return "0 B";
      const units = ["B", "KiB", "MiB", "GiB", "TiB"];
      const i = Math.min(units.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
      const v = n / 1024 ** i;
      return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
    },
    duration(s) {
      if (s === undefined || s === null || !Number.isFinite(s)) return "—";
      if (s < 60) return `${s.toFixed(0)} s`;
      const m = Math.floor(s / 60);
      if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
      return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
    },
    percent: (x) => `${x.toFixed(0)} %`,
  };

  // One colour per task group, in the order the page first sees them. Red means "failed" and green
  // "done" on this page, so neither is in the palette.
  const PALETTE = ["#4c78a8", "#f58518", "#b279a2", "#72b7b2", "#eeca3b", "#9d755d", "#ff9da6", "#6b6ecf", "#8c6d31", "#bab0ac"];
  const colours = new Map();
  function colourOf(prefix) {
    let colour = colours.get(prefix);
    if (!colour) {
      const n = colours.size;
      colour = n < PALETTE.length ? PALETTE[n] : `hsl(${(n * 137) % 360}, 45%, 55%)`;
      colours.set(prefix, colour);
    }
    return colour;
  }

  const view = { snapshot: null, stream: [], load: [], rows: [], jobRows: new Map() };

  // --- live connection: one WebSocket; reconnects with backoff, never a polling loop ---
  let retryMs = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`);
    socket.onopen = () => {
      retryMs = 1000;
      setStatus("live", "live");
    };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "update") receive(message);
    };
    socket.onclose = () => {
      setStatus("disconnected", `disconnected; retrying in ${Math.round(retryMs / 1000)} s`);
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    };
  }
  function setStatus(state, text) {
    const status = $("status");
    status.dataset.state = state;
    status.textContent = text;
  }

  function receive(message) {
    const snapshot = message.snapshot;
    if (message.loadHistory) view.load = message.loadHistory.map((s) => ({ t: s.t, p99: s.p99, cpu: s.cpu }));
    const last = view.load[view.load.length - 1];
    if (!last || snapshot.time - last.t >= 900) view.load.push({ t: snapshot.time, p99: snapshot.load.eventLoopDelayMs.p99, cpu: snapshot.load.cpuPercent });
    if (view.load.length > MAX_LOAD_POINTS) view.load.splice(0, view.load.length - MAX_LOAD_POINTS);
    for (const e of message.stream) view.stream.push(e);
    const oldest = snapshot.time - STREAM_WINDOW_S * 1000;
    let drop = 0;
    while (drop < view.stream.length && (view.stream[drop].stop < oldest || view.stream.length - drop > MAX_STREAM_EVENTS)) drop++;
    if (drop > 0) view.stream.splice(0, drop);
    view.snapshot = snapshot;
    scheduleRender();
  }

  let renderPending = false;
  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    requestAnimationFrame(() => {
      renderPending = false;
      render(view.snapshot);
    });
  }

  function render(s) {
    $("scheduler").textContent = `${s.schedulerId} · ${s.address}`;
    document.title = `Skein · ${s.workers.length} workers · ${s.totals.tasks.processing} processing`;
    renderSummary(s);
    renderWorkers(s);
    renderGroups(s);
    renderJobs(s);
    renderLoad(s);
    renderStream(s);
  }

  function dl(target, pairs) {
    target.replaceChildren(...pairs.map(([k, v]) => el("div", { data: { key: k } }, el("dt", { text: k }), el("dd", { text: v }))));
  }

  function renderSummary(s) {
    const t = s.totals.tasks;
    dl($("summary"), [
      ["workers", String(Object.values(s.totals.workers).reduce((a, b) => a + b, 0))],
      ...(s.totals.workers.paused ? [["paused", String(s.totals.workers.paused)]] : []),
      ["threads", String(s.totals.threads)],
      ["processing", String(t.processing)],
      ["waiting", String(t.waiting + t.queued + t["no-worker"])],
      ["in memory", String(t.memory)],
      ["erred", String(t.erred)],
      ["data held", fmt.bytes(s.totals.bytesHeld)],
      ["clients", String(s.totals.clients)],
    ]);
  }

  function meter(fraction, label, className) {
    const pct = Math.max(0, Math.min(1, fraction)) * 100;
    return el("span", {}, el("span", { className: `meter ${className || ""}` }, el("span", { width: `${pct}%` })), el("span", { className: "meter-label", text: label }));
  }

  function renderWorkers(s) {
    const rows = s.workers.map((w) => {
      // RSS comes with heartbeats: 0 means none arrived yet.
      const rss = w.rssBytes > 0 ? fmt.bytes(w.rssBytes) : "—";
      const memory = w.memoryLimitBytes > 0 ? `${rss} / ${fmt.bytes(w.memoryLimitBytes)}` : `${rss} (no limit)`;
      return el(
        "tr",
        { data: { worker: w.name, status: w.status, processing: w.processing, inMemory: w.inMemory } },
        el("td", { text: w.name, title: `pid ${w.pid}` }),
        el("td", { text: w.host }),
        el("td", { text: w.status }),
        el("td", {}, meter(w.busyPercent / 100, `${w.executing} / ${w.nthreads}`)),
        el("td", { text: String(w.processing) }),
        el("td", {}, meter(w.memoryLimitBytes > 0 ? w.rssBytes / w.memoryLimitBytes : 0, memory, "rss")),
        el("td", { text: `${fmt.bytes(w.nbytes)} (${w.inMemory} results)` }),
        el("td", { text: `${w.lastSeenSecondsAgo.toFixed(0)} s ago` }),
      );
    });
    $("workers").tBodies[0].replaceChildren(...rows);
    $("workers-empty").hidden = rows.length > 0;
  }

  function swatch(prefix) {
    const node = el("span", { className: "swatch group-colour" });
    node.style.background = colourOf(prefix);
    return node;
  }

  function renderGroups(s) {
    const groups = s.groups.map((g) => {
      const st = g.states;
      const waiting = st.waiting + st.queued + st["no-worker"];
      const parts = [
        ["memory", st.memory],
        ["processing", st.processing],
        ["waiting", waiting],
        ["erred", st.erred],
        ["released", st.released],
      ];
      const bar = el("div", { className: "bar" }, ...parts.filter(([, n]) => n > 0).map(([cls, n]) => el("span", { className: cls, width: `${(100 * n) / g.total}%`, title: `${n} ${cls}` })));
      const counts = `${st.memory} of ${g.total} in memory · ${st.processing} processing · ${waiting} waiting · ${st.erred} erred · ${g.finishedEver} finished since start${g.erredEver ? ` (${g.erredEver} failed)` : ""}`;
      return el(
        "div",
        { className: "group", data: { group: g.prefix, total: g.total, memory: st.memory, processing: st.processing, waiting, erred: st.erred, finishedEver: g.finishedEver } },
        el("div", { className: "name", title: g.prefix }, swatch(g.prefix), g.prefix),
        bar,
        el("div", { className: "counts", text: counts }),
      );
    });
    if (s.hiddenGroups > 0) groups.push(el("p", { className: "muted", text: `and ${s.hiddenGroups} more groups` }));
    $("groups").replaceChildren(...groups);
    $("groups-empty").hidden = groups.length > 0;
  }

  // Job rows are updated in place, so an opened output stays open across updates.
  function renderJobs(s) {
    const body = $("jobs").tBodies[0];
    const empty = $("jobs-empty");
    if (s.jobs === undefined || s.jobs === null) {
      body.replaceChildren();
      view.jobRows.clear();
      empty.textContent = "This scheduler runs on its own: no cluster reports batch jobs to it.";
      empty.hidden = false;
      return;
    }
    empty.textContent = s.jobs.length === 0 ? "No jobs: the cluster has not been scaled up." : "";
    empty.hidden = s.jobs.length > 0;
    const seen = new Set();
    const ordered = [];
    for (const job of s.jobs) {
      seen.add(job.id);
      let row = view.jobRows.get(job.id);
      if (!row) {
        row = makeJobRow(job.id, s.jobLogs);
        view.jobRows.set(job.id, row);
      }
      updateJobRow(row, job);
      ordered.push(row.tr);
    }
    for (const [id] of view.jobRows) if (!seen.has(id)) view.jobRows.delete(id);
    if (s.hiddenJobs > 0) ordered.push(el("tr", {}, el("td", { className: "muted", text: `and ${s.hiddenJobs} older jobs` })));
    // Move rows only when their order changed, so the browser keeps an opened <details> as is.
    const current = [...body.children];
    if (current.length !== ordered.length || current.some((node, i) => node !== ordered[i])) body.replaceChildren(...ordered);
  }

  function makeJobRow(id, logs) {
    const cells = ["id", "state", "host", "queued", "running", "walltime", "workers"].map((name) => el("td", { data: { cell: name } }));
    const output = el("td");
    if (logs) {
      const pre = el("pre", { text: "loading…" });
      const details = el("details", {}, el("summary", { text: "log tail" }), pre);
      details.addEventListener("toggle", () => {
        if (!details.open) return;
        pre.textContent = "loading…";
        fetch(`api/job-log?id=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`)
          .then((r) => r.text().then((text) => (pre.textContent = r.ok ? text || "(no output yet)" : text)))
          .catch((error) => (pre.textContent = `could not load: ${error}`));
      });
      output.append(details);
    } else {
      output.textContent = "—";
      output.title = "this backend cannot read job output";
    }
    const tr = el("tr", { data: { job: id } }, ...cells, output);
    return { tr, cells };
  }

  function updateJobRow(row, job) {
    const [id, state, host, queued, running, walltime, workers] = row.cells;
    row.tr.dataset.state = job.state;
    id.textContent = job.id;
    state.replaceChildren(el("span", { className: `state ${job.state}`, text: job.state, title: job.detail || "" }));
    if (job.detail) state.append(el("div", { className: "muted", text: job.detail }));
    host.textContent = job.host || "—";
    queued.textContent = fmt.duration(job.queuedSeconds);
    running.textContent = fmt.duration(job.runningSeconds);
    walltime.textContent = job.walltimeLeftSeconds === undefined ? (job.walltimeSeconds === undefined ? "none enforced" : "—") : fmt.duration(job.walltimeLeftSeconds);
    workers.textContent = String(job.workers.length);
    workers.title = job.workers.join(", ");
  }

  function renderLoad(s) {
    const l = s.load;
    const t = s.totals.tasks;
    dl($("load"), [
      ["event-loop delay p50 / p99 / max", `${l.eventLoopDelayMs.p50.toFixed(1)} / ${l.eventLoopDelayMs.p99.toFixed(1)} / ${l.eventLoopDelayMs.max.toFixed(1)} ms`],
      ["CPU", fmt.percent(l.cpuPercent)],
      ["RSS", fmt.bytes(l.rssBytes)],
      ["heap", fmt.bytes(l.heapUsedBytes)],
      ["up", fmt.duration(l.uptimeSeconds)],
      ["tasks", Object.entries(t).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(", ") || "none"],
    ]);
    const data = [view.load.map((p) => p.t / 1000), view.load.map((p) => p.p99), view.load.map((p) => p.cpu)];
    // One sample draws no line, and uPlot would stretch its time axis over years.
    $("load-chart").hidden = view.load.length < 2;
    if (view.load.length < 2) return;
    if (!charts.load) {
      charts.load = new uPlot(
        {
          width: widthOf("load-chart"),
          height: 180,
          legend: { live: false },
          scales: { x: { time: true }, ms: { auto: true, range: (u, min, max) => [0, Math.max(5, max)] }, pct: { range: (u, min, max) => [0, Math.max(100, max)] } },
          series: [{}, { label: "event-loop delay p99 (ms)", scale: "ms", stroke: "#1c7ed6", width: 1.5 }, { label: "CPU (%)", scale: "pct", stroke: "#f08c00", width: 1.5 }],
          axes: [{}, { scale: "ms", label: "ms", size: 50 }, { scale: "pct", side: 1, label: "%", size: 50, grid: { show: false } }],
        },
        data,
        $("load-chart"),
      );
    } else charts.load.setData(data);
  }

  const charts = { stream: null, load: null };
  function widthOf(id) {
    return Math.max(300, $(id).clientWidth - 4);
  }

  function renderStream(s) {
    // Rows: connected workers, then workers that left but still have tasks in the window.
    const names = s.workers.map((w) => w.name);
    for (const e of view.stream) if (!names.includes(e.worker)) names.push(e.worker);
    view.rows = names;
    $("stream-chart").dataset.events = String(view.stream.length);
    const prefixes = [...new Set(view.stream.map((e) => e.prefix))];
    $("stream-legend").replaceChildren(...prefixes.map((p) => el("span", {}, swatch(p), p)));
    // From the oldest task kept (at least the last 30 s, at most STREAM_WINDOW_S) to now.
    const now = s.time / 1000;
    const oldest = view.stream.length > 0 ? view.stream[0].start / 1000 - 0.5 : now - 60;
    // A report shows exactly its block of time; the live page at least the last 10 s.
    const from = report ? Math.min(report.from / 1000, oldest) : Math.max(now - STREAM_WINDOW_S, Math.min(now - 10, oldest));
    const data = [[from, now], [null, null]];
    const height = Math.max(140, names.length * 24 + 60);
    if (!charts.stream) {
      charts.stream = new uPlot(
        {
          width: widthOf("stream-chart"),
          height,
          legend: { show: false },
          scales: { x: { time: true }, y: { auto: false, range: () => [-0.5, Math.max(1, view.rows.length) - 0.5] } },
          series: [{}, { stroke: "transparent", points: { show: false } }],
          axes: [{}, { size: 130, splits: () => view.rows.map((_, i) => i), values: (u, splits) => splits.map((i) => view.rows[i] || ""), grid: { show: false } }],
          hooks: { draw: [drawTaskStream] },
        },
        data,
        $("stream-chart"),
      );
    } else {
      if (charts.stream.height !== height) charts.stream.setSize({ width: widthOf("stream-chart"), height });
      charts.stream.setData(data);
    }
  }

  /** Each finished task is a bar from its start to its stop on its worker's row. */
  function drawTaskStream(u) {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    const rowOf = new Map(view.rows.map((name, i) => [name, i]));
    const rowHeight = Math.max(2, (height / Math.max(1, view.rows.length)) * 0.7);
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    for (const e of view.stream) {
      const row = rowOf.get(e.worker);
      if (row === undefined) continue;
      const x0 = u.valToPos(e.start / 1000, "x", true);
      const x1 = Math.max(x0 + 1, u.valToPos(e.stop / 1000, "x", true));
      const y = u.valToPos(row, "y", true);
      ctx.fillStyle = e.ok ? colourOf(e.prefix) : "#e03131";
      ctx.fillRect(x0, y - rowHeight / 2, x1 - x0, rowHeight);
    }
    ctx.restore();
  }

  window.addEventListener("resize", () => {
    if (charts.stream) charts.stream.setSize({ width: widthOf("stream-chart"), height: charts.stream.height });
    if (charts.load) charts.load.setSize({ width: widthOf("load-chart"), height: 180 });
  });

  if (report) {
    setStatus("report", `performance report: ${report.title} · ${new Date(report.from).toLocaleString()} · ${((report.to - report.from) / 1000).toFixed(1)} s`);
    receive({ type: "update", snapshot: report.snapshot, stream: report.stream, loadHistory: report.loadHistory });
  } else {
    connect();
  }
})();
