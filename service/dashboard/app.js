// The dashboard: plain JavaScript modules over the JSON API, no build step, nothing from another
// site. Lists are polled every 2 s; an open job follows its server-sent events. One module per
// view: overview, jobs (find, act by filter), job (one job's page), workflows (graph, batch),
// schedules, enqueue; common.js holds what they share.
import { $, api, el, known, showConnection } from "./common.js";
import { openJob, startJobPage } from "./job.js";
import { refreshList, showQueues, startSearch } from "./jobs.js";
import { refreshOverview } from "./overview.js";
import { refreshSchedules, startSchedules } from "./schedules.js";
import { refreshGraph, showLinked, startGraph } from "./workflows.js";
import { startEnqueue } from "./enqueue.js";

const POLL_MS = 2000;

async function poll() {
  try {
    const [queues] = await Promise.all([refreshOverview(), refreshList(), refreshSchedules(),
      refreshGraph()]);
    showQueues(queues);
    showConnection(null);
  } catch (error) {
    showConnection(error);
  }
  setTimeout(poll, POLL_MS);
}

async function start() {
  [known.jobTypes, known.config] = await Promise.all([api("/job-types"), api("/dashboard/config.json")]);
  for (const t of known.jobTypes) $("#filter-name").append(el("option", { value: t.name }, t.name));
  startEnqueue();
  startSearch();
  startJobPage();
  startSchedules(known.jobTypes);
  startGraph();
  poll();
  follow();
  window.addEventListener("hashchange", follow); // a link followed on the page itself
}

function follow() {
  // `#job={id}` opens the job; `#workflow={id}`, `#batch={id}` show the graph.
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("job")) openJob(hash.get("job")).catch(showConnection);
  showLinked(hash);
}

start().catch(showConnection);
