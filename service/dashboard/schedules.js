// Schedules (GET /schedules): those declared in code (read-only: pause, resume and run now over
// /cron) and those made at runtime (PUT /schedules/{name} creates, edits, pauses and resumes;
// DELETE removes), with their audit fields.
import { $, api, confirmed, el, when } from "./common.js";
import { jobLink } from "./job.js";

const DEFINITION = ["job", "input", "cron", "every", "tz", "missed", "overlap", "paused"];

const path = (name) => `/schedules/${encodeURIComponent(name)}`;
const put = (name, definition) => api(path(name), { method: "PUT", body: JSON.stringify(definition) });

function definitionOf(schedule) {
  // What PUT takes: the view without its name, source and audit fields.
  return Object.fromEntries(DEFINITION.map((k) => [k, schedule[k]]));
}

function timing(s) {
  return s.every ? `every ${s.every} s` : `${s.cron} ${s.tz}`;
}

function button(label, cls, onClick) {
  const b = el("button", { type: "button", class: cls }, label);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await onClick();
    } catch (error) {
      $("#schedule-error").textContent = error.message;
    }
    await refreshSchedules();
  });
  return b;
}

function actions(s) {
  const toggle = s.paused ? "resume" : "pause";
  if (s.source === "code") {
    // Declared in code: its definition changes in code; an operator may pause or run it.
    const cron = (action) => () => api(`/cron/${encodeURIComponent(s.name)}/${action}`, { method: "POST" });
    return [button(toggle, `cron-${toggle}`, cron(toggle)), " ", button("run", "cron-run", cron("run"))];
  }
  return [
    button(toggle, `schedule-${toggle}`, () => put(s.name, { ...definitionOf(s), paused: !s.paused })),
    " ", button("edit", "schedule-edit", async () => edit(s)),
    " ", button("delete", "schedule-delete danger", async () => {
      if (await confirmed(`Delete schedule ${s.name}? No tick of it is enqueued from then on.`)) {
        await api(path(s.name), { method: "DELETE" });
      }
    }),
  ];
}

function audit(s) {
  if (s.source === "code") return el("span", { class: "muted" }, "declared in code");
  return el("span", { class: "muted", title: `created ${when(s.created_at)}` },
    `rev ${s.revision}, changed ${when(s.updated_at)}`);
}

export async function refreshSchedules() {
  const listed = await api("/schedules");
  $("#schedules").replaceChildren(...listed.map((s) => el("tr",
    { "data-schedule": s.name, "data-source": s.source, "data-paused": s.paused },
    el("td", {}, s.name, s.paused ? el("span", { class: "status status-paused" }, " paused") : ""),
    el("td", {}, s.job), el("td", {}, el("code", {}, timing(s))),
    el("td", { class: "muted" }, `${s.overlap === "skip" ? "no overlap" : "overlap"}, missed: ${s.missed}`),
    el("td", { class: "next-run" }, s.paused ? "–" : when(s.next_run)),
    el("td", { class: "last-run" }, when(s.last_run), s.last_job_id ? " " : "",
      s.last_job_id ? jobLink(s.last_job_id) : ""),
    el("td", {}, audit(s)),
    el("td", { class: "actions-cell" }, ...actions(s)))));
}

const field = (name) => $(`#schedule-${name}`);

function edit(s) {
  for (const name of ["name", "job", "tz", "missed", "overlap"]) field(name).value = s[name];
  field("input").value = JSON.stringify(s.input);
  field("cron").value = s.cron || "";
  field("every").value = s.every ?? "";
  field("paused").checked = s.paused;
  $("#schedule-error").textContent = "";
  $("#schedule-form").scrollIntoView({ behavior: "smooth", block: "center" });
}

function formDefinition() {
  const text = (name) => field(name).value.trim();
  const definition = {
    job: field("job").value,
    input: text("input") ? JSON.parse(text("input")) : {},
    tz: text("tz") || "UTC",
    missed: field("missed").value,
    overlap: field("overlap").value,
    paused: field("paused").checked,
  };
  // One timing: cron or every (the API refuses both or neither, and says so).
  if (text("cron")) definition.cron = text("cron");
  if (text("every")) definition.every = Number(text("every"));
  return definition;
}

async function save(event) {
  event.preventDefault();
  $("#schedule-error").textContent = "";
  try {
    const saved = await put(field("name").value.trim(), formDefinition());
    $("#schedule-saved").textContent = `saved ${saved.name} (revision ${saved.revision}), next run ${when(saved.next_run)}`;
    $("#schedule-form").reset();
    await refreshSchedules();
  } catch (error) {
    $("#schedule-saved").textContent = "";
    $("#schedule-error").textContent = error.message;
  }
}

export function startSchedules(jobTypes) {
  for (const t of jobTypes) $("#schedule-job").append(el("option", { value: t.name }, t.name));
  $("#schedule-form").addEventListener("submit", save);
  $("#schedule-new").addEventListener("click", () => {
    $("#schedule-form").reset();
    $("#schedule-error").textContent = "";
  });
}
