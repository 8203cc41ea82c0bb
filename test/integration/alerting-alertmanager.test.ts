// A PROMQL rule evaluated by the embedded subset over metric points sent with OTLP/HTTP, notified
// to a real Alertmanager (Debian's prometheus-alertmanager) through its API v2: GET /api/v2/alerts
// lists the alert while it fires and drops it once the resolution is forwarded.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { buildApp, type App } from '../../src/app.ts';
import { silentLogger } from '../../src/logger.ts';
import { testConfig } from '../helpers/gateway.ts';
import type { AlertEngine } from '../../src/alerting/engine.ts';
import { alertmanagerFingerprint } from '../../src/alerting/silences.ts';
import { ALERTMANAGER_BIN, startAlertmanager, type Alertmanager } from '../helpers/alertmanager.ts';
import { gql, gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const MIN = 60_000_000_000n;
const T0 = ((BigInt(Date.now()) * 1_000_000n) / MIN) * MIN - 60n * MIN;

const exemplarTrace = (m: number) => m.toString(16).padStart(32, 'e');

/** A cumulative counter per route, one point a minute: /pay climbs 60/min in minutes 5–9, else 6/min. */
function counterPoints(minutes: number): unknown {
  const points: unknown[] = [];
  for (const route of ['/pay', '/cart']) {
    let value = 0;
    for (let m = 0; m <= minutes; m++) {
      if (m > 0) value += route === '/pay' && m >= 5 && m < 10 ? 60 : 6;
      points.push({
        attributes: [{ key: 'route', value: { stringValue: route } }],
        startTimeUnixNano: String(T0),
        timeUnixNano: String(T0 + BigInt(m) * MIN),
        asInt: String(value),
        // The busy /pay minutes carry an exemplar pointing at a failing request's trace.
        exemplars:
          route === '/pay' && m >= 5 && m < 10
            ? [{ timeUnixNano: String(T0 + BigInt(m) * MIN), asDouble: 1, traceId: exemplarTrace(m), spanId: '00000000000000aa', filteredAttributes: [] }]
            : [],
      });
    }
  }
  return {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
        scopeMetrics: [
          { scope: { name: 'test' }, metrics: [{ name: 'http_errors_total', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: points } }] },
        ],
      },
    ],
  };
}

describe('alerting: PROMQL on the embedded store, forwarded to a real Alertmanager', { skip: !existsSync(ALERTMANAGER_BIN) && `${ALERTMANAGER_BIN} is not installed` }, () => {
  let am: Alertmanager;
  let app: App;
  let engine: AlertEngine;
  let graphqlUrl: string;
  const clock = { t: T0, now: () => clock.t };
  const H = { 'X-Scope-OrgID': 'acme' };

  before(async () => {
    am = await startAlertmanager();
    const cfg = testConfig({
      alerting: {
        tickMs: 0,
        externalUrl: 'http://teleql.example:4000',
        receivers: [{ name: 'am', type: 'alertmanager', url: am.url }],
        retry: { attempts: 3, initialBackoffMs: 20, maxBackoffMs: 100, timeoutMs: 5000 },
      },
    });
    app = buildApp(cfg, { logger: silentLogger(), clock });
    await app.start();
    engine = app.internals.alerting()!;
    graphqlUrl = `http://${app.addresses().graphql}/graphql`;
    const res = await fetch(`http://${app.addresses().otlpHttp!}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Scope-OrgID': 'acme' },
      body: JSON.stringify(counterPoints(20)),
    });
    assert.equal(res.status, 200);
    const db = app.internals.store()!.db;
    await waitFor(async () => Number((await db.query('SELECT count(*) AS n FROM metric_points'))[0]!.n), (n) => n === 42, 'metric points stored');
  });
  after(async () => {
    await app?.stop();
    await am?.stop();
  });

  test('sum by (route) (rate(m[5m])) > 0.5 fires for /pay only, appears in Alertmanager, and leaves it when resolved', async () => {
    const created = await gqlData<{ createAlertRule: { id: string } }>(
      graphqlUrl,
      `mutation($i: AlertRuleInput!) { createAlertRule(input: $i) { id } }`,
      {
        i: {
          name: 'HighErrorRate',
          kind: 'PROMQL',
          expr: 'sum by (route) (rate(http_errors_total[5m]))',
          threshold: 0.5,
          comparator: 'GT',
          interval: '1m',
          for: '1m',
          labels: { team: 'payments' },
          annotations: { summary: '{{ $labels.route }} errors at {{ $value }}/s' },
        },
      },
      H,
    );
    const ruleId = created.createAlertRule.id;
    const amAlerts = async () =>
      ((await (await fetch(`${am.url}/api/v2/alerts`)).json()) as { labels: Record<string, string>; annotations: Record<string, string>; generatorURL: string }[]).filter(
        (a) => a.labels.alertname === 'HighErrorRate',
      );

    let firingMinute = 0;
    for (let m = 1; m <= 16 && !firingMinute; m++) {
      clock.t = T0 + BigInt(m) * MIN;
      await engine.tick();
      if (engine.instances('acme', ruleId).some((i) => i.state === 'FIRING')) firingMinute = m;
    }
    await engine.idle();
    assert.ok(firingMinute > 0, 'fired');
    const firing = engine.instances('acme', ruleId);
    assert.deepEqual(firing.map((i) => i.labels), [{ alertname: 'HighErrorRate', route: '/pay', team: 'payments' }]);
    assert.equal(engine.status('acme', ruleId).lastNotificationError, null);
    // Evidence: the metric exemplars of the window, newest first.
    const evidence = firing[0]!.evidence!;
    assert.ok(evidence.value > 0.5);
    const expected: string[] = [];
    for (let m = Math.min(firingMinute, 9); m >= Math.max(5, firingMinute - 5) && expected.length < 5; m--) expected.push(exemplarTrace(m));
    assert.ok(expected.length > 0);
    assert.deepEqual(evidence.exemplars.map((e) => e.traceId), expected);

    const listed = await waitFor(amAlerts, (a) => a.length === 1, 'the alert in Alertmanager');
    assert.deepEqual(listed[0]!.labels, { alertname: 'HighErrorRate', route: '/pay', team: 'payments', tenant: 'acme' });
    assert.match(listed[0]!.annotations.summary!, /^\/pay errors at [\d.]+\/s$/);
    // The link opens the rule: GraphiQL with its alertRule query (QA round 29, D9).
    const link = new URL(listed[0]!.generatorURL);
    assert.equal(`${link.origin}${link.pathname}`, 'http://teleql.example:4000/graphql');
    assert.match(link.searchParams.get('query')!, new RegExp(`alertRule\\(id: "${ruleId}"\\)`));

    // After minute 10 the /pay rate falls back to 0.1/s; once the 5m window is past it, resolved.
    for (let m = firingMinute + 1; m <= 20; m++) {
      clock.t = T0 + BigInt(m) * MIN;
      await engine.tick();
    }
    await engine.idle();
    assert.equal(engine.instances('acme', ruleId)[0]!.state, 'RESOLVED');
    await waitFor(amAlerts, (a) => a.length === 0, 'Alertmanager to drop the resolved alert');
  });

  test('a series without aggregation alerts with the labels Prometheus would give it (job, no __name__ nor OTel keys), which Alertmanager takes', async () => {
    // QA round 27 (D1): rate(m{…}) and a bare selector kept service.name (and __name__), which
    // Alertmanager refuses with 400 "invalid label set", so the alert never reached it.
    const amAlerts = async (name: string) =>
      ((await (await fetch(`${am.url}/api/v2/alerts`)).json()) as { labels: Record<string, string>; fingerprint: string }[]).filter((a) => a.labels.alertname === name);
    const ids: string[] = [];
    for (const [name, expr] of [['RawRate', 'rate(http_errors_total{route="/pay"}[5m])'], ['RawCount', 'http_errors_total{route="/pay"}']] as const) {
      const created = await gqlData<{ createAlertRule: { id: string } }>(
        graphqlUrl,
        `mutation($i: AlertRuleInput!) { createAlertRule(input: $i) { id } }`,
        { i: { name, kind: 'PROMQL', expr, threshold: 0.5, comparator: 'GT', interval: '1m', annotations: { summary: '{{ $labels.route }} of {{ $labels.job }}' } } },
        H,
      );
      ids.push(created.createAlertRule.id);
    }
    // Minute 8: /pay counted 60 a minute since minute 5.
    clock.t = T0 + 8n * MIN;
    await engine.tick();
    await engine.idle();
    for (const [i, name] of ['RawRate', 'RawCount'].entries()) {
      const [inst] = engine.instances('acme', ids[i]!);
      // The scope too (QA round 30, D6), as the Prometheus exporter writes it.
      assert.deepEqual(inst!.labels, { alertname: name, job: 'checkout', otel_scope_name: 'test', route: '/pay' });
      assert.equal(inst!.annotations.summary, '/pay of checkout');
      assert.equal(engine.status('acme', ids[i]!).lastNotificationError, null);
      const [listed] = await waitFor(() => amAlerts(name), (a) => a.length === 1, `${name} in Alertmanager`);
      assert.deepEqual(listed!.labels, { alertname: name, job: 'checkout', otel_scope_name: 'test', route: '/pay', tenant: 'acme' });
      // D6: the fingerprint the webhook carries is the one Alertmanager gives the alert.
      assert.equal(alertmanagerFingerprint(listed!.labels), listed!.fingerprint);
    }
    for (const id of ids) await engine.deleteRule('acme', id);
    await engine.idle();
  });

  test('PromQL outside the embedded subset is refused when the rule is created, naming what is outside it and the subset', async () => {
    const r = await gql(
      graphqlUrl,
      `mutation($i: AlertRuleInput!) { createAlertRule(input: $i) { id } }`,
      { i: { name: 'Unsupported', kind: 'PROMQL', expr: 'rate(x[5m]) / rate(y[5m])', threshold: 1 } },
      H,
    );
    assert.equal(r.errors?.[0]?.extensions?.code, 'GW_BAD_ARGUMENT');
    assert.match(r.errors![0]!.message, /^rule\.expr: PromQL "rate\(x\[5m\]\) \/ rate\(y\[5m\]\)": the operator "\/" is not supported; the embedded store evaluates only .* configure alerting\.prometheusUrl/);
    assert.ok(!engine.rules('acme').some((rule) => rule.name === 'Unsupported'));
  });
});
