// Enqueue: a form generated from the chosen job type's input JSON Schema.
import { $, api, el, jobsChanged, known } from "./common.js";
import { openJob } from "./job.js";

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
  const type = known.jobTypes.find((t) => t.name === $("#enqueue-type").value);
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
    jobsChanged();
    await openJob(job.id);
  } catch (error) {
    $("#enqueue-error").textContent = error.message;
  }
}

export function startEnqueue() {
  for (const t of known.jobTypes) $("#enqueue-type").append(el("option", { value: t.name }, t.name));
  showForm();
  $("#enqueue-type").addEventListener("change", showForm);
  $("#enqueue").addEventListener("submit", enqueue);
}
