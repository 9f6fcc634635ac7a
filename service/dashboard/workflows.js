// A workflow or a batch: its jobs, their states and what each waits for, drawn as an SVG graph
// (columns by depth, nodes coloured by status, a click opens the job); a batch's progress bar;
// "Retry workflow" (POST /workflows/{id}/retry) once it has ended without completing.
import { $, api, confirmed, el, post, showConnection, statusBadge, svg, when } from "./common.js";
import { jobLink, openJob } from "./job.js";

const BATCH_SHOWN = 50; // a batch may hold 10,000 jobs: the first ones are shown one by one
let shown = null; // the workflow or batch shown: {kind, id}, polled while the page is open

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
    if (error.status === 404) return null;
    throw error;
  }
}

async function graphNodes(kind, view) {
  if (kind === "workflows") {
    // A compact view (past 100 nodes) has statuses, no JobViews and no edges.
    return Object.entries(view.nodes).map(([key, n]) => Object.assign(
      nodeOf(key, n.job_id, n.job, n.after || []), n.job ? {} : { status: n.status || "gone" }));
  }
  const members = view.jobs.slice(0, BATCH_SHOWN);
  const jobs = await Promise.all(members.map(jobOrNull));
  const nodes = members.map((id, i) => nodeOf(`job ${i + 1}`, id, jobs[i], []));
  const callbacks = ["on_success", "on_complete"].filter((c) => view[c]).map((c) =>
    nodeOf(c, view[c].id, view[c], nodes.map((m) => m.key)));
  return [...nodes, ...callbacks];
}

function showBatchProgress(view) {
  // done/failed/total as a bar: complete, then failed and aborted, out of the total.
  const bar = $("#batch-progress");
  bar.hidden = false;
  const share = (n) => `${view.total ? (100 * n) / view.total : 0}%`;
  $("#batch-done").style.width = share(view.complete);
  $("#batch-failed").style.width = share(view.failed + view.aborted);
  const final = view.complete + view.failed + view.aborted;
  $("#batch-figures").textContent =
    `${final}/${view.total} done: ${view.complete} complete, ${view.failed} failed, ${view.aborted} aborted`;
  Object.assign(bar.dataset, { done: final, failed: view.failed + view.aborted, total: view.total });
}

export async function showGraph(kind, id) {
  const view = await api(`/${kind}/${encodeURIComponent(id)}`);
  const nodes = await graphNodes(kind, view);
  shown = { kind, id };
  $("#graph-view").hidden = false;
  $("#graph-view").dataset.status = view.status;
  $("#graph-view").dataset.kind = kind;
  $("#graph-status").replaceWith(Object.assign(statusBadge(view.status), { id: "graph-status" }));
  $("#graph-summary").textContent = kind === "batches"
    ? `${view.total} jobs: ${view.pending} pending, ${view.complete} complete, ${view.failed} failed, `
      + `${view.aborted} aborted${view.total > BATCH_SHOWN ? ` (the first ${BATCH_SHOWN} shown)` : ""}`
    : `${nodes.length} jobs, created ${when(view.created_at)}`;
  $("#batch-progress").hidden = kind !== "batches";
  if (kind === "batches") showBatchProgress(view);
  // A workflow that ended without completing can run its failed and never-started nodes again.
  $("#workflow-retry").hidden = kind !== "workflows";
  $("#workflow-retry").disabled = !["failed", "aborted"].includes(view.status);
  drawGraph(nodes);
  $("#graph-nodes").replaceChildren(...nodes.map((n) => el("tr",
    { "data-node": n.key, "data-status": n.status },
    el("td", {}, n.key), el("td", {}, jobLink(n.jobId), " ", n.name),
    el("td", {}, statusBadge(n.status)),
    el("td", {}, n.after.length > 3 ? `${n.after.length} jobs` : n.after.join(", ") || "–"),
    el("td", {}, n.tries ?? "–"), el("td", { class: "error-text" }, n.error))));
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

async function lookUp(event) {
  event.preventDefault();
  $("#graph-error").textContent = "";
  const kind = $("#graph-kind").value;
  const id = $("#graph-id").value.trim();
  try {
    await showGraph(kind, id);
    history.replaceState(null, "", `#${kind === "workflows" ? "workflow" : "batch"}=${encodeURIComponent(id)}`);
  } catch (error) {
    shown = null;
    $("#graph-view").hidden = true;
    $("#graph-error").textContent = error.message;
  }
}

async function retryWorkflow() {
  // Reruns the failed, aborted and never-started nodes; completed ones keep their results.
  const { id } = shown;
  const rows = [...$("#graph-nodes").querySelectorAll("tr[data-node]")];
  const again = rows.filter((r) => r.dataset.status !== "complete").map((r) => r.dataset.node);
  const kept = rows.length - again.length;
  const question = `Retry workflow ${id}? ${again.length} nodes run again (${again.join(", ")}): `
    + `those that failed, were aborted or never started; the ${kept} completed keep their results.`;
  if (!(await confirmed(question))) return;
  $("#graph-error").textContent = "";
  try {
    await post(`/workflows/${encodeURIComponent(id)}/retry`, {});
    await showGraph("workflows", id);
  } catch (error) {
    $("#graph-error").textContent = error.message;
  }
}

export function refreshGraph() {
  return shown ? showGraph(shown.kind, shown.id) : null;
}

export function showLinked(hash) {
  // A link to a workflow or batch (`#workflow={id}`, `#batch={id}`): show it.
  for (const [param, kind] of [["workflow", "workflows"], ["batch", "batches"]]) {
    if (!hash.get(param)) continue;
    $("#graph-kind").value = kind;
    $("#graph-id").value = hash.get(param);
    $("#graph-show").click();
  }
}

export function startGraph() {
  $("#graph-lookup").addEventListener("submit", lookUp);
  $("#workflow-retry").addEventListener("click", retryWorkflow);
}
