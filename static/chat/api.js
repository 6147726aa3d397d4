// The HTTP API (/api/) for what the socket does not cover: browsing rooms,
// creating rooms, inviting, moderating (moderation.js); and everything, for
// the long-poll transport (commands.js, longpoll.js). Session auth with the
// CSRF header on every unsafe method (POST, PATCH, DELETE).

export class ApiError extends Error {
  constructor(status, detail, code = "") {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.code = code; // the API's error code ("not_found", "cursor_expired", ...), when it sent one
    this.retryAfter = 0; // seconds, from Retry-After (429, 503)
  }
}

let csrfToken = "";

export function setCsrfToken(token) {
  csrfToken = token || "";
}

function cookie(name) {
  const match = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return match ? decodeURIComponent(match[1]) : "";
}

/** The CSRF token for an unsafe request sent outside apiRequest (an upload's XMLHttpRequest). */
export function currentCsrfToken() {
  return cookie("csrftoken") || csrfToken;
}

/** Turn any error body (a string, or django-ninja's list of {loc,msg}) into one sentence. */
export function describe(body, status) {
  const detail = body?.detail ?? body?.message;
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail
      .map((e) => {
        const field = Array.isArray(e.loc) ? e.loc.filter((p) => p !== "body" && p !== "payload").join(".") : "";
        return field ? `${field}: ${e.msg}` : e.msg;
      })
      .join("; ");
  }
  if (status === 404) return "Not found.";
  if (status === 403) return "You are not allowed to do that.";
  if (status === 429) return "Too many requests; try again in a moment.";
  return `The server answered ${status}.`;
}

/**
 * One API call, answering {status, data, headers}; any non-2xx is an ApiError
 * (status 0: the server could not be reached, or `signal` aborted it).
 */
export async function apiRequest(method, path, body, { signal } = {}) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin", signal };
  if (method !== "GET") headers["X-CSRFToken"] = currentCsrfToken();
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  let text;
  try {
    response = await fetch(`/api${path}`, init);
    text = await response.text();
  } catch {
    throw new ApiError(0, "Could not reach the server. Check your connection.");
  }
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, describe(data, response.status), typeof data?.code === "string" ? data.code : "");
    error.retryAfter = Number(response.headers.get("Retry-After")) || 0;
    throw error;
  }
  return { status: response.status, data, headers: response.headers };
}

export async function api(method, path, body) {
  return (await apiRequest(method, path, body)).data;
}
