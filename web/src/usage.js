// Usage: the tier, quota bars (today's executions, concurrency, storage), cost, and runs by day and language.
import { api } from "./api.js";
import { clear, fmtBytes, h } from "./dom.js";
import { renderProblem } from "./result.js";

function bar(id, label, quota, format = String) {
  if (!quota) return null;
  const used = quota.used ?? 0;
  const limit = quota.limit ?? 0;
  const share = limit ? Math.min(1, used / limit) : 0;
  const fill = h("div", { class: `fill${share >= 0.9 ? " high" : ""}` });
  fill.style.width = `${(share * 100).toFixed(1)}%`;
  return h("div", { class: "quota", id }, h("div", { class: "quota-label" }, h("span", {}, label),
    h("span", { class: "muted" }, `${format(used)} of ${format(limit)}`)),
  h("div", { class: "bar", role: "meter", "aria-label": label, "aria-valuenow": used, "aria-valuemin": 0,
    "aria-valuemax": limit }, fill));
}

function columns(title, entries) {
  const max = Math.max(1, ...entries.map(([, n]) => n));
  return h("section", { class: "chart" }, h("h3", {}, title),
    entries.length ? h("div", { class: "columns" }, entries.map(([label, n]) => {
      const column = h("div", { class: "column", title: `${label}: ${n}` });
      column.style.height = `${Math.max(2, (n / max) * 100)}%`;
      return h("div", { class: "column-wrap" }, h("span", { class: "count" }, n), column, h("span", { class: "label" }, label));
    })) : h("p", { class: "muted" }, "No executions yet."));
}

const countOf = (value) => (typeof value === "number" ? value : value?.executions ?? value?.count ?? 0);

export async function showUsage(root) {
  clear(root, h("h2", {}, "Usage"), h("p", { class: "muted" }, "Loading…"));
  try {
    const stats = await api("/codestudio/stats");
    const quota = stats.quota || {};
    const days = Object.entries(stats.by_day || {}).sort(([a], [b]) => a.localeCompare(b)).slice(-14)
      .map(([day, v]) => [day.slice(5), countOf(v)]);
    const langs = Object.entries(stats.by_language || {}).map(([lang, v]) => [lang, countOf(v)])
      .sort((a, b) => b[1] - a[1]);
    clear(root, h("h2", {}, "Usage"),
      h("p", { id: "usage-tier" }, "Tier: ", h("strong", {}, stats.tier),
        quota.requests_per_minute ? ` · ${quota.requests_per_minute} requests per minute` : ""),
      h("div", { class: "quotas" },
        bar("quota-executions", "Executions today", quota.executions_today),
        bar("quota-concurrent", "Running now", quota.concurrent),
        bar("quota-storage", "Storage", quota.storage_bytes, fmtBytes)),
      h("p", {}, `${stats.executions ?? 0} executions · success rate ${((stats.success_rate ?? 0) * 100).toFixed(1)}%`
        + ` · ${stats.cpu_seconds ?? 0} CPU s · cost $${stats.cost ?? "0"}`),
      h("div", { class: "charts" }, columns("By day", days), columns("By language", langs)));
  } catch (err) {
    clear(root, h("h2", {}, "Usage"), renderProblem(err));
  }
}
