// Batch grading: tests (YAML or JSON) and submissions (files, or a zip of them) in, a progress bar
// while it runs, then the submission x test verdict grid with scores and diffs, the CSV, cancel.
import { api, blobUrl } from "./api.js";
import { clear, h } from "./dom.js";
import { loadLanguages } from "./editorview.js";
import { renderProblem } from "./result.js";

const stem = (name) => name.split("/").pop().replace(/\.[^.]*$/, "");
const hidden = (path) => path.split("/").some((part) => part.startsWith(".") || part === "__MACOSX");
const entryFirst = (files) => files.sort((a, b) => Number(!/(^|\/)(main|Main)\./.test(a.name))
  - Number(!/(^|\/)(main|Main)\./.test(b.name)) || a.name.localeCompare(b.name));

async function readTests(file) {
  const text = await file.text();
  const parsed = /\.json$/i.test(file.name) ? JSON.parse(text) : (await import("yaml")).parse(text);
  return Array.isArray(parsed) ? { tests: parsed } : parsed;
}

// a zip: each top-level file is a submission, each top-level folder a multi-file one
async function unzip(file) {
  const { unzipSync, strFromU8 } = await import("fflate");
  const groups = new Map();
  for (const [path, bytes] of Object.entries(unzipSync(new Uint8Array(await file.arrayBuffer())))) {
    if (path.endsWith("/") || hidden(path)) continue;
    const [top, ...rest] = path.split("/");
    const key = rest.length ? top : path;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push({ name: rest.length ? rest.join("/") : path, content: strFromU8(bytes) });
  }
  return [...groups].map(([key, files]) => (files.length === 1 && files[0].name === key
    ? { id: stem(key), code: files[0].content } : { id: key, files: entryFirst(files) }));
}

async function readSubmissions(files) {
  const out = [];
  for (const file of files) {
    if (/\.zip$/i.test(file.name)) out.push(...await unzip(file));
    else out.push({ id: stem(file.name), code: await file.text() });
  }
  return out;
}

function grid(batch) {
  const tests = batch.submissions[0]?.results.map((r) => r.test) ?? [];
  return h("table", { class: "list grid", id: "verdicts" },
    h("thead", {}, h("tr", {}, h("th", {}, "Submission"), tests.map((t) => h("th", {}, t)), h("th", {}, "Score"))),
    h("tbody", {}, batch.submissions.map((s) => h("tr", { "data-submission": s.id }, h("td", {}, s.id,
      s.compile?.status && s.compile.status !== "success" ? h("div", { class: "muted" }, s.compile.status) : null),
    s.results.map((r) => h("td", { class: `verdict verdict-${r.verdict}`, "data-test": r.test },
      r.verdict, r.diff ? h("details", {}, h("summary", {}, "diff"), h("pre", {}, r.diff)) : null)),
    h("td", { class: "score" }, `${s.score} / ${s.max_score}`)))));
}

export async function showGrading(root) {
  const language = h("select", { id: "grade-language", "aria-label": "Language" });
  const testsInput = h("input", { type: "file", id: "grade-tests", accept: ".yaml,.yml,.json" });
  const subsInput = h("input", { type: "file", id: "grade-submissions", multiple: true });
  const start = h("button", { type: "submit", class: "primary", id: "grade" }, "Grade");
  const cancel = h("button", { type: "button", id: "cancel-batch", hidden: true }, "Cancel");
  const progress = h("progress", { id: "grade-progress", max: 100, value: 0, hidden: true });
  const status = h("span", { id: "grade-status", class: "muted" });
  const result = h("div", { id: "grade-result" });
  let batchId = null;
  let timer = null;

  async function poll() {
    try {
      const batch = await api(`/codestudio/batch/${batchId}?limit=100`);
      progress.value = batch.progress?.percent ?? 0;
      status.textContent = `${batch.status}: ${batch.progress.done} of ${batch.progress.total} tests`;
      if (batch.status === "done" || batch.status === "cancelled") {
        cancel.hidden = true;
        start.disabled = false;
        const csv = h("a", { id: "grade-csv", download: `grades-${batchId}.csv` }, "Download CSV");
        blobUrl(`/codestudio/batch/${batchId}/report.csv`).then((url) => { csv.href = url; });
        clear(result, grid(batch), h("p", {}, csv));
        return;
      }
      timer = setTimeout(poll, 1000);
    } catch (err) {
      clear(result, renderProblem(err));
      start.disabled = false;
    }
  }

  const form = h("form", { class: "grading", onsubmit: async (event) => {
    event.preventDefault();
    clearTimeout(timer);
    start.disabled = true;
    try {
      if (!testsInput.files.length || !subsInput.files.length) throw new Error("Choose a tests file and submissions.");
      const spec = await readTests(testsInput.files[0]);
      const submissions = await readSubmissions([...subsInput.files]);
      const batch = await api("/codestudio/batch", { method: "POST",
        body: { ...spec, language: spec.language || language.value, submissions } });
      batchId = batch.id;
      progress.hidden = false;
      cancel.hidden = false;
      clear(result);
      poll();
    } catch (err) {
      clear(result, err.code ? renderProblem(err) : h("div", { class: "problem", role: "alert" }, String(err.message)));
      start.disabled = false;
    }
  } },
  h("label", {}, "Language ", language), h("label", {}, "Tests (YAML or JSON) ", testsInput),
  h("label", {}, "Submissions (files or a zip) ", subsInput), h("div", { class: "toolbar" }, start, cancel));
  cancel.addEventListener("click", async () => {
    try {
      await api(`/codestudio/batch/${batchId}`, { method: "DELETE" });
    } catch (err) {
      clear(result, renderProblem(err));
    }
  });
  clear(root, h("h2", {}, "Grading"), form, h("div", { class: "toolbar" }, progress, status), result);
  loadLanguages().then((langs) => langs.forEach((l) => language.append(h("option", { value: l.id }, l.name))),
    () => {});
  return () => clearTimeout(timer);
}
