// openapi.test.mjs — docs/openapi.yaml, the HTTP API's reference, against a
// real pantaud and mosquitto (a catalog with KPIs and a rule, tokens of each
// role, data published over MQTT and entered over HTTP):
//  1. the document is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator,
//     the official 3.1 schema) and its schemas compile under JSON Schema
//     2020-12 (ajv, strict);
//  2. every route of daemon/api.c's table (and live.c's websocket path) is a
//     documented operation with the same method and least role, and every
//     documented /api/v1 path is a route: a new route without documentation,
//     or a documented one that is gone, fails;
//  3. pantaud serves the document at /api/v1/openapi.json, equal to the YAML;
//  4. real answers of every operation, errors included (400 401 403 404 405
//     411 413 422 503 ...), validated against the document's schema for their
//     path, method, status and content type (an undocumented status or
//     content type fails), and a set of statuses each operation must have
//     shown;
//  5. the websocket's frames of a real session (hello, samples, snapshot,
//     unit, kpi, alert, pong, error) validated against LiveServerFrame, the
//     frames sent against LiveClientFrame.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { Validator } from '@seriousme/openapi-schema-validator';
import YAML from 'yaml';
import {
  PANTAUD,
  assert,
  assertEq,
  fetchJson,
  mqttPublisher,
  openClient,
  repoRoot,
  runCases,
  startBroker,
  startPantaud,
  tmpdir,
  until,
} from './harness.mjs';

const FILE = 'openapi.test.mjs';
const VIEWER = 'openapi-viewer-token-0123456789';
const OPERATOR = 'openapi-operator-token-0123456789';
const ADMIN = 'openapi-admin-token-0123456789';
const DOC_PATH = path.join(repoRoot, 'docs/openapi.yaml');
// make builds the dashboard beside the binary ($(BUILD)/dashboard).
const DASHBOARD = [path.join(path.dirname(PANTAUD), 'dashboard'), path.join(repoRoot, 'build/dashboard')].find((d) =>
  fs.existsSync(path.join(d, 'openapi.json')),
) ?? path.join(repoRoot, 'build/dashboard');
const BASE_ID = 'https://pantau.invalid/openapi';

const CATALOG = `[regency]
id = lampung-tengah
name = Kabupaten Lampung Tengah
timezone = WIB

[program paduka-lamteng]
name = PADUKA LAMTENG
dimension = governance
agency = Disdukcapil
description = Layanan adminduk keliling

[program simas-bapokting]
name = SIMAS BAPOKTING
dimension = economy

[program pjs]
name = PJS
dimension = environment

[kpi paduka-lamteng/dokumen]
name = Dokumen terbit
metric = documents_issued
labels = doc=*
agg = sum
period = year
target = 1000
display_unit = dokumen

[kpi paduka-lamteng/kampung]
name = Kampung terlayani
metric = documents_issued
agg = distinct:kampung
period = total
start = 2024-01-01
deadline = 2030-12-31
target = 311

[kpi simas-bapokting/harga]
name = Harga beras
metric = price
labels = commodity=*
agg = last
period = month
baseline = 15000
target = 14000

[rule harga-tinggi]
program = simas-bapokting
metric = price
labels = commodity=*
above = 16000
severity = warning
message = Harga {commodity} di {unit} {value}
`;

// ---- the document and its validators ----

const doc = YAML.parse(fs.readFileSync(DOC_PATH, 'utf8'), { uniqueKeys: true });

// Refs as the document writes them (#/components/schemas/X) made absolute, so
// each schema taken out of the document compiles on its own against the
// components added once.
function absolute(node) {
  if (Array.isArray(node)) return node.map(absolute);
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node))
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')
      ? `${BASE_ID}#/$defs/${v.slice('#/components/schemas/'.length)}`
      : absolute(v);
  return out;
}

const ajv = new Ajv2020({ strict: true, strictTypes: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: BASE_ID, $defs: absolute(doc.components.schemas) });
const compiled = new Map();
function validatorFor(schema) {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(absolute(schema));
    compiled.set(schema, v);
  }
  return v;
}
const defValidator = (name) => ajv.getSchema(`${BASE_ID}#/$defs/${name}`);

function deref(obj) {
  if (obj && obj.$ref) {
    const parts = obj.$ref.replace(/^#\//, '').split('/');
    return parts.reduce((o, p) => o[p.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return obj;
}

function errorsText(v) {
  return ajv.errorsText(v.errors, { separator: '; ' }).slice(0, 1500);
}

// ---- answers checked against the document ----

const seen = new Map(); // "METHOD template" -> Set of statuses validated

function mediaFor(content, contentType) {
  if (!content) return null;
  if (content[contentType]) return content[contentType];
  const base = (contentType || '').split(';')[0].trim();
  const key = Object.keys(content).find((k) => k.split(';')[0].trim() === base);
  return key ? content[key] : null;
}

// Validates one real answer: the status must be documented for the
// operation, the content type among the documented ones, the body valid
// against that schema, and documented headers valid when present.
function check(method, template, res, what = '') {
  const op = doc.paths[template]?.[method.toLowerCase()];
  assert(op, `${method} ${template} is documented`);
  const label = `${method} ${template} ${res.status}${what ? ` (${what})` : ''}`;
  const response = deref(op.responses[String(res.status)]);
  assert(response, `${label}: status ${res.status} is documented; body ${res.text.slice(0, 200)}`);
  if (response.content) {
    const media = mediaFor(response.content, res.contentType);
    assert(media, `${label}: content type ${res.contentType} is documented (${Object.keys(response.content)})`);
    const json = res.contentType.startsWith('application/json');
    const body = json ? res.json : res.text;
    assert(!json || body !== null, `${label}: the body is JSON: ${res.text.slice(0, 200)}`);
    const v = validatorFor(media.schema);
    assert(v(body), `${label}: ${errorsText(v)}\n  body: ${res.text.slice(0, 600)}`);
  }
  for (const [name, h] of Object.entries(response.headers || {})) {
    const value = res.headers.get(name);
    if (value === null) continue;
    const v = validatorFor(deref(h).schema);
    const typed = deref(h).schema.type === 'integer' ? Number(value) : value;
    assert(v(typed), `${label}: header ${name}: ${value}: ${errorsText(v)}`);
  }
  const key = `${method} ${template}`;
  if (!seen.has(key)) seen.set(key, new Set());
  seen.get(key).add(res.status);
  return res;
}

// An HTTP request with the answer's status, content type, headers and body.
async function call(ctx, method, url, { token, headers = {}, body, ms = 10000 } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  const res = await fetch(`${ctx.base}${url}`, { method, headers: h, body, signal: AbortSignal.timeout(ms) });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, contentType: res.headers.get('content-type') || '', headers: res.headers, text, json };
}

// A POST with a chunked body, on a connection of its own that is closed
// after the answer: pantaud answers 411 without reading the chunks, and
// fetch's pool would send the next request on that connection after them.
function postChunked(ctx, url, token, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${ctx.base}${url}`, {
      method: 'POST',
      agent: false,
      timeout: 10000,
      headers: { authorization: `Bearer ${token}`, 'transfer-encoding': 'chunked', connection: 'close' },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        req.destroy();
        let json = null;
        try {
          json = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode, contentType: res.headers['content-type'] || '', headers: new Headers(res.headers), text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout: chunked POST')));
    req.on('error', reject);
    req.end(body);
  });
}

const get = (ctx, url, opts) => call(ctx, 'GET', url, opts);
const post = (ctx, url, opts) => call(ctx, 'POST', url, opts);

// ---- the route table ----

// {path, method, role} of every entry of daemon/api.c's routes[].
function routeTable() {
  const src = fs.readFileSync(path.join(repoRoot, 'daemon/api.c'), 'utf8');
  const macros = Object.fromEntries([...src.matchAll(/^#define (\w+) "([^"]*)"/gm)].map((m) => [m[1], m[2]]));
  const table = /routes\[\] = \{([\s\S]*?)\n\};/.exec(src);
  assert(table, 'api.c has a routes[] table');
  const routes = [...table[1].matchAll(/\{\s*("([^"]*)"|(\w+))\s*,\s*HTTP_(\w+)\s*,\s*ROLE_(\w+)\s*,/g)].map((m) => ({
    path: m[2] ?? macros[m[3]],
    method: m[4],
    role: m[5].toLowerCase(),
  }));
  assert(routes.length >= 10 && routes.every((r) => r.path), `parsed ${routes.length} routes`);
  return routes;
}

// The documented operations: {template, method, op}.
function operations() {
  const ops = [];
  for (const [template, item] of Object.entries(doc.paths))
    for (const method of ['get', 'post', 'put', 'delete', 'patch'])
      if (item[method]) ops.push({ template, method: method.toUpperCase(), op: item[method] });
  return ops;
}

const ROLES = ['viewer', 'operator', 'admin'];

// ---- the stack ----

async function before() {
  assert(fs.existsSync(path.join(DASHBOARD, 'openapi.json')), 'make dashboard has written build/dashboard/openapi.json');
  const dir = tmpdir();
  const catalog = path.join(dir, 'openapi-catalog.ini');
  fs.writeFileSync(catalog, CATALOG);
  const broker = await startBroker();
  const pantaud = await startPantaud(broker, {
    config:
      `[auth]\nviewer = ${VIEWER}\noperator = ${OPERATOR}\nadmin = ${ADMIN}\n` +
      `[http]\ndashboard = ${DASHBOARD}\nimport_max_bytes = 4096\n[catalog]\nfile = ${catalog}\n` +
      // pjs is not in the catalog: its samples are stored all the same.
      '[ingest]\ncatalog_only = false\n' +
      // CONTRACT §7: it publishes its own state and, as a hub, collects it.
      '[federation]\npublish = yes\nhub = yes\n',
  });
  const pub = await mqttPublisher(broker);
  const now = Date.now();
  await pub.publish('pantau/paduka-lamteng/van-03/$status', 'online');
  await pub.publish('pantau/paduka-lamteng/van-03/documents_issued', {
    value: 4,
    ts: now - 60000,
    labels: { doc: 'ktp', kampung: 'gunung-sugih' },
    lat: -4.8,
    lon: 105.2,
  });
  await pub.publish('pantau/paduka-lamteng/van-03/documents_issued', [
    { value: 2, ts: now - 30000, labels: { doc: 'kk', kampung: 'terbanggi' } },
    { value: 'x' },
  ]);
  await pub.publish('pantau/simas-bapokting/pasar-bandar-jaya/price', { value: 14500, ts: now - 20000, labels: { commodity: 'beras-medium' } });
  await pub.publish('pantau/pjs/truck-07/pickups', '3');
  await pub.publish('pantau/Bad Topic/x/y', '1'); // a reject for /rejects
  await pub.publish('pantau/not-in-catalog/x/y', '1'); // unknown_program
  const ctx = { broker, pantaud, pub, catalog, base: `http://127.0.0.1:${pantaud.httpPort}`, now };
  await until(
    async () => (await fetchJson(`${ctx.base}/api/v1/series?access_token=${VIEWER}`)).json?.series?.length >= 4,
    10000,
    'the published series to be stored',
  );
  return ctx;
}

// ---- the cases ----

const cases = [
  [
    'the document is valid OpenAPI 3.1 and its schemas compile as JSON Schema 2020-12',
    async () => {
      const validator = new Validator();
      const result = await validator.validate(structuredClone(doc));
      assert(result.valid, `OpenAPI 3.1: ${JSON.stringify(result.errors)?.slice(0, 2000)}`);
      assertEq(validator.version, '3.1', 'the validator read it as 3.1');
      for (const name of Object.keys(doc.components.schemas)) assert(defValidator(name), `schema ${name} compiles`);
      // Every response and request schema compiles too.
      for (const { template, method, op } of operations()) {
        for (const [status, r] of Object.entries(op.responses))
          for (const media of Object.values(deref(r).content || {}))
            assert(validatorFor(media.schema), `${method} ${template} ${status} compiles`);
        for (const media of Object.values(op.requestBody?.content || {})) validatorFor(media.schema);
      }
      // A sanity check that validation bites: an ALERT with an extra key or
      // a missing one fails.
      const v = defValidator('Unit');
      assert(v({ program: 'p', unit: 'u', status: 'online', last_seen: 1, lat: null, lon: null }), 'a good Unit');
      assert(!v({ program: 'p', unit: 'u', status: 'online', last_seen: 1, lat: null, lon: null, x: 1 }), 'an extra key fails');
      assert(!v({ program: 'p', unit: 'u', status: 'online', last_seen: 1, lat: null }), 'a missing key fails');
    },
  ],
  [
    'every route of api.c and the websocket is documented with its method and role, and nothing more',
    async () => {
      const routes = routeTable();
      const ops = operations();
      for (const r of routes) {
        const prefix = r.path.endsWith('/');
        const op = prefix
          ? ops.find((o) => o.op['x-pantau-route'] === r.path && o.method === r.method)
          : ops.find((o) => o.template === r.path && o.method === r.method);
        assert(op, `route ${r.method} ${r.path} is documented${prefix ? ' (an operation with x-pantau-route)' : ''}`);
        assertEq(op.op['x-pantau-role'], r.role, `${r.method} ${r.path}: x-pantau-role`);
        if (prefix) assert(op.template.startsWith(r.path) && op.template.includes('{'), `${op.template} is under ${r.path}`);
      }
      const live = fs.readFileSync(path.join(repoRoot, 'daemon/live.c'), 'utf8');
      const livePath = /"(\/api\/v1\/live)"/.exec(live)?.[1] ?? '/api/v1/live';
      assert(doc.paths[livePath]?.get, `the websocket ${livePath} is documented`);
      // Conversely: every documented endpoint of the daemon is a route.
      for (const o of ops) {
        if (o.template === livePath || o.template === '/' || o.template.startsWith('/assets/')) continue;
        const route = routes.find((r) =>
          r.method === o.method && (r.path === o.template || (o.op['x-pantau-route'] && r.path === o.op['x-pantau-route'])),
        );
        assert(route, `documented ${o.method} ${o.template} is a route of api.c`);
      }
      // The security lists the roles from the least one up.
      for (const o of ops) {
        const least = o.op['x-pantau-role'];
        assert(least, `${o.method} ${o.template} has x-pantau-role`);
        const security = o.op.security ?? doc.security;
        const want = least === 'none' ? [] : ROLES.slice(ROLES.indexOf(least));
        for (const req of security) for (const roles of Object.values(req)) assertEq(roles, want, `${o.method} ${o.template}: security roles`);
      }
    },
  ],
  [
    'GET /api/v1/openapi.json serves docs/openapi.yaml as JSON, to any role',
    async (ctx) => {
      for (const token of [VIEWER, OPERATOR, ADMIN]) {
        const res = check('GET', '/api/v1/openapi.json', await get(ctx, '/api/v1/openapi.json', { token }));
        assertEq(res.status, 200, 'status');
        assertEq(res.contentType, 'application/json', 'content type');
        assert(JSON.stringify(res.json) === JSON.stringify(doc), 'the served document equals docs/openapi.yaml');
      }
      check('GET', '/api/v1/openapi.json', await get(ctx, '/api/v1/openapi.json'), 'no token');
      check('GET', '/api/v1/openapi.json', await post(ctx, '/api/v1/openapi.json', { token: VIEWER }), 'POST');
    },
  ],
  [
    'health, metrics and the dashboard answer as documented',
    async (ctx) => {
      assertEq(check('GET', '/healthz', await get(ctx, '/healthz')).status, 200, '/healthz');
      check('GET', '/healthz', await post(ctx, '/healthz'), 'POST');
      assertEq(check('GET', '/metrics', await get(ctx, '/metrics', { token: VIEWER })).status, 200, '/metrics');
      check('GET', '/metrics', await get(ctx, '/metrics'), 'no token');
      check('GET', '/metrics', await post(ctx, '/metrics', { token: VIEWER }), 'POST');
      const page = check('GET', '/', await get(ctx, `/?access_token=${VIEWER}`));
      assertEq(page.status, 200, 'the page');
      const cookie = page.headers.get('set-cookie');
      assert(cookie && cookie.startsWith('pantau_token='), `the page sets the cookie: ${cookie}`);
      // The page and its files need no credential (CONTRACT §8's sign-in
      // form); any other method does.
      assertEq(check('GET', '/', await get(ctx, '/'), 'no token').status, 200, 'the page without a token');
      check('GET', '/', await post(ctx, '/'), 'POST without a token');
      check('GET', '/', await post(ctx, '/', { token: VIEWER }), 'POST');
      const asset = /\/assets\/[^"]+\.js/.exec(page.text)?.[0];
      assert(asset, 'the page names its script');
      assertEq(check('GET', '/assets/{file}', await get(ctx, asset, { headers: { cookie: `pantau_token=${VIEWER}` } })).status, 200, 'asset');
      const css = /\/assets\/[^"]+\.css/.exec(page.text)?.[0];
      assertEq(check('GET', '/assets/{file}', await get(ctx, css, { token: VIEWER })).status, 200, 'css');
      check('GET', '/assets/{file}', await get(ctx, '/assets/missing.js', { token: VIEWER }), 'missing');
      assertEq(check('GET', '/assets/{file}', await get(ctx, asset), 'no token').status, 200, 'asset without a token');
    },
  ],
  [
    'programs, dimensions and the report answer as documented',
    async (ctx) => {
      const programs = check('GET', '/api/v1/programs', await get(ctx, '/api/v1/programs', { token: VIEWER }));
      assertEq(programs.json.programs.length, 3, 'three programs');
      assert(programs.json.programs[0].kpis.some((k) => k.current !== null), 'a KPI has data');
      check('GET', '/api/v1/programs', await get(ctx, '/api/v1/programs'), 'no token');
      check('GET', '/api/v1/programs', await post(ctx, '/api/v1/programs', { token: VIEWER }), 'POST');
      assertEq(check('GET', '/api/v1/programs/{id}', await get(ctx, '/api/v1/programs/paduka-lamteng', { token: VIEWER })).status, 200, 'one');
      check('GET', '/api/v1/programs/{id}', await get(ctx, '/api/v1/programs/nope', { token: VIEWER }), 'unknown');
      check('GET', '/api/v1/programs/{id}', await get(ctx, '/api/v1/programs/Not%20A%20Slug', { token: VIEWER }), 'not a slug');
      check('GET', '/api/v1/programs/{id}', await get(ctx, '/api/v1/programs/paduka-lamteng'), 'no token');
      check('GET', '/api/v1/programs/{id}', await post(ctx, '/api/v1/programs/paduka-lamteng', { token: VIEWER }), 'POST');
      assertEq(check('GET', '/api/v1/dimensions', await get(ctx, '/api/v1/dimensions', { token: VIEWER })).status, 200, 'dims');
      check('GET', '/api/v1/dimensions', await get(ctx, '/api/v1/dimensions'), 'no token');
      check('GET', '/api/v1/dimensions', await post(ctx, '/api/v1/dimensions', { token: VIEWER }), 'POST');
      const from = new Date(ctx.now - 86400000).toISOString().replace('Z', '+00:00');
      const report = check('GET', '/api/v1/report', await get(ctx, `/api/v1/report?from=${encodeURIComponent(from)}&to=${Date.now()}`, { token: VIEWER }));
      assertEq(report.status, 200, 'report');
      assert('value_at_from' in report.json.programs[0].kpis[0], 'report KPIs carry value_at_from');
      check('GET', '/api/v1/report', await get(ctx, '/api/v1/report?to=1', { token: VIEWER }), 'no from');
      check('GET', '/api/v1/report', await get(ctx, '/api/v1/report?from=2&to=1', { token: VIEWER }), 'from after to');
      check('GET', '/api/v1/report', await get(ctx, '/api/v1/report?from=x&to=1', { token: VIEWER }), 'bad from');
      check('GET', '/api/v1/report', await get(ctx, '/api/v1/report?from=1&to=2'), 'no token');
      check('GET', '/api/v1/report', await post(ctx, '/api/v1/report', { token: VIEWER }), 'POST');
    },
  ],
  [
    'series, query, export and units answer as documented',
    async (ctx) => {
      const series = check('GET', '/api/v1/series', await get(ctx, '/api/v1/series', { token: VIEWER }));
      assert(series.json.series.length >= 4, 'the series');
      check('GET', '/api/v1/series', await get(ctx, '/api/v1/series?program=paduka-lamteng&unit=van-03&metric=documents_issued', { token: VIEWER }));
      check('GET', '/api/v1/series', await get(ctx, '/api/v1/series?program=BAD', { token: VIEWER }), 'bad program');
      check('GET', '/api/v1/series', await get(ctx, '/api/v1/series'), 'no token');
      check('GET', '/api/v1/series', await post(ctx, '/api/v1/series', { token: VIEWER }), 'POST');

      const q = '/api/v1/query?program=paduka-lamteng&metric=documents_issued';
      const raw = check('GET', '/api/v1/query', await get(ctx, q, { token: VIEWER }), 'raw');
      assert(raw.json.series.length === 2 && raw.json.series[0].points.length === 1, `raw: ${raw.text}`);
      check('GET', '/api/v1/query', await get(ctx, `${q}&label.doc=ktp&step=3600000&agg=sum&tz=%2B07:00`, { token: VIEWER }), 'step');
      check('GET', '/api/v1/query', await get(ctx, `${q}&points=10&agg=last&from=2026-01-01T00:00:00%2B07:00`, { token: VIEWER }), 'points');
      for (const [bad, what] of [
        ['/api/v1/query?metric=x', 'no program'],
        [`${q}&agg=sum`, 'agg without step'],
        [`${q}&step=1&points=2`, 'step and points'],
        [`${q}&label.BAD=x`, 'bad label key'],
        [`${q}&tz=7`, 'bad tz'],
        [`${q}&from=yesterday`, 'bad from'],
      ])
        assertEq(check('GET', '/api/v1/query', await get(ctx, bad, { token: VIEWER }), what).status, 400, what);
      check('GET', '/api/v1/query', await get(ctx, q), 'no token');
      check('GET', '/api/v1/query', await post(ctx, q, { token: VIEWER }), 'POST');

      const csv = check('GET', '/api/v1/export.csv', await get(ctx, '/api/v1/export.csv?program=paduka-lamteng', { token: VIEWER }));
      assertEq(csv.text.split('\r\n').filter(Boolean).length, 3, 'header + 2 rows');
      ctx.csv = csv.text;
      check('GET', '/api/v1/export.csv', await get(ctx, '/api/v1/export.csv?step=1000', { token: VIEWER }), 'step');
      check('GET', '/api/v1/export.csv', await get(ctx, '/api/v1/export.csv'), 'no token');
      check('GET', '/api/v1/export.csv', await post(ctx, '/api/v1/export.csv', { token: VIEWER }), 'POST');

      const units = check('GET', '/api/v1/units', await get(ctx, '/api/v1/units', { token: VIEWER }));
      const van = units.json.units.find((u) => u.unit === 'van-03');
      assert(van && van.status === 'online' && van.lat === -4.8, `van-03 online with its position: ${JSON.stringify(van)}`);
      check('GET', '/api/v1/units', await get(ctx, '/api/v1/units?program=pjs', { token: VIEWER }));
      check('GET', '/api/v1/units', await get(ctx, '/api/v1/units'), 'no token');
      check('GET', '/api/v1/units', await post(ctx, '/api/v1/units', { token: VIEWER }), 'POST');
    },
  ],
  [
    'ingest and import answer as documented, errors included',
    async (ctx) => {
      const ingest = '/api/v1/ingest/paduka-lamteng/van-04/documents_issued';
      const t = Date.now() - 5000;
      const one = check('POST', '/api/v1/ingest/{program}/{unit}/{metric}',
        await post(ctx, ingest, { token: OPERATOR, body: JSON.stringify({ value: 1, ts: t, labels: { doc: 'ktp', kampung: 'bandar-jaya' } }) }));
      assertEq(one.json, { stored: 1, rejected: [] }, 'one sample');
      const batch = check('POST', '/api/v1/ingest/{program}/{unit}/{metric}',
        await post(ctx, ingest, { token: ADMIN, body: JSON.stringify([{ value: 1, ts: t + 1 }, { value: 'x' }, { value: 2, ts: 1 }]) }));
      assertEq(batch.json.rejected.map((r) => r.index), [1, 2], 'rejected elements');
      check('POST', '/api/v1/ingest/{program}/{unit}/{metric}', await post(ctx, ingest, { token: OPERATOR, body: '7' }), 'bare number');
      for (const [body, what] of [['{', 'bad json'], ['{"value":"x"}', 'bad value'], [JSON.stringify({ value: 1, labels: { BAD: 'x' } }), 'bad labels'], ['x'.repeat(70000), 'too large']])
        assertEq(check('POST', '/api/v1/ingest/{program}/{unit}/{metric}', await post(ctx, ingest, { token: OPERATOR, body }), what).status, 400, what);
      check('POST', '/api/v1/ingest/{program}/{unit}/{metric}', await post(ctx, '/api/v1/ingest/Bad/x/y', { token: OPERATOR, body: '1' }), 'bad topic');
      check('POST', '/api/v1/ingest/{program}/{unit}/{metric}', await post(ctx, ingest, { token: VIEWER, body: '1' }), 'viewer');
      check('POST', '/api/v1/ingest/{program}/{unit}/{metric}', await post(ctx, ingest, { body: '1' }), 'no token');
      check('POST', '/api/v1/ingest/{program}/{unit}/{metric}', await get(ctx, ingest, { token: OPERATOR }), 'GET');
      assertEq(check('POST', '/api/v1/ingest/{program}/{unit}/{metric}', await postChunked(ctx, ingest, OPERATOR, '1'), 'chunked').status, 411, 'chunked');

      // import.csv: export's rows back (stored again: same identity), a bad row, a bad header.
      const rows = `${ctx.csv}${Date.now()},paduka-lamteng,van-05,documents_issued,"{}",x\r\n`;
      const imp = check('POST', '/api/v1/import.csv', await post(ctx, '/api/v1/import.csv', { token: OPERATOR, body: rows }));
      assertEq([imp.json.stored, imp.json.rejected_count, imp.json.rejected[0]?.line], [2, 1, 4], 'import');
      check('POST', '/api/v1/import.csv', await post(ctx, '/api/v1/import.csv', { token: OPERATOR, body: 'a,b\r\n' }), 'bad header');
      check('POST', '/api/v1/import.csv', await post(ctx, '/api/v1/import.csv', { token: OPERATOR, body: ctx.csv + 'x'.repeat(5000) }), 'over import_max_bytes');
      check('POST', '/api/v1/import.csv', await post(ctx, '/api/v1/import.csv', { token: VIEWER, body: ctx.csv }), 'viewer');
      check('POST', '/api/v1/import.csv', await post(ctx, '/api/v1/import.csv', { body: ctx.csv }), 'no token');
      check('POST', '/api/v1/import.csv', await get(ctx, '/api/v1/import.csv', { token: OPERATOR }), 'GET');
    },
  ],
  [
    'alerts, the ack, rejects and reload answer as documented; websocket frames too',
    async (ctx) => {
      const frames = defValidator('LiveServerFrame');
      const sent = defValidator('LiveClientFrame');
      const ws = await openClient(`ws://127.0.0.1:${ctx.pantaud.httpPort}/api/v1/live?access_token=${VIEWER}`, 'pantau.v1');
      // Good frames must be LiveClientFrames; bad ones (sent on purpose) must not.
      const send = (f, good = true) => {
        assertEq(typeof f !== 'string' && sent(f), good, `client frame ${JSON.stringify(f).slice(0, 80)} valid`);
        ws.send(f);
      };
      send({ op: 'subscribe', filters: ['simas-bapokting/#', 'paduka-lamteng/+/+', 'pjs/+/pickups'], snapshot: true });
      send({ op: 'ping' });
      await ws.waitUntil(() => ws.pongs >= 1, 5000, 'pong');
      send({ op: 'dance' }, false);
      send('not json', false);
      send({ op: 'subscribe', filters: Array.from({ length: 70 }, (_, i) => `p${i}/#`) }, false);
      send({ op: 'subscribe', filters: ['#'] });
      await ws.waitUntil(() => ws.frames.filter((f) => f.type === 'error').length >= 3, 5000, 'three error frames');

      // A price above 16000 fires harga-tinggi (alert frame), changes the KPI
      // (kpi frame); a new unit appears (unit frame).
      await ctx.pub.publish('pantau/simas-bapokting/pasar-bandar-jaya/price', { value: 17250.5, labels: { commodity: 'beras-medium' } });
      await ctx.pub.publish('pantau/simas-bapokting/pasar-gunung-sugih/$status', 'online');
      await ws.nextFrame((f) => f.type === 'alert', 10000, 'an alert frame');
      await ws.nextFrame((f) => f.type === 'kpi', 10000, 'a kpi frame');
      await ws.nextFrame((f) => f.type === 'unit', 10000, 'a unit frame');

      const active = check('GET', '/api/v1/alerts', await get(ctx, '/api/v1/alerts', { token: VIEWER }));
      const alert = active.json.alerts.find((a) => a.rule === 'harga-tinggi');
      assert(alert && alert.state === 'firing', `harga-tinggi fires: ${active.text}`);
      check('GET', '/api/v1/alerts', await get(ctx, '/api/v1/alerts?state=all&program=simas-bapokting&from=0', { token: VIEWER }), 'all');
      check('GET', '/api/v1/alerts', await get(ctx, '/api/v1/alerts?state=bogus', { token: VIEWER }), 'bad state');
      check('GET', '/api/v1/alerts', await get(ctx, '/api/v1/alerts'), 'no token');
      check('GET', '/api/v1/alerts', await post(ctx, '/api/v1/alerts', { token: VIEWER }), 'POST');

      const ack = `/api/v1/alerts/${alert.id}/ack`;
      check('POST', '/api/v1/alerts/{id}/ack', await post(ctx, ack, { token: OPERATOR, body: '[1]' }), 'bad json');
      check('POST', '/api/v1/alerts/{id}/ack', await post(ctx, ack, { token: OPERATOR, body: JSON.stringify({ note: 'n'.repeat(1001) }) }), 'long note');
      check('POST', '/api/v1/alerts/{id}/ack', await post(ctx, ack, { token: OPERATOR, body: 'x'.repeat(5000) }), 'large body');
      const acked = check('POST', '/api/v1/alerts/{id}/ack', await post(ctx, ack, { token: OPERATOR, body: JSON.stringify({ note: 'petugas dikirim' }) }));
      assertEq([acked.status, acked.json.alert.acked_by], [200, 'operator'], 'acked');
      check('POST', '/api/v1/alerts/{id}/ack', await post(ctx, ack, { token: ADMIN }), 'again, no body');
      check('POST', '/api/v1/alerts/{id}/ack', await post(ctx, '/api/v1/alerts/999999/ack', { token: OPERATOR }), 'unknown');
      check('POST', '/api/v1/alerts/{id}/ack', await post(ctx, ack, { token: VIEWER }), 'viewer');
      check('POST', '/api/v1/alerts/{id}/ack', await post(ctx, ack), 'no token');
      check('POST', '/api/v1/alerts/{id}/ack', await get(ctx, ack, { token: OPERATOR }), 'GET');
      await ws.nextFrame((f) => f.type === 'alert' && f.alert.acked_at, 10000, 'the acknowledged alert frame');

      const rejects = check('GET', '/api/v1/rejects', await get(ctx, '/api/v1/rejects', { token: ADMIN }));
      assert(rejects.json.rejects.length >= 2, 'rejects are listed');
      check('GET', '/api/v1/rejects', await get(ctx, '/api/v1/rejects', { token: OPERATOR }), 'operator');
      check('GET', '/api/v1/rejects', await get(ctx, '/api/v1/rejects'), 'no token');
      check('GET', '/api/v1/rejects', await post(ctx, '/api/v1/rejects', { token: ADMIN }), 'POST');

      assertEq(check('POST', '/api/v1/reload', await post(ctx, '/api/v1/reload', { token: ADMIN })).status, 200, 'reload');
      check('POST', '/api/v1/reload', await post(ctx, '/api/v1/reload', { token: OPERATOR }), 'operator');
      check('POST', '/api/v1/reload', await post(ctx, '/api/v1/reload'), 'no token');
      check('POST', '/api/v1/reload', await get(ctx, '/api/v1/reload', { token: ADMIN }), 'GET');
      check('POST', '/api/v1/reload', await post(ctx, '/api/v1/reload', { token: ADMIN, body: 'x'.repeat(70000) }), 'large body');
      fs.writeFileSync(ctx.catalog, `${CATALOG}\n[nonsense]\nkey = 1\n`);
      try {
        assertEq(check('POST', '/api/v1/reload', await post(ctx, '/api/v1/reload', { token: ADMIN }), 'broken').status, 422, 'broken catalog');
      } finally {
        fs.writeFileSync(ctx.catalog, CATALOG);
      }

      // The upgrade as an operation: without a token, and without the upgrade.
      check('GET', '/api/v1/live', await get(ctx, '/api/v1/live', { token: VIEWER }), 'no upgrade');
      const refused = await new Promise((resolve) => {
        const s = new (ws.ws.constructor)(`ws://127.0.0.1:${ctx.pantaud.httpPort}/api/v1/live`);
        s.on('unexpected-response', (req, res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode, contentType: res.headers['content-type'] || '', headers: new Headers(), text, json: JSON.parse(text) }));
        });
        s.on('error', () => {});
        s.on('open', () => resolve({ status: 101, contentType: '', headers: new Headers(), text: '', json: null }));
      });
      assertEq(check('GET', '/api/v1/live', refused, 'no token').status, 401, 'the upgrade without a token');
      seen.get('GET /api/v1/live').add(101);

      ws.close();
      const counts = {};
      for (const f of ws.frames) {
        const { receivedAt, ...frame } = f;
        assert(frames(frame), `server frame ${JSON.stringify(frame).slice(0, 400)}: ${errorsText(frames)}`);
        counts[frame.type] = (counts[frame.type] || 0) + 1;
      }
      for (const type of ['hello', 'samples', 'pong', 'error', 'alert', 'kpi', 'unit']) assert(counts[type] >= 1, `a ${type} frame was seen: ${JSON.stringify(counts)}`);
      // The snapshot: the latest sample of every series.
      assert(ws.frames.find((f) => f.type === 'samples').samples.length >= 4, 'the snapshot');
    },
  ],
  [
    'accounts, sign-in, sessions and the audit log answer as documented (CONTRACT §8)',
    async (ctx) => {
      const json = { 'content-type': 'application/json' };
      const body = (o) => JSON.stringify(o);
      const U = '/api/v1/users';
      const user = { name: 'oa-petugas', role: 'operator', password: 'rahasia-openapi-1', programs: ['simas-bapokting'] };
      let r = check('POST', U, await post(ctx, U, { token: ADMIN, headers: json, body: body(user) }));
      assertEq(r.status, 201, `POST /users: ${r.text}`);
      check('POST', U, await post(ctx, U, { token: ADMIN, headers: json, body: body(user) }), 'exists');
      check('POST', U, await post(ctx, U, { token: ADMIN, headers: json, body: body({ ...user, name: 'oa-2', password: 'pendek' }) }), 'weak');
      check('POST', U, await post(ctx, U, { headers: json, body: body(user) }), 'no token');
      check('POST', U, await post(ctx, U, { token: VIEWER, headers: json, body: body(user) }), 'viewer');
      check('POST', U, await post(ctx, U, { token: ADMIN, headers: json, body: 'x'.repeat(20000) }), 'too large');
      check('POST', U, await postChunked(ctx, U, ADMIN, body(user)), 'chunked');
      check('POST', U, await call(ctx, 'PUT', U, { token: ADMIN }), 'PUT');
      check('GET', U, await get(ctx, U, { token: ADMIN }));
      check('GET', U, await get(ctx, U), 'no token');
      check('GET', U, await get(ctx, U, { token: OPERATOR }), 'operator');
      check('GET', U, await call(ctx, 'PUT', U, { token: ADMIN }), 'PUT');

      const L = '/api/v1/login';
      const login = (u, pw) => post(ctx, L, { headers: json, body: body({ user: u, password: pw }) });
      r = check('POST', L, await login(user.name, user.password));
      assertEq(r.status, 200, `login: ${r.text}`);
      const cookie = r.headers.get('set-cookie').split(';')[0];
      const session = { cookie, origin: ctx.base };
      check('POST', L, await login(user.name, 'salah-salah-salah'), 'wrong password');
      check('POST', L, await post(ctx, L, { headers: json, body: 'not json' }), 'bad json');
      for (let i = 0; i < 5; i++) await login('oa-terkunci', 'salah-salah-salah');
      check('POST', L, await login('oa-terkunci', 'salah-salah-salah'), 'locked');
      check('POST', L, await get(ctx, L), 'GET');
      check('POST', L, await post(ctx, L, { headers: json, body: 'x'.repeat(20000) }), 'too large');
      check('POST', L, await postChunked(ctx, L, ADMIN, '{}'), 'chunked');

      const M = '/api/v1/me';
      check('GET', M, await get(ctx, M, { headers: session }), 'session');
      check('GET', M, await get(ctx, M, { token: VIEWER }), 'token');
      check('GET', M, await get(ctx, M), 'no token');
      check('GET', M, await post(ctx, M, { token: VIEWER }), 'POST');

      const A = '/api/v1/audit';
      r = check('GET', A, await get(ctx, `${A}?from=0`, { token: ADMIN }));
      assert(r.json.events.some((e) => e.action === 'login' && e.user === user.name), 'the login is in the log');
      check('GET', A, await get(ctx, `${A}?action=nope`, { token: ADMIN }), 'bad action');
      check('GET', A, await get(ctx, A), 'no token');
      check('GET', A, await get(ctx, A, { token: OPERATOR }), 'operator');
      check('GET', A, await post(ctx, A, { token: ADMIN }), 'POST');
      const V = '/api/v1/audit/verify';
      r = check('GET', V, await get(ctx, V, { token: ADMIN }));
      assertEq(r.json.ok, true, 'the chain verifies');
      check('GET', V, await get(ctx, V), 'no token');
      check('GET', V, await get(ctx, V, { token: VIEWER }), 'viewer');
      check('GET', V, await post(ctx, V, { token: ADMIN }), 'POST');

      const O = '/api/v1/logout';
      check('POST', O, await post(ctx, O, { headers: session }), 'session');
      check('POST', O, await post(ctx, O), 'no token');
      check('POST', O, await get(ctx, O, { token: VIEWER }), 'GET');

      // An admin's password reset (an addition to §8, for #pengguna).
      const PT = '/api/v1/users/{name}/password';
      const P = `${U}/${user.name}/password`;
      const pw = (password) => ({ headers: json, body: body({ password }) });
      r = check('POST', PT, await post(ctx, P, { token: ADMIN, ...pw('rahasia-baru-openapi') }));
      assertEq(r.status, 200, `POST ${P}: ${r.text}`);
      check('POST', PT, await post(ctx, P, { token: ADMIN, ...pw('pendek') }), 'weak');
      check('POST', PT, await post(ctx, `${U}/tidak-ada/password`, { token: ADMIN, ...pw('rahasia-baru-openapi') }), 'unknown');
      check('POST', PT, await post(ctx, P, pw('rahasia-baru-openapi')), 'no token');
      check('POST', PT, await post(ctx, P, { token: OPERATOR, ...pw('rahasia-baru-openapi') }), 'operator');
      check('POST', PT, await post(ctx, P, { token: ADMIN, headers: json, body: 'x'.repeat(20000) }), 'too large');
      check('POST', PT, await postChunked(ctx, P, ADMIN, body({ password: 'rahasia-baru-openapi' })), 'chunked');
      check('POST', PT, await get(ctx, P, { token: ADMIN }), 'GET');

      const D = `${U}/${user.name}`;
      check('DELETE', '/api/v1/users/{name}', await call(ctx, 'DELETE', D, { token: ADMIN }));
      check('DELETE', '/api/v1/users/{name}', await call(ctx, 'DELETE', D, { token: ADMIN }), 'gone');
      check('DELETE', '/api/v1/users/{name}', await call(ctx, 'DELETE', D), 'no token');
      check('DELETE', '/api/v1/users/{name}', await call(ctx, 'DELETE', D, { token: OPERATOR }), 'operator');
      check('DELETE', '/api/v1/users/{name}', await get(ctx, D, { token: ADMIN }), 'GET');
    },
  ],
  [
    'federation: regions, history and evaluations answer as documented (CONTRACT §7)',
    async (ctx) => {
      const json = { 'content-type': 'application/json' };
      const R = '/api/v1/regions';
      await until(async () => (await get(ctx, R, { token: VIEWER })).json?.regions?.length >= 1, 20000, 'its own state at the hub');
      const regions = check('GET', R, await get(ctx, R, { token: VIEWER }));
      assertEq(regions.json.regions[0].id, 'lampung-tengah', 'its own region');
      check('GET', R, await get(ctx, R), 'no token');
      check('GET', R, await post(ctx, R, { token: VIEWER }), 'POST');
      const I = '/api/v1/regions/{id}';
      check('GET', I, await get(ctx, `${R}/lampung-tengah`, { token: VIEWER }));
      check('GET', I, await get(ctx, `${R}/nowhere`, { token: VIEWER }), 'unknown');
      check('GET', I, await get(ctx, `${R}/lampung-tengah`), 'no token');
      check('GET', I, await post(ctx, `${R}/lampung-tengah`, { token: ADMIN }), 'POST');
      const H = '/api/v1/regions/{id}/history';
      const hist = check('GET', H, await get(ctx, `${R}/lampung-tengah/history`, { token: VIEWER }));
      assert(hist.json.history.length >= 1, 'a history entry');
      check('GET', H, await get(ctx, `${R}/lampung-tengah/history?from=soon`, { token: VIEWER }), 'bad from');
      check('GET', H, await get(ctx, `${R}/nowhere/history`, { token: VIEWER }), 'unknown');
      check('GET', H, await get(ctx, `${R}/lampung-tengah/history`), 'no token');
      check('GET', H, await post(ctx, `${R}/lampung-tengah/history`, { token: ADMIN }), 'POST');
      const E = '/api/v1/evaluations';
      const body = (o) => JSON.stringify(o);
      const made = check('POST', E, await post(ctx, E, { token: ADMIN, headers: json, body: body({ name: 'Evaluasi Juni 2027' }) }));
      assertEq(made.status, 201, `POST /evaluations: ${made.text}`);
      assert(made.json.evaluation.report && made.json.evaluation.regions, 'a hub with programs: report and regions');
      check('POST', E, await post(ctx, E, { token: ADMIN, headers: json, body: body({ name: 'x', as_of: Date.now() + 600000 }) }), 'future');
      check('POST', E, await post(ctx, E, { token: OPERATOR, headers: json, body: body({ name: 'x' }) }), 'operator');
      check('POST', E, await post(ctx, E, { headers: json, body: body({ name: 'x' }) }), 'no token');
      check('POST', E, await post(ctx, E, { token: ADMIN, headers: json, body: 'x'.repeat(5000) }), 'too large');
      check('POST', E, await postChunked(ctx, E, ADMIN, body({ name: 'x' })), 'chunked');
      check('POST', E, await call(ctx, 'PUT', E, { token: ADMIN }), 'PUT');
      check('GET', E, await get(ctx, E, { token: VIEWER }));
      check('GET', E, await get(ctx, E), 'no token');
      check('GET', E, await call(ctx, 'PUT', E, { token: ADMIN }), 'PUT');
      const G = '/api/v1/evaluations/{id}';
      check('GET', G, await get(ctx, `${E}/${made.json.evaluation.id}`, { token: VIEWER }));
      check('GET', G, await get(ctx, `${E}/99999`, { token: VIEWER }), 'unknown');
      check('GET', G, await get(ctx, `${E}/1`), 'no token');
      check('GET', G, await post(ctx, `${E}/1`, { token: ADMIN }), 'POST');
    },
  ],
  [
    'every operation showed its answers: success, 401, 405 and its own errors',
    async () => {
      const want = {
        'GET /healthz': [200, 405],
        'GET /api/v1/openapi.json': [200, 401, 405],
        'GET /metrics': [200, 401, 405],
        'GET /api/v1/programs': [200, 401, 405],
        'GET /api/v1/programs/{id}': [200, 401, 404, 405],
        'GET /api/v1/dimensions': [200, 401, 405],
        'GET /api/v1/report': [200, 400, 401, 405],
        'GET /api/v1/series': [200, 400, 401, 405],
        'GET /api/v1/query': [200, 400, 401, 405],
        'GET /api/v1/export.csv': [200, 400, 401, 405],
        'GET /api/v1/units': [200, 401, 405],
        'GET /api/v1/alerts': [200, 400, 401, 405],
        'POST /api/v1/alerts/{id}/ack': [200, 400, 401, 403, 404, 405, 413],
        'POST /api/v1/ingest/{program}/{unit}/{metric}': [200, 400, 401, 403, 405, 411],
        'POST /api/v1/import.csv': [200, 400, 401, 403, 405, 413],
        'GET /api/v1/rejects': [200, 401, 403, 405],
        'POST /api/v1/reload': [200, 401, 403, 405, 413, 422],
        'GET /api/v1/live': [101, 401, 404],
        'POST /api/v1/login': [200, 400, 401, 405, 411, 413, 429],
        'POST /api/v1/logout': [200, 401, 405],
        'GET /api/v1/me': [200, 401, 405],
        'GET /api/v1/users': [200, 401, 403, 405],
        'POST /api/v1/users': [201, 400, 401, 403, 405, 409, 411, 413],
        'DELETE /api/v1/users/{name}': [200, 401, 403, 404, 405],
        'POST /api/v1/users/{name}/password': [200, 400, 401, 403, 404, 405, 411, 413],
        'GET /api/v1/audit': [200, 400, 401, 403, 405],
        'GET /api/v1/audit/verify': [200, 401, 403, 405],
        'GET /api/v1/regions': [200, 401, 405],
        'GET /api/v1/regions/{id}': [200, 401, 404, 405],
        'GET /api/v1/regions/{id}/history': [200, 400, 401, 404, 405],
        'GET /api/v1/evaluations': [200, 401, 405],
        'POST /api/v1/evaluations': [201, 400, 401, 403, 405, 411, 413],
        'GET /api/v1/evaluations/{id}': [200, 401, 404, 405],
        'GET /': [200, 401, 405],
        'GET /assets/{file}': [200, 404],
      };
      for (const { template, method } of operations()) assert(want[`${method} ${template}`], `${method} ${template} is in this list`);
      for (const [key, statuses] of Object.entries(want)) {
        const got = seen.get(key) || new Set();
        for (const s of statuses) assert(got.has(s), `${key}: a ${s} answer was validated (got ${[...got]})`);
      }
    },
  ],
  [
    '/healthz degraded (503) when the broker is gone, as documented',
    async (ctx) => {
      await ctx.pub.close();
      await ctx.broker.child.kill('SIGKILL');
      const res = await until(
        async () => {
          const r = await get(ctx, '/healthz');
          return r.status === 503 && r;
        },
        15000,
        '/healthz to turn 503',
        200,
      );
      check('GET', '/healthz', res, 'degraded');
      assert(res.json.reasons.includes('mqtt_disconnected'), `reasons: ${res.text}`);
    },
  ],
];

runCases(FILE, cases, { before, totalMs: 150000 });
