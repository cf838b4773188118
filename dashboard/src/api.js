// api.js — the HTTP API (CONTRACT §2), same origin: the pantau_session cookie
// (a signed-in official, §8) or the pantau_token cookie (set when the page
// was opened with ?access_token=) authorizes the calls; the browser sends
// the Origin that a cookie's change needs (§10).
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || body?.error || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error;
  }
}
// CONTRACT §8: a 401 on any call (but the sign-in's own) means the page has
// no working credential any more (a session ended): people.js shows the
// sign-in form again.
let unauthorized = null;
export function onUnauthorized(fn) {
  unauthorized = fn;
}
async function call(path, opts) {
  const r = await fetch(path, { credentials: 'same-origin', ...opts });
  const type = r.headers.get('content-type') || '';
  const body = type.includes('json') ? await r.json() : await r.text();
  if (r.status === 401 && unauthorized && path !== '/api/v1/login') unauthorized();
  if (!r.ok) throw new ApiError(r.status, typeof body === 'object' ? body : null);
  return body;
}
export const get = (path) => call(path);
export const del = (path) => call(path, { method: 'DELETE' });
export function post(path, body, type = 'application/json') {
  return call(path, {
    method: 'POST',
    headers: { 'content-type': type },
    body: typeof body === 'string' || body instanceof Blob ? body : JSON.stringify(body),
  });
}
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.append(k, String(v));
  return u.toString();
}
