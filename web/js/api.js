// The gateway's JSON API, with the session cookie. Every failure is an ApiError carrying the
// API's error shape ({code, message, details}); a 401 also tells the app the session is gone.

export class ApiError extends Error {
  constructor(status, body) {
    const error = body?.error ?? {};
    super(error.message || `request failed (${status})`);
    this.status = status;
    this.code = error.code || "http_error";
    this.details = error.details || {};
  }
}

export async function api(path, { method = "GET", body, headers = {}, signal } = {}) {
  const init = { method, signal, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { error: { code: "network_error", message: "the server cannot be reached" } });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401 && !path.startsWith("/api/auth/")) {
      window.dispatchEvent(new CustomEvent("session-expired"));
    }
    throw new ApiError(response.status, data);
  }
  return data;
}

// "?a=1&b=x" from an object, leaving out empty values.
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// Every page of a list endpoint, up to `maxPages` (the catalog and similar small lists).
export async function listAll(path, params = {}, maxPages = 10) {
  const items = [];
  let cursor;
  for (let page = 0; page < maxPages; page += 1) {
    const data = await api(path + query({ ...params, limit: 100, cursor }));
    items.push(...data.items);
    cursor = data.nextCursor;
    if (!cursor) break;
  }
  return items;
}
