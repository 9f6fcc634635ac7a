// One job's page, live over its server-sent events: status, progress, fields, its trace (a link
// with TRACE_URL_TEMPLATE), durable steps, the signal it waits for; abort, retry, signal.
import { $, BASE, FINAL, api, el, jobsChanged, known, statusBadge, when } from "./common.js";

const open = { job: null, events: null }; // the JobView shown and its EventSource

export async function openJob(id) {
  closeJob();
  showJob(await api(`/jobs/${encodeURIComponent(id)}`));
  // A link to this job (`#job={id}`), and the detail brought into view.
  history.replaceState(null, "", `#job=${encodeURIComponent(id)}`);
  $("#detail").scrollIntoView({ behavior: "smooth", block: "start" });
  if (FINAL.has(open.job.status)) return;
  const events = new EventSource(`${BASE}/jobs/${encodeURIComponent(id)}/events`);
  events.addEventListener("job", (event) => {
    showJob(JSON.parse(event.data));
    if (FINAL.has(open.job.status)) events.close(); // else it would reconnect
  });
  open.events = events;
}

function closeJob() {
  if (open.events) open.events.close();
  open.events = null;
  open.job = null;
  $("#detail").hidden = true;
}

export function jobLink(id) {
  const link = el("a", { href: `#job=${encodeURIComponent(id)}`, "data-job-link": id },
    el("code", {}, id));
  link.addEventListener("click", (event) => {
    event.preventDefault();
    openJob(id).catch((error) => { $("#detail-error").textContent = error.message; });
  });
  return link;
}

function traceField(traceId) {
  // The id always (to paste into any tracing UI); a link where TRACE_URL_TEMPLATE says.
  const template = known.config.trace_url_template;
  const id = el("code", { "data-trace-id": traceId }, traceId);
  if (!template) return id;
  const href = template.replaceAll("{trace_id}", encodeURIComponent(traceId));
  return el("a", { href, target: "_blank", rel: "noopener noreferrer", id: "trace-link" }, id);
}

function stepsList(steps) {
  return el("ol", { class: "steps" }, ...steps.map((step) => el("li", { "data-step": step }, step)));
}

function showJob(job) {
  open.job = job;
  $("#detail").hidden = false;
  $("#detail").dataset.status = job.status;
  $("#detail-id").textContent = job.id;
  $("#detail-status").replaceWith(Object.assign(statusBadge(job.status), { id: "detail-status" }));
  const fraction = job.progress ? job.progress.fraction : 0;
  $("#detail-progress-bar").style.width = `${Math.round(fraction * 100)}%`;
  $("#detail-progress-message").textContent = job.progress ? job.progress.message : "";
  const fields = [
    ["job", job.name], ["queue", job.queue], ["priority", job.priority],
    ["tries", `${job.tries} of ${job.max_tries ?? "?"}`],
    ["enqueued", when(job.enqueued_at)], ["scheduled for", when(job.scheduled_for)],
    ["started", when(job.started_at)], ["finished", when(job.finished_at)],
    ["worker", job.worker || "–"],
  ];
  if (job.trace_id) fields.push(["trace", traceField(job.trace_id)]);
  if (job.waiting_for) {
    // Held back by a limit: still queued, and why (a rate limit also says until when).
    const until = job.waiting_until ? ` until ${when(job.waiting_until)}` : " (a slot to free)";
    fields.push(["waiting for", `${job.waiting_for.replace("_", " ")}${until}`]);
  }
  if (job.waiting_for_signal) {
    // Parked in ctx.wait_for_signal: no slot held; it fails SignalTimeout at scheduled_for.
    fields.push(["waiting for signal",
      el("span", {}, el("code", {}, job.waiting_for_signal), ` (until ${when(job.scheduled_for)})`)]);
  }
  if (job.steps && job.steps.length) fields.push(["steps", stepsList(job.steps)]);
  if (job.expires_at) fields.push(["expires", when(job.expires_at)]);
  if (job.after && job.after.length) {
    // The jobs it waits for (or waited for, until it is final): each opens on a click.
    fields.push(["after", el("span", { class: "parents" }, ...job.after.map(jobLink))]);
  }
  if (job.after && job.waiting_on !== null && job.waiting_on !== undefined) {
    fields.push(["waiting on", `${job.waiting_on} of ${job.after.length} not final yet`]);
  }
  $("#detail-fields").replaceChildren(...fields.flatMap(([k, v]) =>
    [el("dt", {}, k), el("dd", { "data-field": k }, v)]));
  $("#signal").hidden = !job.waiting_for_signal;
  $("#signal-name").textContent = job.waiting_for_signal || "";
  $("#detail-input").textContent = JSON.stringify(job.input, null, 2);
  const failed = job.error !== null && job.error !== undefined;
  $("#detail-outcome-title").textContent = failed ? "error" : "result";
  $("#detail-outcome").textContent = JSON.stringify(failed ? job.error : job.result, null, 2);
  $("#abort").disabled = FINAL.has(job.status);
  $("#retry").disabled = !["failed", "aborted"].includes(job.status);
}

async function act(request) {
  $("#detail-error").textContent = "";
  try {
    const job = await request();
    jobsChanged();
    // Opened afresh (read again, its stream restarted): the action's answer may be older than
    // what the closing stream showed meanwhile (a signalled job completes within milliseconds).
    if (job) await openJob(job.id);
  } catch (error) {
    $("#detail-error").textContent = error.message;
  }
}

function signalBody() {
  // What wait_for_signal returns: any JSON (empty: null).
  const text = $("#signal-body").value.trim();
  return text ? JSON.parse(text) : null;
}

export function startJobPage() {
  const path = () => `/jobs/${encodeURIComponent(open.job.id)}`;
  $("#close-detail").addEventListener("click", closeJob);
  $("#copy-id").addEventListener("click", () =>
    navigator.clipboard.writeText(open.job.id).then(() => {
      $("#copy-id").textContent = "copied";
      setTimeout(() => { $("#copy-id").textContent = "copy"; }, 1500);
    }));
  $("#abort").addEventListener("click", () => act(() => api(path(), { method: "DELETE" })));
  $("#retry").addEventListener("click", () => act(() => api(`${path()}/retry`, { method: "POST" })));
  $("#signal").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = encodeURIComponent(open.job.waiting_for_signal);
    act(() => api(`${path()}/signals/${name}`, { method: "POST", body: JSON.stringify(signalBody()) }));
  });
}
