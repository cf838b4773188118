// secrets.test.mjs — no secret leaves pantaud: with every secret configured
// (the three roles' tokens, the MQTT password, the webhooks' tokens), it runs
// through start, bad requests, a failed and a good reload, an unreachable
// webhook and a stop; then its log, /metrics and every error answer are
// searched for each secret.
import fs from 'node:fs';
import path from 'node:path';
import { assert, assertEq, fetchJson, mosquittoPub, runCases, sleep, startBroker, startPantaud, tmpdir } from './harness.mjs';

const SECRETS = {
  viewer: 'viewer-secret-7d1f0c2a9e',
  operator: 'operator-secret-41b8e6d3',
  admin: 'admin-secret-c95a27f0e1',
  mqtt_password: 'mqtt-password-5e2d8b7a',
  webhook_token: 'webhook-token-9a3c1f64',
  escalate_webhook_token: 'escalate-token-3f7a9c0b',
};

function config(dir, extraAuth = '') {
  const catalog = path.join(dir, 'catalog.ini');
  fs.writeFileSync(
    catalog,
    [
      '[regency]', 'id = uji', 'name = Kabupaten Uji',
      '[program p1]', 'name = P1', 'dimension = living',
      '[rule r1]', 'program = p1', 'metric = m', 'above = 10', 'escalate = 0',
    ].join('\n'),
  );
  return [
    'username = pantaud',
    `password = ${SECRETS.mqtt_password}`,
    '[auth]',
    `viewer = ${SECRETS.viewer}`,
    `operator = ${SECRETS.operator}`,
    `admin = ${SECRETS.admin}`,
    extraAuth,
    '[alerts]',
    // Nothing listens on port 9: every POST fails and is retried (and logged).
    'webhook = http://127.0.0.1:9/hook',
    `webhook_token = ${SECRETS.webhook_token}`,
    // Escalations (escalate = 0: at the first check) fail there too.
    'escalate_webhook = http://127.0.0.1:9/escalate',
    `escalate_webhook_token = ${SECRETS.escalate_webhook_token}`,
    '[catalog]',
    `file = ${catalog}`,
    '[log]',
    'level = debug',
    '',
  ].join('\n');
}

function leaks(text, where) {
  return Object.entries(SECRETS)
    .filter(([, s]) => text.includes(s))
    .map(([name]) => `${name} in ${where}`);
}

await runCases('secrets.test.mjs', [
  [
    'no secret in the log, /metrics or error answers',
    async () => {
      const dir = tmpdir();
      const broker = await startBroker();
      const pd = await startPantaud(broker, { config: config(dir) });
      const base = `http://127.0.0.1:${pd.httpPort}`;
      const bearer = (t) => ({ Authorization: `Bearer ${t}` });
      const answers = [];
      const ask = async (p, opts) => {
        const r = await fetchJson(base + p, opts);
        answers.push(`${r.status} ${r.text}`); // the answer only: p may hold a token
        return r;
      };
      // Wrong, missing, too weak and malformed credentials; bad parameters.
      assertEq((await ask('/api/v1/series', { headers: bearer(`${SECRETS.admin}x`) })).status, 401, 'a wrong token');
      assertEq((await ask('/api/v1/series')).status, 401, 'no token');
      assertEq((await ask(`/api/v1/series?access_token=${SECRETS.viewer}0`)).status, 401, 'a wrong access_token');
      assertEq((await ask('/api/v1/reload', { method: 'POST', headers: bearer(SECRETS.viewer) })).status, 403, 'a viewer reloads');
      assertEq((await ask('/api/v1/query?program=Bad!', { headers: bearer(SECRETS.viewer) })).status, 400, 'a bad parameter');
      await ask('/api/v1/ingest/p1/u1/m', { method: 'POST', headers: bearer(SECRETS.operator), body: '{"value":' });
      // A sample that fires the rule: the webhook is tried (and fails).
      await mosquittoPub(broker, 'pantau/p1/u1/m', '42');
      await sleep(1500);
      // A reload refused (a bad token line), then a good one by SIGHUP.
      const ini = pd.log.replace(/pantaud-(\d+)\.log$/, 'pantau-$1.ini');
      const good = fs.readFileSync(ini, 'utf8');
      fs.writeFileSync(ini, good.replace('[auth]\n', `[auth]\nroot = ${SECRETS.admin}\n`));
      assert((await ask('/api/v1/reload', { method: 'POST', headers: bearer(SECRETS.admin) })).status >= 400, 'a bad reload is refused');
      fs.writeFileSync(ini, good);
      process.kill(pd.pid, 'SIGHUP');
      await sleep(500);
      const metrics = await ask('/metrics', { headers: bearer(SECRETS.admin) });
      assertEq(metrics.status, 200, '/metrics');
      await pd.stop();
      const log = pd.readLog();
      assert(log.includes('reload'), 'the log shows the reloads');
      assert(/webhook/.test(log), 'the log shows the webhook failing');
      const found = [
        ...leaks(log, 'the log'),
        ...leaks(metrics.text, '/metrics'),
        ...leaks(answers.join('\n'), 'the answers'),
      ];
      assertEq(found, [], 'secrets seen');
      await broker.child.kill('SIGTERM');
    },
    40000,
  ],
]);
