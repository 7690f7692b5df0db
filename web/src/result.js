// One execution as a person reads it: status, time, memory, outputs, the parsed error, artifacts.
import { blobUrl, describeError } from "./api.js";
import { fmtBytes, fmtKb, fmtSeconds, h } from "./dom.js";

const IMAGE = /^image\/(png|jpeg|gif|webp|bmp)$/;

function stream(label, text, cls) {
  if (!text) return null;
  return h("section", { class: `stream ${cls}` }, h("h4", {}, label), h("pre", { "data-stream": cls }, text));
}

function errorBlock(error) {
  if (!error) return null;
  return h("section", { class: "stream error-info", "data-error": error.name },
    h("h4", {}, "Error"),
    h("p", {}, h("strong", {}, error.name), error.message ? `: ${error.message}` : ""),
    error.traceback?.length ? h("pre", {}, error.traceback.join("\n")) : null);
}

function artifactItem(artifact) {
  const item = h("li", { class: "artifact", "data-artifact": artifact.name },
    h("span", { class: "name" }, artifact.name), " ",
    h("span", { class: "muted" }, `${artifact.mime}, ${fmtBytes(artifact.size)}`));
  const load = blobUrl(artifact.url);
  load.then((url) => {
    if (IMAGE.test(artifact.mime)) {
      item.append(h("div", {}, h("img", { src: url, alt: artifact.name, class: "artifact-image" })));
    }
    item.append(" ", h("a", { href: url, download: artifact.name.split("/").pop(), class: "download" }, "Download"));
  }, (err) => item.append(" ", h("span", { class: "problem" }, describeError(err))));
  return item;
}

function artifactsBlock(result) {
  if (!result.artifacts?.length && !result.artifacts_note) return null;
  return h("section", { class: "artifacts" }, h("h4", {}, "Files written to /work/out"),
    h("ul", {}, (result.artifacts || []).map(artifactItem)),
    result.artifacts_note ? h("p", { class: "muted" }, result.artifacts_note) : null);
}

function truncatedNote(truncated) {
  const cut = ["stdout", "stderr"].filter((name) => truncated?.[name]);
  return cut.length ? h("p", { class: "muted" }, `${cut.join(" and ")} cut at the output cap.`) : null;
}

export function statusBadge(status) {
  return h("span", { class: `status status-${status}`, "data-status": status }, status);
}

export function renderResult(result) {
  return h("div", { class: "result", "data-execution": result.id },
    h("div", { class: "facts" },
      statusBadge(result.status),
      h("span", {}, `time ${fmtSeconds(result.execution_time)}`),
      h("span", {}, `cpu ${fmtSeconds(result.cpu_time)}`),
      h("span", {}, `memory ${fmtKb(result.memory_kb)}`),
      result.returncode != null ? h("span", {}, `exit ${result.returncode}`) : null,
      result.signal ? h("span", {}, result.signal) : null),
    result.message ? h("p", { class: "muted" }, result.message) : null,
    stream("Compile output", result.compile_output, "compile"),
    stream("Output", result.stdout, "stdout"),
    stream("Errors", result.stderr, "stderr"),
    errorBlock(result.error),
    artifactsBlock(result),
    truncatedNote(result.truncated));
}

export function renderProblem(err) {
  return h("div", { class: "problem", role: "alert", "data-code": err.code || "network" }, describeError(err));
}
