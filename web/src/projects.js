// Projects: the list (create, delete), and one project's file tree with an editor (save with an
// unsaved marker and a warning before leaving) and Run for the whole project.
import { api } from "./api.js";
import { createEditor } from "./codeeditor.js";
import { clear, fmtBytes, h } from "./dom.js";
import { loadLanguages } from "./editorview.js";
import { renderProblem, renderResult, statusBadge } from "./result.js";

export async function showProjects(root) {
  const name = h("input", { id: "project-name", placeholder: "New project name", required: true });
  const language = h("select", { id: "project-language", "aria-label": "Language" });
  const message = h("div");
  const body = h("tbody");
  const form = h("form", { class: "inline", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const project = await api("/codestudio/project/create", { method: "POST",
        body: { name: name.value.trim(), language: language.value } });
      location.hash = `#projects/${project.id}`;
    } catch (err) {
      clear(message, renderProblem(err));
    }
  } }, name, language, h("button", { type: "submit", class: "primary", id: "create-project" }, "Create project"));

  async function load() {
    try {
      const { items } = await api("/codestudio/project/list");
      clear(body, items.map((p) => h("tr", { "data-project": p.name },
        h("td", {}, h("a", { href: `#projects/${p.id}` }, p.name)), h("td", {}, p.language || ""),
        h("td", {}, `${p.file_count} files, ${fmtBytes(p.total_size)}`),
        h("td", {}, p.last_run ? statusBadge(p.last_run.status) : ""),
        h("td", {}, h("button", { class: "delete", onclick: async () => {
          if (!window.confirm(`Delete the project ${p.name} and its files?`)) return;
          try {
            await api(`/codestudio/project/${p.id}`, { method: "DELETE" });
            await load();
          } catch (err) {
            clear(message, renderProblem(err));
          }
        } }, "Delete")))));
      clear(message, items.length ? null : h("p", { class: "muted" }, "No projects yet."));
    } catch (err) {
      clear(message, renderProblem(err));
    }
  }
  clear(root, h("h2", {}, "Projects"), form, message,
    h("table", { class: "list" }, h("thead", {}, h("tr", {}, ["Name", "Language", "Files", "Last run", ""]
      .map((t) => h("th", {}, t)))), body));
  loadLanguages().then((langs) => langs.forEach((l) => language.append(h("option", { value: l.id }, l.name))),
    () => {});
  await load();
}

export async function showProject(root, id) {
  const back = h("p", {}, h("a", { href: "#projects" }, "← Projects"));
  let project;
  try {
    project = await api(`/codestudio/project/${encodeURIComponent(id)}`);
  } catch (err) {
    return clear(root, back, renderProblem(err));
  }
  const tree = h("ul", { id: "file-tree" });
  const newName = h("input", { id: "new-file", placeholder: "new file name", "aria-label": "New file name" });
  const message = h("div");
  const output = h("div", { id: "output" });
  const current = h("span", { id: "current-file", class: "muted" });
  const editorHost = h("div", { id: "editor", class: "editor" });
  const saveButton = h("button", { id: "save", disabled: true }, "Save");
  const runButton = h("button", { id: "run-project", class: "primary" }, "Run project");
  let files = project.files.map((f) => f.filename);
  let open = null;
  let saved = "";
  let loading = false;

  const dirty = () => open !== null && editor.value !== saved;
  const warn = (event) => { if (dirty()) { event.preventDefault(); event.returnValue = ""; } };
  window.addEventListener("beforeunload", warn);

  function drawTree() {
    clear(tree, [...files].sort().map((name) => {
      const depth = name.split("/").length - 1;
      const item = h("li", { class: name === open ? "active" : null, "data-file": name },
        h("button", { class: "file", onclick: () => openFile(name) }, name),
        name === open && dirty() ? h("span", { class: "unsaved", title: "Unsaved changes" }, "●") : null,
        name === project.entry ? h("span", { class: "muted" }, "entry") : null,
        h("button", { class: "rename-file", title: `Rename ${name}`, onclick: () => renaming(item, name) }, "✎"),
        h("button", { class: "delete-file", title: `Delete ${name}`, onclick: () => deleteFile(name) }, "×"));
      item.style.paddingLeft = `${depth * 12}px`;
      return item;
    }));
    saveButton.disabled = !dirty();
  }

  const editor = createEditor(editorHost, { onRun: () => runProject(), onSave: () => save(), onChange: () => {
    if (!loading) drawTree();
  } });
  if (project.language) editor.setLanguage(project.language);

  async function openFile(name) {
    if (dirty() && !window.confirm(`Leave ${open} without saving?`)) return;
    try {
      const file = await api(`/codestudio/file/read?${new URLSearchParams({ project_id: project.id, filename: name })}`);
      loading = true;
      editor.value = file.content;
      loading = false;
      open = name;
      saved = file.content;
      current.textContent = name;
      drawTree();
    } catch (err) {
      clear(message, renderProblem(err));
    }
  }

  async function save() {
    if (!dirty()) return;
    const content = editor.value;
    try {
      await api("/codestudio/file/update", { method: "POST", body: { project_id: project.id, filename: open, content } });
      saved = content;
      clear(message);
      drawTree();
    } catch (err) {
      clear(message, renderProblem(err));
    }
  }

  async function deleteFile(name) {
    if (!window.confirm(`Delete ${name}?`)) return;
    try {
      await api("/codestudio/file/delete", { method: "POST", body: { project_id: project.id, filename: name } });
      files = files.filter((f) => f !== name);
      if (open === name) { open = null; saved = ""; editor.value = ""; current.textContent = ""; }
      drawTree();
    } catch (err) {
      clear(message, renderProblem(err));
    }
  }

  function renaming(item, name) {
    const input = h("input", { class: "rename-input", value: name, "aria-label": `New name for ${name}` });
    clear(item, h("form", { onsubmit: (event) => { event.preventDefault(); renameFile(name, input.value.trim()); } },
      input, h("button", { type: "submit" }, "OK")));
    input.focus();
    input.select();
  }

  // the API has no rename: the content moves to a file of the new name, then the old one goes
  async function renameFile(from, to) {
    if (!to || to === from) return drawTree();
    try {
      if (open === from && dirty()) await save();
      const file = await api(`/codestudio/file/read?${new URLSearchParams({ project_id: project.id, filename: from })}`);
      await api("/codestudio/file/create", { method: "POST", body: { project_id: project.id, filename: to, content: file.content } });
      await api("/codestudio/file/delete", { method: "POST", body: { project_id: project.id, filename: from } });
      files = files.filter((f) => f !== from).concat(to);
      if (open === from) { open = to; current.textContent = to; }
      clear(message);
    } catch (err) {
      clear(message, renderProblem(err));
    }
    drawTree();
  }

  async function createFile(event) {
    event.preventDefault();
    const name = newName.value.trim();
    if (!name) return;
    try {
      await api("/codestudio/file/create", { method: "POST", body: { project_id: project.id, filename: name, content: "" } });
      files.push(name);
      newName.value = "";
      await openFile(name);
    } catch (err) {
      clear(message, renderProblem(err));
    }
  }

  async function runProject() {
    runButton.disabled = true;
    clear(output, h("p", { class: "muted" }, statusBadge("running"), " Running…"));
    try {
      if (dirty()) await save();
      clear(output, renderResult(await api("/codestudio/run", { method: "POST", body: { project_id: project.id } })));
    } catch (err) {
      clear(output, renderProblem(err));
    } finally {
      runButton.disabled = false;
    }
  }
  saveButton.addEventListener("click", save);
  runButton.addEventListener("click", runProject);

  clear(root, back, h("div", { class: "toolbar" }, h("h2", {}, project.name),
    h("span", { class: "muted" }, project.language || ""), h("span", { class: "spacer" }), current, saveButton, runButton),
  message,
  h("div", { class: "projects" },
    h("div", { class: "filetree" }, tree, h("form", { onsubmit: createFile }, newName,
      h("button", { type: "submit", id: "add-file" }, "Add"))),
    editorHost, output));
  drawTree();
  const first = project.entry && files.includes(project.entry) ? project.entry : [...files].sort()[0];
  if (first) await openFile(first);
  const dispose = () => window.removeEventListener("beforeunload", warn);
  dispose.canLeave = () => !dirty() || window.confirm(`Leave ${open} without saving?`);
  return dispose;
}
