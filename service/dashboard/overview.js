// The overview: queues, workers, rates, the last hour, job types and the gates holding jobs.
import { $, api, el, known, seconds, svg, when } from "./common.js";

const rates = { last: null, first: null }; // {at, finished, failed}: the previous and first poll

export async function refreshOverview() {
  const [queues, stats, limits, history] = await Promise.all([
    api("/queues"), api("/stats"), api("/limits"), api("/stats/history")]);
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
  showLimits(limits);
  showHistory(history);
  return queues;
}

function unknownJobs(queue) {
  // Put back by workers that do not know them (a rolling deploy): waiting for one that does.
  if (!queue.unknown_jobs) return "";
  return el("small", { class: "muted unknown-jobs", title: queue.unknown_job_names.join(", ") },
    ` ${queue.unknown_jobs} waiting for a worker that knows them`);
}

function showHistory(minutes) {
  // One stacked bar per minute (complete below, failed on top), scaled to the busiest minute.
  const box = $("#history");
  const width = 600 / minutes.length;
  const peak = Math.max(1, ...minutes.map((m) => m.complete + m.failed));
  const bar = (x, y, h, cls, title) => svg("rect",
    { x, y, width: Math.max(width - 1, 1), height: h, class: cls }, svg("title", {}, title));
  box.replaceChildren(...minutes.flatMap((m, i) => {
    const ok = (80 * m.complete) / peak;
    const bad = (80 * m.failed) / peak;
    const label = `${when(m.at)}: ${m.complete} complete, ${m.failed} failed`;
    return [bar(i * width, 80 - ok, ok, "bar-ok", label),
      bar(i * width, 80 - ok - bad, bad, "bar-bad", label)];
  }));
  box.dataset.total = minutes.reduce((n, m) => n + m.complete + m.failed, 0);
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
  if (rates.last) {
    const done = finished - rates.last.finished;
    $("#throughput").textContent = (done / ((now - rates.last.at) / 1000)).toFixed(2);
    const sinceLoad = finished - rates.first.finished;
    const failedSinceLoad = failed - rates.first.failed;
    $("#failure-rate").textContent = sinceLoad
      ? `${((100 * failedSinceLoad) / sinceLoad).toFixed(1)} %` : "–";
  } else {
    rates.first = { finished, failed };
  }
  rates.last = { at: now, finished, failed };
}

function showJobTypes(jobs) {
  const byName = Object.fromEntries(jobs.map((j) => [j.name, j]));
  $("#job-types").replaceChildren(...known.jobTypes.map((t) => {
    const s = byName[t.name] || { complete: 0, failed: 0, retried: 0, aborted: 0 };
    const cron = t.cron.map((c) => `${c.schedule} (${when(c.next_run)})`).join("; ");
    return el("tr", {}, el("td", {}, t.name), el("td", {}, s.complete), el("td", {}, s.failed),
      el("td", {}, s.retried), el("td", {}, s.aborted), el("td", {}, seconds(s.mean_duration_s)),
      el("td", { class: "limits" }, limitsText(t.limits || {}) || "–"),
      el("td", { class: "muted" }, cron || "–"));
  }));
}
