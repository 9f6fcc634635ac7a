// The dashboard: plain JavaScript over the JSON API. Lists are polled every 2 s; the open job
// follows its server-sent events. Authentication is the browser's (HTTP Basic, see auth.py).
"use strict";

const POLL_MS = 2000;
// Where the API is: the dashboard's own path without `/dashboard/`, so that the service works
// mounted under a prefix of another app (`/jobsvc/dashboard/` talks to `/jobsvc/...`).
const BASE = location.pathname.replace(/\/dashboard\/?$/, "");
const FINAL = new Set(["complete", "failed", "aborted"]);
const $ = (selector) => document.querySelector(selector);

const state = {
  jobTypes: [],
  cursor: null, // the page shown: null is the newest
  nextCursor: null,
  detail: null, // the open JobView
  events: null, // its EventSource
  lastStats: null, // {at, finished, failed} of the previous poll, for rates
  graph: null, // the workflow or batch shown: {kind, id}
};

// --- helpers --------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child ?? "");
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(BASE + path, {
    ...options,
    // X-Requested-By: a page of another site cannot send it, so the service takes the
    // browser's cached credentials for a change only with it (see service/cross_site.py).
    headers: {
      "Content-Type": "application/json",
      "X-Requested-By": "jobsvc-dashboard",
      ...(options.headers || {}),
    },
  });
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const body = isJson ? await response.json() : null;
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return body;
}

function when(iso) {
  // Local time, with its zone spelled out (the API speaks UTC).
  return iso ? new Date(iso).toLocaleString(undefined, { timeZoneName: "short" }) : "–";
}

function duration(job) {
  if (!job.started_at || !job.finished_at) return "–";
  return seconds((new Date(job.finished_at) - new Date(job.started_at)) / 1000);
}

const HOUSEKEEPING = new Set(["cleanup_job_records", "heartbeat_report"]);

function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(1)} s`;
  return `${(value / 60).toFixed(1)} min`;
}

function statusBadge(status) {
  return el("span", { class: `status status-${status}` }, status);
}

function progressBar(progress, className = "progress mini") {
  const bar = el("div");
  bar.style.width = `${Math.round((progress ? progress.fraction : 0) * 100)}%`;
  return el("div", { class: className }, bar);
}

// --- overview: queues, workers, rates, job types ----------------------------------------------

async function refreshOverview() {
  const [queues, stats] = await Promise.all([api("/queues"), api("/stats")]);
  $("#queues").replaceChildren(...queues.map((q) => el("tr", { "data-queue": q.name },
    el("td", {}, q.name, unknownJobs(q)), el("td", {}, q.queued),
    el("td", { class: "held" }, q.held),
    el("td", {}, q.deferred),
    el("td", {}, q.in_progress), el("td", {}, q.failed),
    el("td", {}, seconds(q.oldest_waiting_s)), el("td", {}, q.workers),
    el("td", {}, pauseButton(q)))));
  $("#workers").replaceChildren(...stats.workers.map((w) => el("tr", {},
    el("td", {}, el("code", {}, w.id)), el("td", {}, `${seconds(w.heartbeat_age_s)} ago`),
    el("td", {}, w.running), el("td", {}, w.complete), el("td", {}, w.failed),
    el("td", {}, w.retried))));
  $("#oldest-running").textContent = seconds(stats.oldest_running_s);
  showRates(stats.jobs);
  showJobTypes(stats.jobs);
  showLimits(await api("/limits"));
  showCron(await api("/cron"));
  showHistory(await api("/stats/history"));
}

function unknownJobs(queue) {
  // Put back by workers that do not know them (a rolling deploy): waiting for one that does.
  if (!queue.unknown_jobs) return "";
  return el("small", { class: "muted unknown-jobs", title: queue.unknown_job_names.join(", ") },
    ` ${queue.unknown_jobs} waiting for a worker that knows them`);
}

function showHistory(minutes) {
  // One stacked bar per minute (complete below, failed on top), scaled to the busiest minute.
  const svg = $("#history");
  const ns = "http://www.w3.org/2000/svg";
  const width = 600 / minutes.length;
  const peak = Math.max(1, ...minutes.map((m) => m.complete + m.failed));
  const bar = (x, y, h, cls, title) => {
    const r = document.createElementNS(ns, "rect");
    Object.entries({ x, y, width: Math.max(width - 1, 1), height: h, class: cls })
      .forEach(([k, v]) => r.setAttribute(k, v));
    const t = document.createElementNS(ns, "title");
    t.textContent = title;
    r.append(t);
    return r;
  };
  svg.replaceChildren(...minutes.flatMap((m, i) => {
    const ok = (80 * m.complete) / peak;
    const bad = (80 * m.failed) / peak;
    const label = `${when(m.at)}: ${m.complete} complete, ${m.failed} failed`;
    return [bar(i * width, 80 - ok, ok, "bar-ok", label),
      bar(i * width, 80 - ok - bad, bad, "bar-bad", label)];
  }));
  svg.dataset.total = minutes.reduce((n, m) => n + m.complete + m.failed, 0);
}

function limitsText(limits) {
  // A job type's declared flow control, short: "3 at once per customer · 20/s · unique 60 s".
  const per = (key) => (key ? ` per ${key}` : "");
  const parts = [];
  if (limits.concurrency) parts.push(`${limits.concurrency} at once${per(limits.concurrency_key)}`);
  if (limits.rate_limit) {
    const burst = limits.rate_burst > 1 ? ` (burst ${limits.rate_burst})` : "";
    parts.push(`${limits.rate_limit}${burst}${per(limits.rate_key)}`);
  }
  if (limits.unique_for_s) parts.push(`unique ${seconds(limits.unique_for_s)}${per(limits.unique_key)}`);
  if (limits.debounce_s) parts.push(`debounce ${seconds(limits.debounce_s)}${per(limits.unique_key)}`);
  if (limits.expires_s) parts.push(`expires ${seconds(limits.expires_s)}`);
  return parts.join(" · ");
}

function showLimits(gates) {
  // One row per gate (a job type's limit, or its limit for one key value).
  const next = (g) => (g.kind === "rate_limit" ? when(g.next_admission)
    : g.held ? "when a slot frees" : "–");
  $("#limits").replaceChildren(...gates.map((g) => el("tr", { "data-gate": g.gate },
    el("td", {}, el("code", {}, g.job), g.key !== null ? ` ${g.key}` : ""),
    el("td", {}, g.kind === "concurrency" ? `${g.limit ?? "?"} at once` : g.rate_limit ?? "rate"),
    el("td", { class: "running" }, g.kind === "concurrency" ? `${g.running}/${g.limit ?? "?"}` : "–"),
    el("td", { class: "held" }, g.held), el("td", {}, next(g)))));
  if (!gates.length) {
    $("#limits").append(el("tr", {}, el("td", { class: "muted", colSpan: 5 }, "no job held or limited")));
  }
}

function showCron(schedules) {
  // Pause, resume or run a schedule now: the same calls as POST /cron/{name}/...
  const button = (s, action) => {
    const b = el("button", { type: "button", class: `cron-${action}` }, action);
    b.addEventListener("click", async () => {
      b.disabled = true;
      await api(`/cron/${encodeURIComponent(s.name)}/${action}`, { method: "POST" });
      await refreshOverview();
    });
    return b;
  };
  $("#cron").replaceChildren(...schedules.map((s) => el("tr", { "data-schedule": s.name },
    el("td", {}, s.name, s.paused ? el("span", { class: "status status-paused" }, " paused") : ""),
    el("td", {}, s.job), el("td", {}, el("code", {}, `${s.cron} ${s.tz}`)),
    el("td", {}, s.paused ? "–" : when(s.next_run)), el("td", {}, when(s.last_run)),
    el("td", {}, button(s, s.paused ? "resume" : "pause"), " ", button(s, "run")))));
}

function pauseButton(queue) {
  // A paused queue accepts jobs and starts none; the button says what a click does.
  const action = queue.paused ? "resume" : "pause";
  const button = el("button", { type: "button", class: `queue-${action}` }, action);
  button.addEventListener("click", async () => {
    button.disabled = true;
    await api(`/queues/${encodeURIComponent(queue.name)}/${action}`, { method: "POST" });
    await refreshOverview();
  });
  return el("span", {}, queue.paused ? el("span", { class: "status status-paused" }, "paused ") : "",
    button);
}

function showRates(jobs) {
  const finished = jobs.reduce((n, j) => n + j.complete + j.failed + j.aborted, 0);
  const failed = jobs.reduce((n, j) => n + j.failed, 0);
  const now = Date.now();
  const last = state.lastStats;
  if (last) {
    const done = finished - last.finished;
    $("#throughput").textContent = (done / ((now - last.at) / 1000)).toFixed(2);
    const sinceLoad = finished - state.firstStats.finished;
    const failedSinceLoad = failed - state.firstStats.failed;
    $("#failure-rate").textContent = sinceLoad
      ? `${((100 * failedSinceLoad) / sinceLoad).toFixed(1)} %` : "–";
  } else {
    state.firstStats = { finished, failed };
  }
  state.lastStats = { at: now, finished, failed };
}

function showJobTypes(jobs) {
  const byName = Object.fromEntries(jobs.map((j) => [j.name, j]));
  $("#job-types").replaceChildren(...state.jobTypes.map((t) => {
    const s = byName[t.name] || { complete: 0, failed: 0, retried: 0, aborted: 0 };
    const cron = t.cron.map((c) => `${c.schedule} (${when(c.next_run)})`).join("; ");
    return el("tr", {}, el("td", {}, t.name), el("td", {}, s.complete), el("td", {}, s.failed),
      el("td", {}, s.retried), el("td", {}, s.aborted), el("td", {}, seconds(s.mean_duration_s)),
      el("td", { class: "limits" }, limitsText(t.limits || {}) || "–"),
      el("td", { class: "muted" }, cron || "–"));
  }));
}

// --- the job list -------------------------------------------------------------------------------

async function refreshList() {
  const params = new URLSearchParams({ limit: "25" });
  const status = $("#filter-status").value;
  const name = $("#filter-name").value;
  if (status) params.set("status", status);
  if (name) params.set("name", name);
  if (state.cursor) params.set("cursor", state.cursor);
  const page = await api(`/jobs?${params}`);
  state.nextCursor = page.next_cursor;
  $("#older").disabled = !page.next_cursor;
  $("#newest").disabled = !state.cursor;
  const hide = $("#hide-housekeeping").checked && !name;
  const jobs = page.jobs.filter((job) => !(hide && HOUSEKEEPING.has(job.name)));
  $("#jobs").replaceChildren(...jobs.map((job) => {
    const link = el("a", { href: `#job=${encodeURIComponent(job.id)}` }, el("code", {}, job.id));
    const row = el("tr", { "data-job-id": job.id, "data-status": job.status },
      el("td", {}, link), el("td", {}, job.name),
      el("td", {}, job.queue), el("td", {}, job.priority),
      el("td", {}, statusBadge(job.status)), el("td", {}, `${job.tries}/${job.max_tries ?? "?"}`),
      el("td", {}, when(job.enqueued_at)), el("td", {}, duration(job)),
      el("td", { class: "error-text" }, job.error ? `${job.error.type}: ${job.error.message}` : ""),
      el("td", {}, progressBar(job.progress)));
    row.addEventListener("click", () => openJob(job.id));
    return row;
  }));
}

function resetList() {
  state.cursor = null;
  refreshList().catch(showConnection);
}

// --- job detail, live over server-sent events ------------------------------------------------

async function openJob(id) {
  closeJob();
  showJob(await api(`/jobs/${encodeURIComponent(id)}`));
  // A link to this job (`#job={id}`), and the detail brought into view.
  history.replaceState(null, "", `#job=${encodeURIComponent(id)}`);
  $("#detail").scrollIntoView({ behavior: "smooth", block: "start" });
  if (FINAL.has(state.detail.status)) return;
  const events = new EventSource(`${BASE}/jobs/${encodeURIComponent(id)}/events`);
  events.addEventListener("job", (event) => {
    showJob(JSON.parse(event.data));
    if (FINAL.has(state.detail.status)) events.close(); // else it would reconnect
  });
  state.events = events;
}

function closeJob() {
  if (state.events) state.events.close();
  state.events = null;
  state.detail = null;
  $("#detail").hidden = true;
}

function showJob(job) {
  state.detail = job;
  $("#detail").hidden = false;
  $("#detail").dataset.status = job.status;
  $("#detail-id").textContent = job.id;
  $("#detail-status").replaceWith(Object.assign(statusBadge(job.status), { id: "detail-status" }));
  const fraction = job.progress ? job.progress.fraction : 0;
  $("#detail-progress-bar").style.width = `${Math.round(fraction * 100)}%`;
  $("#detail-progress-message").textContent = job.progress ? job.progress.message : "";
  const fields = [
    ["job", job.name], ["queue", job.queue], ["priority", job.priority], ["tries", `${job.tries} of ${job.max_tries ?? "?"}`],
    ["enqueued", when(job.enqueued_at)], ["scheduled for", when(job.scheduled_for)],
    ["started", when(job.started_at)], ["finished", when(job.finished_at)],
    ["worker", job.worker || "–"],
  ];
  if (job.waiting_for) {
    // Held back by a limit: still queued, and why (a rate limit also says until when).
    const until = job.waiting_until ? ` until ${when(job.waiting_until)}` : " (a slot to free)";
    fields.push(["waiting for", `${job.waiting_for.replace("_", " ")}${until}`]);
  }
  if (job.expires_at) fields.push(["expires", when(job.expires_at)]);
  if (job.after && job.after.length) {
    // The jobs it waits for (or waited for, until it is final): each opens on a click.
    fields.push(["after", el("span", { class: "parents" }, ...job.after.map(jobLink))]);
  }
  if (job.waiting_on !== null && job.waiting_on !== undefined) {
    const of = job.after ? ` of ${job.after.length}` : "";
    fields.push(["waiting on", `${job.waiting_on}${of} not final yet`]);
  }
  $("#detail-fields").replaceChildren(...fields.flatMap(([k, v]) =>
    [el("dt", {}, k), el("dd", { "data-field": k }, v)]));
  $("#detail-input").textContent = JSON.stringify(job.input, null, 2);
  const failed = job.error !== null && job.error !== undefined;
  $("#detail-outcome-title").textContent = failed ? "error" : "result";
  $("#detail-outcome").textContent = JSON.stringify(failed ? job.error : job.result, null, 2);
  $("#abort").disabled = FINAL.has(job.status);
  $("#retry").disabled = !["failed", "aborted"].includes(job.status);
}

function jobLink(id) {
  const link = el("a", { href: `#job=${encodeURIComponent(id)}`, "data-job-link": id },
    el("code", {}, id));
  link.addEventListener("click", (event) => {
    event.preventDefault();
    openJob(id).catch((error) => { $("#detail-error").textContent = error.message; });
  });
  return link;
}

async function act(request) {
  $("#detail-error").textContent = "";
  try {
    const job = await request();
    resetList();
    if (job && job.id !== state.detail.id) await openJob(job.id);
    else if (job) showJob(job);
  } catch (error) {
    $("#detail-error").textContent = error.message;
  }
}

// --- a workflow or a batch: its jobs, their states, and what each waits for ------------------------

const BATCH_SHOWN = 50; // a batch may hold 10,000 jobs: the first ones are shown one by one

function nodeOf(key, jobId, job, after) {
  return {
    key, jobId, after, name: job ? job.name : "",
    status: job ? job.status : "gone", // its record expired
    tries: job ? job.tries : null,
    error: job && job.error ? `${job.error.type}: ${job.error.message}` : "",
  };
}

async function jobOrNull(id) {
  try {
    return await api(`/jobs/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error.message.startsWith("404")) return null;
    throw error;
  }
}

async function graphNodes(kind, view) {
  if (kind === "workflows") {
    // A compact view (past 100 nodes) has statuses, no JobViews and no edges.
    return Object.entries(view.nodes).map(([key, n]) => Object.assign(
      nodeOf(key, n.job_id, n.job, n.after || []), n.job ? {} : { status: n.status || "gone" }));
  }
  const shown = view.jobs.slice(0, BATCH_SHOWN);
  const jobs = await Promise.all(shown.map(jobOrNull));
  const members = shown.map((id, i) => nodeOf(`job ${i + 1}`, id, jobs[i], []));
  const callbacks = ["on_success", "on_complete"].filter((c) => view[c]).map((c) =>
    nodeOf(c, view[c].id, view[c], members.map((m) => m.key)));
  return [...members, ...callbacks];
}

async function showGraph(kind, id) {
  const view = await api(`/${kind}/${encodeURIComponent(id)}`);
  const nodes = await graphNodes(kind, view);
  state.graph = { kind, id };
  $("#graph-view").hidden = false;
  $("#graph-view").dataset.status = view.status;
  $("#graph-status").replaceWith(Object.assign(statusBadge(view.status), { id: "graph-status" }));
  $("#graph-summary").textContent = kind === "batches"
    ? `${view.total} jobs: ${view.pending} pending, ${view.complete} complete, ${view.failed} failed, `
      + `${view.aborted} aborted${view.total > BATCH_SHOWN ? ` (the first ${BATCH_SHOWN} shown)` : ""}`
    : `${nodes.length} jobs, created ${when(view.created_at)}`;
  drawGraph(nodes);
  $("#graph-nodes").replaceChildren(...nodes.map((n) => el("tr",
    { "data-node": n.key, "data-status": n.status },
    el("td", {}, n.key), el("td", {}, jobLink(n.jobId), " ", n.name),
    el("td", {}, statusBadge(n.status)),
    el("td", {}, n.after.length > 3 ? `${n.after.length} jobs` : n.after.join(", ") || "–"),
    el("td", {}, n.tries ?? "–"), el("td", { class: "error-text" }, n.error))));
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
  node.append(...children);
  return node;
}

function drawGraph(nodes) {
  // Columns by depth (the longest chain of parents before a node), parents to the left.
  const byKey = Object.fromEntries(nodes.map((n) => [n.key, n]));
  const depth = {};
  const depthOf = (key, seen = new Set()) => {
    if (depth[key] !== undefined) return depth[key];
    if (seen.has(key)) return 0; // a cycle cannot be written; be safe anyway
    seen.add(key);
    const parents = byKey[key].after.filter((p) => byKey[p]);
    depth[key] = parents.length ? 1 + Math.max(...parents.map((p) => depthOf(p, seen))) : 0;
    return depth[key];
  };
  const columns = [];
  for (const n of nodes) (columns[depthOf(n.key)] ||= []).push(n);
  const [W, H, GAP_X, GAP_Y] = [150, 26, 50, 8];
  const at = {};
  columns.forEach((column, c) => column.forEach((n, r) => {
    at[n.key] = { x: 10 + c * (W + GAP_X), y: 10 + r * (H + GAP_Y) };
  }));
  const width = 20 + columns.length * (W + GAP_X) - GAP_X;
  const height = 20 + Math.max(...columns.map((col) => col.length)) * (H + GAP_Y) - GAP_Y;
  const edges = nodes.flatMap((n) => n.after.filter((p) => at[p]).map((p) => {
    const [a, b] = [at[p], at[n.key]];
    const [x1, y1, x2, y2] = [a.x + W, a.y + H / 2, b.x, b.y + H / 2];
    const mid = (x1 + x2) / 2;
    return svg("path", { class: "edge", "data-edge": `${p}>${n.key}`,
      d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2 - 4},${y2}` });
  }));
  const boxes = nodes.map((n) => {
    const g = svg("g", { class: "node", "data-node": n.key, "data-status": n.status },
      svg("rect", { x: at[n.key].x, y: at[n.key].y, width: W, height: H, class: `fill-${n.status}` }),
      svg("text", { x: at[n.key].x + 6, y: at[n.key].y + 17 }, `${n.key} · ${n.status}`),
      svg("title", {}, `${n.key}: ${n.name} ${n.jobId} (${n.status})`));
    g.addEventListener("click", () => openJob(n.jobId).catch(showConnection));
    return g;
  });
  const arrow = svg("marker", { id: "arrow", viewBox: "0 0 6 6", refX: 5, refY: 3,
    markerWidth: 6, markerHeight: 6, orient: "auto" }, svg("path", { d: "M0,0 L6,3 L0,6 z", fill: "#94a3b8" }));
  const box = $("#graph-svg");
  box.setAttribute("viewBox", `0 0 ${width} ${height}`);
  box.style.height = `${Math.min(height, 400)}px`;
  box.style.maxWidth = `${width}px`;
  box.replaceChildren(svg("defs", {}, arrow), ...edges, ...boxes);
}

async function lookUpGraph(event) {
  event.preventDefault();
  $("#graph-error").textContent = "";
  const kind = $("#graph-kind").value;
  const id = $("#graph-id").value.trim();
  try {
    await showGraph(kind, id);
    history.replaceState(null, "", `#${kind === "workflows" ? "workflow" : "batch"}=${encodeURIComponent(id)}`);
  } catch (error) {
    state.graph = null;
    $("#graph-view").hidden = true;
    $("#graph-error").textContent = error.message;
  }
}

// --- enqueue: a form generated from the job's input JSON Schema -----------------------------------

function fieldFor(name, schema, required) {
  const title = `${schema.title || name}${required ? " *" : ""}`;
  const attrs = { name, "data-kind": schema.type || "json", required };
  let input;
  if (schema.type === "boolean") {
    input = el("input", { ...attrs, type: "checkbox", checked: schema.default === true });
  } else if (schema.type === "integer" || schema.type === "number") {
    input = el("input", { ...attrs, type: "number", step: schema.type === "integer" ? "1" : "any" });
    if (schema.default !== undefined) input.placeholder = String(schema.default);
  } else if (schema.type === "string") {
    input = el("input", { ...attrs, type: "text" });
    if (schema.default !== undefined) input.placeholder = schema.default;
  } else {
    input = el("textarea", { ...attrs, rows: 3, placeholder: "JSON" });
    if (schema.default !== undefined) input.placeholder = JSON.stringify(schema.default);
  }
  return el("label", {}, title, schema.description ? el("small", { class: "muted" }, ` ${schema.description}`) : "", input);
}

function showForm() {
  const type = state.jobTypes.find((t) => t.name === $("#enqueue-type").value);
  if (!type) return;
  const schema = type.input_schema;
  const required = new Set(schema.required || []);
  $("#enqueue-description").textContent = type.description;
  $("#enqueue-fields").replaceChildren(...Object.entries(schema.properties || {}).map(
    ([name, prop]) => fieldFor(name, prop, required.has(name))));
}

function formPayload() {
  const payload = {};
  for (const input of $("#enqueue-fields").querySelectorAll("[name]")) {
    const kind = input.dataset.kind;
    if (kind === "boolean") payload[input.name] = input.checked;
    else if (input.value === "") continue; // the model's default applies
    else if (kind === "integer" || kind === "number") payload[input.name] = Number(input.value);
    else if (kind === "string") payload[input.name] = input.value;
    else payload[input.name] = JSON.parse(input.value);
  }
  return payload;
}

async function enqueue(event) {
  event.preventDefault();
  $("#enqueue-error").textContent = "";
  try {
    const name = $("#enqueue-type").value;
    const defer = $("#enqueue-defer").value;
    const params = new URLSearchParams();
    if (defer) params.set("defer_by", defer);
    const after = $("#enqueue-after").value.split(/[\s,]+/).filter(Boolean);
    for (const id of after) params.append("after", id);
    if (after.length) params.set("on_parent_failure", $("#enqueue-on-parent-failure").value);
    const query = params.toString() ? `?${params}` : "";
    const body = JSON.stringify(formPayload());
    const job = await api(`/jobs/${encodeURIComponent(name)}${query}`, { method: "POST", body });
    resetList();
    await openJob(job.id);
  } catch (error) {
    $("#enqueue-error").textContent = error.message;
  }
}

// --- start --------------------------------------------------------------------------------------

function showConnection(error) {
  $("#connection").textContent = error ? `error: ${error.message}` : `updated ${new Date().toLocaleTimeString()}`;
}

async function poll() {
  try {
    const graph = state.graph ? showGraph(state.graph.kind, state.graph.id) : null;
    await Promise.all([refreshOverview(), refreshList(), graph]);
    showConnection(null);
  } catch (error) {
    showConnection(error);
  }
  setTimeout(poll, POLL_MS);
}

async function start() {
  state.jobTypes = await api("/job-types");
  for (const t of state.jobTypes) {
    $("#enqueue-type").append(el("option", { value: t.name }, t.name));
    $("#filter-name").append(el("option", { value: t.name }, t.name));
  }
  showForm();
  $("#enqueue-type").addEventListener("change", showForm);
  $("#enqueue").addEventListener("submit", enqueue);
  $("#filter-status").addEventListener("change", resetList);
  $("#filter-name").addEventListener("change", resetList);
  $("#hide-housekeeping").addEventListener("change", resetList);
  // Every failed job of the job type chosen in the filter (or of all types).
  const failedOf = () => {
    const name = $("#filter-name").value;
    return name ? `?name=${encodeURIComponent(name)}` : "";
  };
  const inBulk = async (path, method) => {
    const done = await api(path, { method });
    $("#connection").textContent = `${done.count} failed jobs ${method === "POST" ? "retried" : "purged"}`;
    resetList();
  };
  $("#retry-failed").addEventListener("click", () =>
    inBulk(`/failed/retry${failedOf()}`, "POST").catch(showConnection));
  $("#purge-failed").addEventListener("click", () => {
    if (confirm("Delete the failed jobs of this filter's job type (or of all types)?")) {
      inBulk(`/failed${failedOf()}`, "DELETE").catch(showConnection);
    }
  });
  $("#newest").addEventListener("click", resetList);
  $("#older").addEventListener("click", () => {
    state.cursor = state.nextCursor;
    refreshList().catch(showConnection);
  });
  $("#close-detail").addEventListener("click", closeJob);
  $("#copy-id").addEventListener("click", () =>
    navigator.clipboard.writeText(state.detail.id).then(() => {
      $("#copy-id").textContent = "copied";
      setTimeout(() => { $("#copy-id").textContent = "copy"; }, 1500);
    }));
  $("#abort").addEventListener("click", () =>
    act(() => api(`/jobs/${encodeURIComponent(state.detail.id)}`, { method: "DELETE" })));
  $("#retry").addEventListener("click", () =>
    act(() => api(`/jobs/${encodeURIComponent(state.detail.id)}/retry`, { method: "POST" })));
  poll();
  $("#graph-lookup").addEventListener("submit", lookUpGraph);
  const hash = new URLSearchParams(location.hash.slice(1));
  const linked = hash.get("job");
  if (linked) openJob(linked).catch(showConnection); // a link to one job: open it
  for (const [param, kind] of [["workflow", "workflows"], ["batch", "batches"]]) {
    if (!hash.get(param)) continue; // a link to a workflow or batch: show it
    $("#graph-kind").value = kind;
    $("#graph-id").value = hash.get(param);
    $("#graph-show").click();
  }
}

start().catch(showConnection);
