// The studio's shell: sign in with an API key, then the editor, history and usage pages.
import "./style.css";

import { api, clearKey, describeError, getKey, setKey } from "./api.js";
import { clear, h } from "./dom.js";
import { showEditor } from "./editorview.js";
import { showGrading } from "./grading.js";
import { showExecution, showHistory } from "./history.js";
import { showProject, showProjects } from "./projects.js";
import { showUsage } from "./usage.js";

const app = document.getElementById("app");
let leave = null;

function signIn(message) {
  const key = h("input", { id: "api-key", type: "password", autocomplete: "off", required: true,
    placeholder: "Your API key", "aria-label": "API key" });
  const error = h("p", { id: "signin-error", class: "problem", role: "alert", hidden: !message }, message || "");
  const button = h("button", { type: "submit", class: "primary", id: "sign-in" }, "Sign in");
  const form = h("form", { class: "signin", onsubmit: async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const stats = await api("/codestudio/stats", { key: key.value.trim() });
      setKey(key.value.trim());
      sessionStorage.setItem("codestudio.tier", stats.tier || "");
      route();
    } catch (err) {
      error.textContent = describeError(err);
      error.hidden = false;
      button.disabled = false;
      key.select();
    }
  } }, h("h1", {}, "Code Studio"), h("p", {}, "Sign in with your API key. It is kept for this browser tab only."),
  key, button, error);
  clear(app, h("main", { class: "center" }, form));
  key.focus();
}

function signOut() {
  leave?.();
  leave = null;
  clearKey();
  sessionStorage.clear();
  history.replaceState(null, "", location.pathname);
  signIn();
}

function shell(current) {
  const link = (hash, label) => h("a", { href: hash, class: current === hash ? "active" : null }, label);
  const tier = sessionStorage.getItem("codestudio.tier");
  const header = h("header", { class: "top" }, h("strong", {}, "Code Studio"),
    h("nav", {}, link("#editor", "Editor"), link("#history", "History"),
      link("#projects", "Projects"), link("#grading", "Grading"), link("#usage", "Usage")),
    h("span", { class: "spacer" }), tier ? h("span", { class: "muted", id: "tier" }, `${tier} tier`) : null,
    h("button", { id: "sign-out", onclick: signOut }, "Sign out"));
  const main = h("main", { id: "page" });
  clear(app, header, main);
  return main;
}

async function route() {
  if (!getKey()) return signIn();
  leave?.();
  leave = null;
  const [page, id] = (location.hash.replace(/^#/, "") || "editor").split("/");
  if (page === "history" && id) return showExecution(shell("#history"), id);
  if (page === "history") return showHistory(shell("#history"));
  if (page === "projects" && id) { leave = await showProject(shell("#projects"), id); return; }
  if (page === "projects") return showProjects(shell("#projects"));
  if (page === "usage") return showUsage(shell("#usage"));
  if (page === "grading") { leave = await showGrading(shell("#grading")); return; }
  leave = await showEditor(shell("#editor"));
}

// a page with unsaved work may keep the user (its leave function's canLeave asks)
let shownHash = location.hash;
let reverting = false;
window.addEventListener("hashchange", () => {
  if (reverting) { reverting = false; return; }
  if (leave?.canLeave && !leave.canLeave()) {
    reverting = true;
    location.hash = shownHash;
    return;
  }
  shownHash = location.hash;
  route();
});
route();
