// The public API, called with the user's key like any client. The key lives in sessionStorage only:
// never in a URL, a cookie or a log.
const KEY = "codestudio.key";

export const getKey = () => sessionStorage.getItem(KEY);
export const setKey = (key) => sessionStorage.setItem(KEY, key);
export const clearKey = () => sessionStorage.removeItem(KEY);

export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.code = problem.code || `http_${status}`;
    this.retryAfter = retryAfter;
  }
}

async function problemOf(resp) {
  try {
    return await resp.json();
  } catch {
    return {};
  }
}

export async function request(path, { method = "GET", body, key = getKey(), signal } = {}) {
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method, headers, signal, credentials: "omit", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!resp.ok) {
    const retry = Number.parseInt(resp.headers.get("Retry-After") || "", 10);
    throw new ApiError(resp.status, await problemOf(resp), Number.isFinite(retry) ? retry : null);
  }
  return resp;
}

export const api = async (path, options) => (await request(path, options)).json();

// A blob URL for a file served to its owner only (artifacts): fetched with the key, never linked to.
export async function blobUrl(path) {
  const resp = await request(path);
  return URL.createObjectURL(await resp.blob());
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function duration(seconds) {
  if (seconds < 120) return plural(seconds, "second");
  if (seconds < 7200) return plural(Math.ceil(seconds / 60), "minute");
  return `${Math.floor(seconds / 3600)} h ${Math.ceil((seconds % 3600) / 60)} min`;
}

// What a person can do about a refusal: when to retry, which tier allows it, that no worker serves it.
export function describeError(err) {
  if (!(err instanceof ApiError)) return `Could not reach the server: ${err.message || err}`;
  const p = err.problem;
  switch (err.code) {
    case "unauthorized":
    case "invalid_api_key":
      return "That API key was not accepted. Check it and sign in again.";
    case "rate_limited":
    case "too_many_connections":
      return `Too many requests. Retry in ${duration(err.retryAfter ?? 60)}.`
        + (p.upgrade_to ? ` The ${p.upgrade_to} tier allows more requests per minute.` : "");
    case "daily_quota_exceeded":
    case "concurrency_limit":
    case "limit_exceeded":
    case "storage_quota_exceeded":
    case "too_many_files": {
      const headline = (p.detail || err.message).split(" (")[0];
      const parts = [p.limit ? `${headline}: ${p.limit} is ${p.maximum} on the ${p.tier} tier.` : `${headline}.`];
      parts.push(p.upgrade_to ? `The ${p.upgrade_to} tier allows it.` : "No tier allows more.");
      if (err.retryAfter != null) parts.push(`Retry in ${duration(err.retryAfter)}.`);
      return parts.join(" ");
    }
    case "no_worker":
      return `No worker serves this language right now. ${p.detail || ""} Try again later or pick another language.`;
    case "validation_error": {
      const fields = p.errors ? ` ${JSON.stringify(p.errors)}` : "";
      return `${p.detail || "The request is not valid."}${fields}`;
    }
    default:
      return p.detail || err.message;
  }
}
