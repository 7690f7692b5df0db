// The editor page: language picker, code, stdin, args, Run (Ctrl/Cmd-Enter) and Run live.
import { api, getKey } from "./api.js";
import { createEditor } from "./codeeditor.js";
import { clear, h } from "./dom.js";
import { renderProblem, renderResult, statusBadge } from "./result.js";
import { sampleFor } from "./samples.js";

const DRAFTS = "codestudio.drafts";
const drafts = () => JSON.parse(sessionStorage.getItem(DRAFTS) || "{}");
const saveDraft = (lang, code) => sessionStorage.setItem(DRAFTS, JSON.stringify({ ...drafts(), [lang]: code }));

let languagesCache = null;
export async function loadLanguages() {
  languagesCache ??= api("/codestudio/languages").catch((err) => { languagesCache = null; throw err; });
  return languagesCache;
}

const argsOf = (text) => text.split("\n").filter((line) => line.length > 0);

export async function showEditor(root) {
  const select = h("select", { id: "language", "aria-label": "Language" });
  const stdin = h("textarea", { id: "stdin", rows: 3, placeholder: "Input given to the program", spellcheck: "false" });
  const args = h("textarea", { id: "args", rows: 2, placeholder: "One argument per line", spellcheck: "false" });
  const runButton = h("button", { id: "run", class: "primary", title: "Run (Ctrl/Cmd-Enter)" }, "Run");
  const liveButton = h("button", { id: "run-live", title: "Run in a terminal and type into it" }, "Run live");
  const stopButton = h("button", { id: "stop", disabled: true }, "Stop");
  const note = h("span", { id: "language-note", class: "muted" });
  const output = h("div", { id: "output", "aria-live": "polite" });
  const terminal = h("div", { id: "terminal", class: "terminal", hidden: true });
  const editorHost = h("div", { id: "editor", class: "editor" });
  let live = null;

  const editor = createEditor(editorHost, {
    onRun: () => runOnce(),
    onChange: (code) => saveDraft(select.value, code),
  });

  const request = () => ({ language: select.value, code: editor.value, stdin: stdin.value, args: argsOf(args.value) });

  async function runOnce() {
    if (runButton.disabled) return;
    runButton.disabled = true;
    clear(output, h("p", { class: "muted" }, statusBadge("running"), " Running…"));
    try {
      let result = await api("/codestudio/run", { method: "POST", body: request() });
      while (result.status === "queued" || result.status === "running") { // past the wait cap
        await new Promise((resolve) => setTimeout(resolve, 1000));
        result = await api(`/codestudio/executions/${result.id}`);
      }
      clear(output, renderResult(result));
    } catch (err) {
      clear(output, renderProblem(err));
    } finally {
      runButton.disabled = false;
    }
  }

  async function runLive() {
    live?.dispose();
    terminal.hidden = false;
    clear(output, h("p", { class: "muted" }, statusBadge("running"), " Live: type into the terminal."));
    liveButton.disabled = true;
    stopButton.disabled = false;
    const { startLive } = await import("./live.js");
    live = startLive(terminal, {
      key: getKey(),
      run: request(),
      onExit: (result) => clear(output, renderResult(result)),
      onError: (err) => clear(output, renderProblem(err)),
      onClose: () => { liveButton.disabled = false; stopButton.disabled = true; },
    });
  }

  function describe(lang) {
    if (!lang) return "";
    return lang.available ? `${lang.name} ${lang.version || ""}`.trim() : `${lang.name}: no worker serves it right now`;
  }

  select.addEventListener("change", () => {
    const lang = select.value;
    editor.value = drafts()[lang] ?? sampleFor(lang);
    editor.setLanguage(lang);
    note.textContent = describe(languages.find((l) => l.id === lang));
    sessionStorage.setItem("codestudio.language", lang);
  });
  runButton.addEventListener("click", runOnce);
  liveButton.addEventListener("click", runLive);
  stopButton.addEventListener("click", () => live?.stop());

  clear(root,
    h("div", { class: "toolbar" }, h("label", { for: "language" }, "Language "), select, note,
      h("span", { class: "spacer" }), runButton, liveButton, stopButton),
    h("div", { class: "workbench" },
      h("div", { class: "left" }, editorHost,
        h("div", { class: "io" }, h("label", {}, "stdin", stdin), h("label", {}, "args", args))),
      h("div", { class: "right" }, terminal, output)));

  let languages = [];
  try {
    languages = await loadLanguages();
  } catch (err) {
    clear(output, renderProblem(err));
  }
  for (const lang of languages) {
    const label = `${lang.name}${lang.version ? ` ${lang.version}` : ""}${lang.available ? "" : " (unavailable)"}`;
    select.append(h("option", { value: lang.id, "data-available": String(lang.available) }, label));
  }
  const remembered = sessionStorage.getItem("codestudio.language");
  const first = languages.find((l) => l.id === remembered) || languages.find((l) => l.id === "python") || languages[0];
  if (first) {
    select.value = first.id;
    select.dispatchEvent(new Event("change"));
  }
  editor.focus();
  return () => live?.dispose();
}
