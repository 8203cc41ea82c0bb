// PROMQL rules on a real Prometheus (Debian's /usr/bin/prometheus, 2.42, started on a free port with
// an empty scrape config): any PromQL runs there, with the rule's evaluation time; an expression that
// does not parse is refused when the rule is created (Prometheus parses it: /api/v1/format_query,
// since 2.42 has no /api/v1/parse_query) or loaded from the rules file, and Prometheus' own error
// for one that fails when run shows on the rule.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { AlertEngine } from '../../src/alerting/engine.ts';
import { pino } from 'pino';
import { freePort } from '../helpers/free-port.ts';
import { gql, gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startWebhookServer, type WebhookServer } from '../helpers/webhook-server.ts';

const PROMETHEUS_BIN = '/usr/bin/prometheus';
const MIN = 60_000_000_000n;

describe('alerting: PROMQL rules on a real Prometheus', { skip: !existsSync(PROMETHEUS_BIN) && `${PROMETHEUS_BIN} is not installed` }, () => {
  let dir: string;
  let prom: ChildProcess;
  let app: App;
  let engine: AlertEngine;
  let graphqlUrl: string;
  let hook: WebhookServer;
  let rulesFile: string;
  const logs: { msg?: string; error?: string }[] = [];
  const clock = { t: (BigInt(Date.now()) * 1_000_000n) / MIN * MIN, now: () => clock.t };
  const H = { 'X-Scope-OrgID': 'acme' };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'teleql-prom-'));
    await writeFile(join(dir, 'prometheus.yml'), 'global: {}\n');
    const port = await freePort();
    prom = spawn(PROMETHEUS_BIN, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/-/ready`)).status, (s) => s === 200, 'prometheus ready', 30_000);
    hook = await startWebhookServer();
    rulesFile = join(dir, 'rules.yaml');
    await writeFile(rulesFile, 'rules:\n  - name: Up\n    tenant: acme\n    kind: PROMQL\n    expr: vector(1)\n    threshold: 5\n');
    const cfg = loadConfig({
      env: {},
      overrides: {
        log: { level: 'silent' },
        graphql: { port: 0 },
        storage: { duckdb: { path: ':memory:' } },
        receivers: { otlp: { grpc: { port: 0 }, http: { port: 0 } } },
        // group_wait 0 and a group_interval shorter than any tick: each change is sent at the evaluation that makes it.
        alerting: { tickMs: 0, defaultGroupWait: '0s', defaultGroupInterval: '1ms', prometheusUrl: url, rulesFile, reloadDebounceMs: 20, receivers: [{ name: 'ops', type: 'webhook', url: `${hook.url}/hook` }] },
      },
    });
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as { msg?: string; error?: string }) });
    app = buildApp(cfg, { logger, clock });
    await app.start();
    engine = app.internals.alerting()!;
    graphqlUrl = `http://${app.addresses().graphql}/graphql`;
  });
  after(async () => {
    await app?.stop();
    await hook?.close();
    if (prom && prom.exitCode === null) {
      const exited = new Promise((resolve) => prom.once('exit', resolve));
      prom.kill('SIGTERM');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('an expression beyond the embedded subset fires per series; one that fails when run reports Prometheus’ error on the rule', async () => {
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
    // Parses, but fails when run: many-to-many matching.
    const failing = await create({
      name: 'Failing',
      kind: 'PROMQL',
      expr: 'vector(1) + on() group_left() (label_replace(vector(1), "a", "1", "", "") or label_replace(vector(2), "a", "2", "", ""))',
      threshold: 1,
    });
    await engine.tick();
    const firing = engine.instances('acme', good.createAlertRule.id);
    assert.deepEqual(firing.map((i) => [i.state, i.labels.route, i.value]), [['FIRING', '/pay', 3]]);
    assert.match(engine.status('acme', failing.createAlertRule.id).lastEvaluationError ?? '', /^Prometheus answered 422: found duplicate series for the match group/);
    await gqlData(graphqlUrl, 'mutation($id: ID!) { deleteAlertRule(id: $id) }', { id: failing.createAlertRule.id }, H);
  });

  test('an expression that does not parse is refused when created, updated or loaded from the rules file, with Prometheus’ own error', async () => {
    // Found by QA: it was accepted, and failed at every evaluation.
    const CREATE = 'mutation($i: AlertRuleInput!) { createAlertRule(input: $i) { id } }';
    const bad = await gql(graphqlUrl, CREATE, { i: { name: 'Broken', kind: 'PROMQL', expr: 'sum(rate(x[5m])', threshold: 1 } }, H);
    assert.equal(bad.errors?.[0]?.extensions?.code, 'GW_BAD_ARGUMENT');
    assert.equal(bad.errors![0]!.message, `rule.expr: PromQL "sum(rate(x[5m])" does not parse: 1:16: parse error: unclosed left parenthesis (checked by Prometheus)`);
    assert.ok(!engine.rules('acme').some((r) => r.name === 'Broken'));
    // What the embedded store refuses is fine here.
    const ratio = await gqlData<{ createAlertRule: { id: string } }>(graphqlUrl, CREATE, { i: { name: 'Ratio', kind: 'PROMQL', expr: 'sum(rate(x[5m])) / sum(rate(y[5m]))', threshold: 1 } }, H);
    const upd = await gql(graphqlUrl, 'mutation($id: ID!, $i: AlertRuleInput!) { updateAlertRule(id: $id, input: $i) { id } }', { id: ratio.createAlertRule.id, i: { name: 'Ratio', kind: 'PROMQL', expr: 'x{', threshold: 1 } }, H);
    assert.match(upd.errors![0]!.message, /^rule\.expr: PromQL "x\{" does not parse: 1:3: parse error: unexpected end of input inside braces \(checked by Prometheus\)$/);
    assert.equal(engine.rule('acme', ratio.createAlertRule.id)?.expr, 'sum(rate(x[5m])) / sum(rate(y[5m]))');
    await gqlData(graphqlUrl, 'mutation($id: ID!) { deleteAlertRule(id: $id) }', { id: ratio.createAlertRule.id }, H);

    const text = await readFile(rulesFile, 'utf8');
    await writeFile(rulesFile, `${text}  - name: BrokenFile\n    tenant: acme\n    kind: PROMQL\n    expr: rate(x[5m]\n    threshold: 1\n`);
    await waitFor(async () => logs.filter((l) => l.msg?.startsWith('alert rules file refused')).map((l) => l.error).at(-1), (e) => e !== undefined, 'the file refused');
    assert.equal(
      logs.filter((l) => l.msg?.startsWith('alert rules file refused')).at(-1)!.error,
      `${rulesFile}: rule "BrokenFile".expr: PromQL "rate(x[5m]" does not parse: 1:11: parse error: unclosed left parenthesis (checked by Prometheus)`,
    );
    assert.deepEqual(engine.rules('acme').filter((r) => r.source === 'file').map((r) => r.name), ['Up'], 'the previous file rules stay in force');
    await writeFile(rulesFile, text);
  });

  test('a value of +Inf fires a GT rule and -Inf an LT one, sent as +Inf; NaN fires none', async () => {
    // Found by QA: Prometheus writes x / 0 as "+Inf", which read as NaN, so the rule never fired.
    const create = (name: string, expr: string, extra: Record<string, unknown> = {}) =>
      gqlData<{ createAlertRule: { id: string } }>(
        graphqlUrl,
        'mutation($i: AlertRuleInput!) { createAlertRule(input: $i) { id } }',
        { i: { name, kind: 'PROMQL', expr, threshold: 5, receivers: ['ops'], annotations: { summary: 'ratio {{ $value }}' }, ...extra } },
        H,
      );
    const inf = await create('DividedByZero', 'vector(1) / vector(0)');
    const minusInf = await create('MinusInfinity', '-vector(1) / vector(0)', { comparator: 'LT' });
    const scalar = await create('ScalarInfinity', 'scalar(vector(1) / vector(0))');
    const nan = await create('NotANumber', 'vector(0) / vector(0)', { comparator: 'NEQ' });
    clock.t += MIN;
    await engine.tick();
    await engine.idle();
    const state = (r: { createAlertRule: { id: string } }) => engine.instances('acme', r.createAlertRule.id).map((i) => [i.state, i.value]);
    assert.deepEqual(state(inf), [['FIRING', Infinity]]);
    assert.deepEqual(state(minusInf), [['FIRING', -Infinity]]);
    assert.deepEqual(state(scalar), [['FIRING', Infinity]]);
    assert.deepEqual(state(nan), [], 'NaN != 5 does not hold: NaN is no value');
    assert.equal(engine.status('acme', nan.createAlertRule.id).lastEvaluationError, null);
    const sent = hook.received.map((r) => r.body as { alerts: { labels: { alertname: string }; annotations: Record<string, string> }[] });
    const byName = new Map(sent.map((b) => [b.alerts[0]!.labels.alertname, b.alerts[0]!.annotations]));
    assert.deepEqual(byName.get('DividedByZero'), { summary: 'ratio +Inf', value: '+Inf' });
    assert.deepEqual(byName.get('MinusInfinity'), { summary: 'ratio -Inf', value: '-Inf' });
    assert.ok(!byName.has('NotANumber'));
    // Kept as it is in DuckDB (it was stored as null).
    const stored = (await engine.store.alerts('acme', { states: ['FIRING'], limit: 100 })).find((i) => i.ruleId === inf.createAlertRule.id);
    assert.deepEqual([stored?.value, stored?.evidence?.value], [Infinity, Infinity]);
  });
});
