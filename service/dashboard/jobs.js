// Find jobs (GET /jobs: id prefix, name, queue, status, enqueue time; newest first, paged) and
// act on every job the filter chooses (POST /jobs/abort, /jobs/retry), after a dry run's count.
import {
  $, api, confirmed, el, jobsChanged, post, progressBar, seconds, showConnection, statusBadge, when,
} from "./common.js";
import { openJob } from "./job.js";

const HOUSEKEEPING = new Set(["cleanup_job_records", "heartbeat_report"]);
const MIN_ID_PREFIX = 4; // GET /jobs refuses shorter ones: a prefix scans every queue
const page = { cursor: null, nextCursor: null }; // the page shown: a null cursor is the newest
let asked = 0; // requests made: an answer to an older one (a poll racing a new search) is dropped

function duration(job) {
  if (!job.started_at || !job.finished_at) return "–";
  return seconds((new Date(job.finished_at) - new Date(job.started_at)) / 1000);
}

function isoOf(local) {
  // A `datetime-local` value is the browser's local time; the API takes RFC 3339.
  return local ? new Date(local).toISOString() : null;
}

export function search() {
  // The search form as GET /jobs's parameters (those given).
  return Object.fromEntries(Object.entries({
    id_prefix: $("#filter-id").value.trim(),
    name: $("#filter-name").value,
    queue: $("#filter-queue").value,
    status: $("#filter-status").value,
    created_after: isoOf($("#filter-after").value),
    created_before: isoOf($("#filter-before").value),
  }).filter(([, value]) => value));
}

export async function refreshList() {
  const where = search();
  $("#list-error").textContent = "";
  if (where.id_prefix && where.id_prefix.length < MIN_ID_PREFIX) {
    $("#list-error").textContent = `an id prefix needs ${MIN_ID_PREFIX} characters at least`;
    return;
  }
  const params = new URLSearchParams({ limit: "25", ...where });
  if (page.cursor && !where.id_prefix) params.set("cursor", page.cursor);
  const mine = ++asked;
  let found;
  try {
    found = await api(`/jobs?${params}`);
  } catch (error) {
    if (mine === asked) $("#list-error").textContent = error.message; // a bad filter
    return;
  }
  if (mine !== asked) return;
  page.nextCursor = found.next_cursor;
  $("#older").disabled = !found.next_cursor;
  $("#newest").disabled = !page.cursor;
  const hide = $("#hide-housekeeping").checked && !where.name;
  const jobs = found.jobs.filter((job) => !(hide && HOUSEKEEPING.has(job.name)));
  $("#jobs").replaceChildren(...jobs.map((job) => {
    const link = el("a", { href: `#job=${encodeURIComponent(job.id)}` }, el("code", {}, job.id));
    const row = el("tr", { "data-job-id": job.id, "data-status": job.status },
      el("td", {}, link), el("td", {}, job.name),
      el("td", {}, job.queue), el("td", {}, job.priority),
      el("td", {}, statusBadge(job.status)), el("td", {}, `${job.tries}/${job.max_tries ?? "?"}`),
      el("td", {}, when(job.enqueued_at)), el("td", {}, duration(job)),
      el("td", { class: "error-text" }, job.error ? `${job.error.type}: ${job.error.message}` : ""),
      el("td", {}, progressBar(job.progress)));
    row.addEventListener("click", (event) => {
      event.preventDefault();
      openJob(job.id).catch(showConnection);
    });
    return row;
  }));
  $("#jobs").dataset.shown = jobs.length;
  if (!jobs.length) {
    $("#jobs").append(el("tr", {}, el("td", { class: "muted", colSpan: 10 }, "no job matches")));
  }
}

export function resetList() {
  page.cursor = null;
  refreshList().catch(showConnection);
}

export function showQueues(queues) {
  // The queue filter offers every queue /queues knows (new ones appear as they come).
  const select = $("#filter-queue");
  const offered = new Set([...select.options].map((o) => o.value));
  for (const q of queues) {
    if (!offered.has(q.name)) select.append(el("option", { value: q.name }, q.name));
  }
}

// --- acting on every job the filter chooses ------------------------------------------------

const ACTIONS = {
  abort: { statuses: ["queued", "deferred", "waiting"], verb: "Abort", done: "aborted" },
  retry: { statuses: ["failed", "aborted"], verb: "Retry", done: "retried" },
};
const MAX_CALLS = 20; // one click acts on 20 × 1000 jobs at most; a second click goes on

function selection(action) {
  // The search as the body of POST /jobs/{action}, or an Error saying why it cannot be one.
  const { id_prefix: prefix, status, ...rest } = search();
  if (prefix) throw new Error("an id prefix finds jobs one by one: clear it to act by filter");
  const allowed = ACTIONS[action].statuses;
  if (status && !allowed.includes(status)) {
    throw new Error(`${action} takes ${allowed.join(", ")} jobs, not ${status}`);
  }
  const body = { ...rest, ...(status ? { status: [status] } : {}) };
  if (!Object.keys(body).length) {
    throw new Error("choose a queue, name, status or time first: no filter never means every job");
  }
  return body;
}

function describe(action, body) {
  const statuses = body.status || ACTIONS[action].statuses;
  const parts = [`status ${statuses.join("/")}`];
  for (const key of ["name", "queue"]) if (body[key]) parts.push(`${key} ${body[key]}`);
  if (body.created_after) parts.push(`enqueued from ${when(body.created_after)}`);
  if (body.created_before) parts.push(`enqueued before ${when(body.created_before)}`);
  return parts.join(", ");
}

async function throughAll(action, body, dryRun) {
  // One call per 1000 jobs, each going on at the previous one's cursor, MAX_CALLS at most.
  const total = { count: 0, skipped: 0, more: false };
  let cursor = null;
  for (let calls = 0; calls < MAX_CALLS; calls += 1) {
    const answer = await post(`/jobs/${action}`, { ...body, dry_run: dryRun, ...(cursor ? { cursor } : {}) });
    total.count += answer.count;
    total.skipped += answer.skipped;
    cursor = answer.next_cursor;
    if (!cursor) return total;
  }
  return { ...total, more: true };
}

function report(text, count = null, failed = false) {
  const out = $("#bulk-result");
  out.textContent = text;
  out.className = failed ? "error" : "muted";
  if (count === null) delete out.dataset.count;
  else out.dataset.count = count;
}

async function actByFilter(action) {
  const { verb, done } = ACTIONS[action];
  report("counting…");
  try {
    const body = selection(action);
    const counted = await throughAll(action, body, true);
    if (!counted.count) {
      report(`no job to ${action}: none matches (${describe(action, body)})`, 0);
      return;
    }
    const atLeast = counted.more ? "at least " : "";
    const question = `${verb} ${atLeast}${counted.count} jobs? (${describe(action, body)})`;
    if (!(await confirmed(question))) {
      report("nothing done");
      return;
    }
    const acted = await throughAll(action, body, false);
    const skipped = acted.skipped ? `, ${acted.skipped} left (changed meanwhile, or no longer retryable)` : "";
    const more = acted.more ? "; more match: click again to go on" : "";
    report(`${acted.count} jobs ${done}${skipped}${more}`, acted.count);
    jobsChanged();
  } catch (error) {
    report(error.message, null, true);
  }
}

export function startSearch() {
  let typing = null;
  const again = () => {
    clearTimeout(typing);
    typing = setTimeout(resetList, 250); // while typing an id: one request per pause
  };
  $("#search").addEventListener("input", again);
  $("#search").addEventListener("submit", (event) => {
    event.preventDefault();
    resetList();
  });
  $("#search-clear").addEventListener("click", () => {
    $("#search").reset();
    report("");
    resetList();
  });
  $("#newest").addEventListener("click", resetList);
  $("#older").addEventListener("click", () => {
    page.cursor = page.nextCursor;
    refreshList().catch(showConnection);
  });
  $("#abort-matching").addEventListener("click", () => actByFilter("abort"));
  $("#retry-matching").addEventListener("click", () => actByFilter("retry"));
  // Every failed job of the job type chosen in the filter (or of all types).
  const failedOf = () => {
    const name = $("#filter-name").value;
    return name ? `?name=${encodeURIComponent(name)}` : "";
  };
  const inBulk = async (path, method) => {
    const result = await api(path, { method });
    $("#connection").textContent = `${result.count} failed jobs ${method === "POST" ? "retried" : "purged"}`;
    resetList();
  };
  $("#retry-failed").addEventListener("click", () =>
    inBulk(`/failed/retry${failedOf()}`, "POST").catch(showConnection));
  $("#purge-failed").addEventListener("click", async () => {
    if (await confirmed("Delete the failed jobs of this filter's job type (or of all types)?")) {
      inBulk(`/failed${failedOf()}`, "DELETE").catch(showConnection);
    }
  });
  document.addEventListener("jobs-changed", resetList);
}
