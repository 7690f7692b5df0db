// The user's executions, newest first, filtered by language and status; one execution in detail.
import { api } from "./api.js";
import { clear, fmtKb, fmtSeconds, h } from "./dom.js";
import { loadLanguages } from "./editorview.js";
import { renderProblem, renderResult, statusBadge } from "./result.js";

const STATUSES = ["success", "error", "compile_error", "timeout", "memory_limit", "output_limit",
  "internal_error", "queued", "running", "cancelled", "stopped"];

function row(item) {
  return h("tr", { "data-execution": item.id },
    h("td", {}, h("a", { href: `#history/${item.id}` }, new Date(item.created_at).toLocaleString())),
    h("td", {}, item.language), h("td", {}, statusBadge(item.status)),
    h("td", {}, fmtSeconds(item.execution_time)), h("td", {}, fmtKb(item.memory_kb)));
}

export async function showHistory(root) {
  const language = h("select", { id: "filter-language", "aria-label": "Language" }, h("option", { value: "" }, "all languages"));
  const status = h("select", { id: "filter-status", "aria-label": "Status" }, h("option", { value: "" }, "all statuses"),
    STATUSES.map((s) => h("option", { value: s }, s)));
  const body = h("tbody");
  const more = h("button", { id: "more", hidden: true }, "More");
  const message = h("div");
  let cursor = null;
  let latest = 0; // filters change faster than answers come back: only the latest query's answer is shown

  async function load(append) {
    const mine = ++latest;
    const query = new URLSearchParams({ limit: "25" });
    if (language.value) query.set("language", language.value);
    if (status.value) query.set("status", status.value);
    if (append && cursor) query.set("cursor", cursor);
    try {
      const page = await api(`/codestudio/executions?${query}`);
      if (mine !== latest) return;
      if (!append) clear(body);
      body.append(...page.items.map(row));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      clear(message, page.items.length || append ? null : h("p", { class: "muted" }, "No executions match."));
    } catch (err) {
      if (mine === latest) clear(message, renderProblem(err));
    }
  }
  language.addEventListener("change", () => load(false));
  status.addEventListener("change", () => load(false));
  more.addEventListener("click", () => load(true));

  clear(root, h("h2", {}, "History"), h("div", { class: "toolbar" }, language, status),
    h("table", { class: "history" },
      h("thead", {}, h("tr", {}, ["When", "Language", "Status", "Time", "Memory"].map((t) => h("th", {}, t)))), body),
    message, more);
  loadLanguages().then((langs) => langs.forEach((l) => language.append(h("option", { value: l.id }, l.name))),
    () => {});
  await load(false);
}

export async function showExecution(root, id) {
  clear(root, h("p", {}, h("a", { href: "#history" }, "← History")), h("p", { class: "muted" }, "Loading…"));
  try {
    const result = await api(`/codestudio/executions/${encodeURIComponent(id)}`);
    clear(root, h("p", {}, h("a", { href: "#history" }, "← History")),
      h("h2", {}, `${result.language} · ${new Date(result.created_at).toLocaleString()}`),
      result.code ? h("pre", { class: "code" }, result.code) : null,
      result.stdin ? h("section", {}, h("h4", {}, "stdin"), h("pre", {}, result.stdin)) : null,
      renderResult(result));
  } catch (err) {
    clear(root, h("p", {}, h("a", { href: "#history" }, "← History")), renderProblem(err));
  }
}
