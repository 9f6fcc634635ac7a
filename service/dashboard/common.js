// What every view of the dashboard uses: the API call, DOM and SVG builders, formatting, and the
// confirmation dialog. Authentication is the browser's (HTTP Basic, see auth.py).

// Where the API is: the dashboard's own path without `/dashboard/`, so that the service works
// mounted under a prefix of another app (`/jobsvc/dashboard/` talks to `/jobsvc/...`).
export const BASE = location.pathname.replace(/\/dashboard\/?$/, "");
export const FINAL = new Set(["complete", "failed", "aborted"]);
export const $ = (selector) => document.querySelector(selector);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child ?? "");
  return node;
}

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
  node.append(...children);
  return node;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(`${status}: ${message}`);
    this.status = status;
  }
}

export async function api(path, options = {}) {
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
    throw new ApiError(response.status, body && body.error ? body.error.message : response.statusText);
  }
  return body;
}

export const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body) });

export function when(iso) {
  // Local time, with its zone spelled out (the API speaks UTC).
  return iso ? new Date(iso).toLocaleString(undefined, { timeZoneName: "short" }) : "–";
}

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(1)} s`;
  return `${(value / 60).toFixed(1)} min`;
}

export function statusBadge(status) {
  return el("span", { class: `status status-${status}` }, status);
}

export function progressBar(progress, className = "progress mini") {
  const bar = el("div");
  bar.style.width = `${Math.round((progress ? progress.fraction : 0) * 100)}%`;
  return el("div", { class: className }, bar);
}

export function showConnection(error) {
  $("#connection").textContent = error ? `error: ${error.message}` : `updated ${new Date().toLocaleTimeString()}`;
}

// Jobs were changed by an action (abort, retry, enqueue): the list shows it at once.
export const jobsChanged = () => document.dispatchEvent(new Event("jobs-changed"));

export function confirmed(message) {
  // The page's own modal (no window.confirm: it can say what is at stake, and tests click it).
  const dialog = $("#confirm");
  $("#confirm-text").textContent = message;
  dialog.showModal();
  return new Promise((resolve) => {
    const answer = (yes) => () => {
      $("#confirm-yes").onclick = $("#confirm-no").onclick = null;
      dialog.close();
      resolve(yes);
    };
    $("#confirm-yes").onclick = answer(true);
    $("#confirm-no").onclick = answer(false);
    dialog.oncancel = answer(false); // Escape
  });
}

// Loaded once at start (app.js): the job types (`/job-types`) and the dashboard's settings
// (`config.json`: where a trace id links to).
export const known = { jobTypes: [], config: { trace_url_template: null } };
