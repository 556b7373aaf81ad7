// The API client: every call goes to /api/v1 with the stored key as a Bearer token, and every
// error becomes an ApiError built from the RFC 9457 problem+json body.
//
// Assumptions: same origin as the API; the key lives in sessionStorage only (closing the tab
// logs out). Example: `const page = await api.get('/cis', { class: 'switch', limit: 20 });`

const KEY_STORAGE = 'cmdb.apiKey';
const API_ROOT = '/api/v1';

/** An API error built from a problem+json body (status 0: the server could not be reached). */
export class ApiError extends Error {
  constructor({ status = 0, title = 'Error', detail = '', field = null, errors = null } = {}) {
    super(`${status} ${title}: ${detail}`);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.field = field;
    this.errors = errors;
  }
}

let unauthorized = null;

/** The key the console logs in with, kept for the tab's life (sessionStorage). */
export const storedKey = {
  get: () => sessionStorage.getItem(KEY_STORAGE),
  set: (key) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

/** Call fn(err) when the stored key is refused (401): revoked or expired during the session. */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

/** `/api/v1` + path with query params: an object (arrays repeat) or URLSearchParams. */
function apiUrl(path, params) {
  const url = new URL(API_ROOT + path, window.location.origin);
  if (params instanceof URLSearchParams) {
    params.forEach((v, k) => url.searchParams.append(k, v));
  } else if (params) {
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === null || v === '') continue;
      for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(one));
    }
  }
  return url;
}

async function problemOf(res) {
  let body = null;
  try {
    const type = res.headers.get('content-type') || '';
    body = type.includes('json') ? await res.json() : { detail: (await res.text()).slice(0, 300) };
  } catch (_) {
    body = null;
  }
  return new ApiError({
    status: res.status,
    title: (body && body.title) || res.statusText || 'Error',
    detail: (body && body.detail) || '',
    field: (body && body.field) || null,
    errors: (body && body.errors) || null,
  });
}

/** One API call; `as`: 'json' (default), 'text' or 'blob'; `key`: another key than the stored
 * one (log-in). Throws ApiError. */
export async function request(method, path, { params, body, headers = {}, as = 'json', key } = {}) {
  const h = { Accept: 'application/json, application/problem+json', ...headers };
  const k = key === undefined ? storedKey.get() : key;
  if (k) h.Authorization = `Bearer ${k}`;
  const init = { method, headers: h };
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(apiUrl(path, params), init);
  } catch (e) {
    throw new ApiError({ status: 0, title: 'Network error', detail: String(e.message || e) });
  }
  if (!res.ok) {
    const err = await problemOf(res);
    if (res.status === 401 && key === undefined && unauthorized) unauthorized(err);
    throw err;
  }
  if (res.status === 204) return null;
  if (as === 'text') return res.text();
  if (as === 'blob') return res.blob();
  return res.json();
}

/** The API client: paths are relative to /api/v1; answers are parsed JSON. */
export const api = {
  get: (path, params) => request('GET', path, { params }),
  post: (path, body, params) => request('POST', path, { params, body }),
  patch: (path, body, params, headers) => request('PATCH', path, { params, body, headers }),
  text: (path, params) => request('GET', path, { params, as: 'text' }),
  blob: (path, params) => request('GET', path, { params, as: 'blob' }),
};

/** A path segment (or an id with '/') made safe for a URL path. */
export function pathId(id) {
  return String(id).split('/').map(encodeURIComponent).join('/');
}
