// PROMQL rules on a real Prometheus (Debian's /usr/bin/prometheus, started on a free port with an
// empty scrape config): any PromQL runs there, with the rule's evaluation time, and Prometheus'
// own error for a bad expression shows on the rule.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { silentLogger } from '../../src/logger.ts';
import type { AlertEngine } from '../../src/alerting/engine.ts';
import { freePort } from '../helpers/free-port.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const PROMETHEUS_BIN = '/usr/bin/prometheus';
const MIN = 60_000_000_000n;

describe('alerting: PROMQL rules on a real Prometheus', { skip: !existsSync(PROMETHEUS_BIN) && `${PROMETHEUS_BIN} is not installed` }, () => {
  let dir: string;
  let prom: ChildProcess;
  let app: App;
  let engine: AlertEngine;
  let graphqlUrl: string;
  const clock = { t: (BigInt(Date.now()) * 1_000_000n) / MIN * MIN, now: () => clock.t };
  const H = { 'X-Scope-OrgID': 'acme' };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'teleql-prom-'));
    await writeFile(join(dir, 'prometheus.yml'), 'global: {}\n');
    const port = await freePort();
    prom = spawn(PROMETHEUS_BIN, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/-/ready`)).status, (s) => s === 200, 'prometheus ready', 30_000);
    const cfg = loadConfig({
      env: {},
      overrides: {
        log: { level: 'silent' },
        graphql: { port: 0 },
        storage: { duckdb: { path: ':memory:' } },
        receivers: { otlp: { grpc: { port: 0 }, http: { port: 0 } } },
        alerting: { tickMs: 0, prometheusUrl: url },
      },
    });
    app = buildApp(cfg, { logger: silentLogger(), clock });
    await app.start();
    engine = app.internals.alerting()!;
    graphqlUrl = `http://${app.addresses().graphql}/graphql`;
  });
  after(async () => {
    await app?.stop();
    if (prom && prom.exitCode === null) {
      const exited = new Promise((resolve) => prom.once('exit', resolve));
      prom.kill('SIGTERM');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('an expression beyond the embedded subset fires per series; a bad one reports Prometheus’ error', async () => {
    assert.equal(engine.promqlBackend, 'prometheus');
    const create = (input: Record<string, unknown>) =>
      gqlData<{ createAlertRule: { id: string } }>(graphqlUrl, 'mutation($i: AlertRuleInput!) { createAlertRule(input: $i) { id } }', { i: input }, H);
    const good = await create({
      name: 'Routes',
      kind: 'PROMQL',
      // Two series built in PromQL itself: /pay at 3, /cart at 1.
      expr: 'label_replace(vector(3), "route", "/pay", "", "") or label_replace(vector(1), "route", "/cart", "", "")',
      threshold: 2,
    });
    const bad = await create({ name: 'Broken', kind: 'PROMQL', expr: 'sum(', threshold: 1 });
    await engine.tick();
    const firing = engine.instances('acme', good.createAlertRule.id);
    assert.deepEqual(firing.map((i) => [i.state, i.labels.route, i.value]), [['FIRING', '/pay', 3]]);
    const status = engine.status('acme', bad.createAlertRule.id);
    assert.match(status.lastEvaluationError ?? '', /^Prometheus answered 400: .*unclosed left parenthesis|^Prometheus answered 400: .*unexpected end of input/);
  });
});
