// The public JSON API of authsvc, and nothing else.
//
// The session lives only in the HttpOnly cookie the API sets: these pages never see or
// store a token; every call carries the cookie (`credentials: "include"`), and the API's
// CORS and Origin rules decide whether a page may use it.

const meta = document.querySelector('meta[name="authsvc-api"]');
// Empty: the pages are served by authsvc itself. Otherwise the API's origin.
export const API_BASE = (meta && meta.content ? meta.content : "").replace(/\/+$/, "");

export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem && problem.detail ? problem.detail : `HTTP ${status}`);
    this.status = status; // 0: the service could not be reached (or CORS refused the page)
    this.problem = problem || {};
    this.code = this.problem.code || (status === 0 ? "network" : `http_${status}`);
    this.retryAfter = retryAfter; // seconds, or null
  }
}

function retryAfterSeconds(response, problem) {
  const header = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  if (Number.isFinite(header) && header >= 0) return header;
  if (problem && typeof problem.retry_after === "number") return problem.retry_after;
  return null;
}

/**
 * Call the API. Resolves with the JSON body (null for 204); rejects with ApiError.
 * `bearer` is for the support console's API key: then no cookie is sent at all.
 */
export async function call(method, path, { body, bearer } = {}) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let response;
  try {
    response = await fetch(API_BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: bearer ? "omit" : "include",
      cache: "no-store",
      redirect: "error",
    });
  } catch {
    throw new ApiError(0, null, null);
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data, retryAfterSeconds(response, data));
  return data;
}
