// Every client of a Prometheus reaches it one way (src/stores/prometheus/client.ts): PROMQL alert
// rules and RED from spanmetrics use the read source's credentials, tenant header and errors when
// they talk to its Prometheus, credentials in a URL become Basic auth and are never shown, and what
// tenants see of a failing Prometheus is its status, not its address or its error text. A real
// Prometheus, behind a recording proxy that checks the Authorization header.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp, type App } from '../../src/app.ts';
import type { AlertEngine } from '../../src/alerting/engine.ts';
import { createSpanmetricsRedStore } from '../../src/stores/prometheus/spanmetrics-red.ts';
import { capturingLogger } from '../helpers/capturing-logger.ts';
import { testConfig } from '../helpers/gateway.ts';
import { gql, gqlData } from '../helpers/graphql-client.ts';
import { prometheusAvailable, remoteWrite, startPrometheus, type PrometheusServer } from '../helpers/prometheus-server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const SEC = 1_000_000_000n;
const MIN = 60n * SEC;

interface Proxy {
  url: string;
  /** Every request: its path and headers. */
  seen: { path: string; headers: IncomingHttpHeaders }[];
  /** Authorization a request must carry (else 401); undefined: none needed. */
  require?: string;
  /** Answer /api/v1/query with this 503 body (JSON) instead of forwarding. */
  failQueriesWith?: object;
  close(): Promise<void>;
}

/** A proxy in front of Prometheus that records what it is sent and checks the Authorization header. */
async function startProxy(target: string): Promise<Proxy> {
  const proxy: Proxy = { url: '', seen: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url!, 'http://x').pathname;
      proxy.seen.push({ path, headers: req.headers });
      const answer = (status: number, body: string) => res.writeHead(status, { 'content-type': 'application/json' }).end(body);
      if (proxy.require !== undefined && req.headers.authorization !== proxy.require) return answer(401, JSON.stringify({ status: 'error', errorType: 'unauthorized', error: 'no' }));
      if (proxy.failQueriesWith && path === '/api/v1/query') return answer(503, JSON.stringify(proxy.failQueriesWith));
      fetch(`${target}${req.url}`, { method: req.method!, headers: { 'content-type': req.headers['content-type'] ?? 'text/plain' }, ...(req.method === 'POST' && { body: Buffer.concat(chunks) }) })
        .then(async (r) => answer(r.status, await r.text()))
        .catch((err: Error) => answer(502, JSON.stringify({ status: 'error', error: err.message })));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise((resolve) => server.close(() => resolve()));
  return proxy;
}

/** Remote-writes spanmetrics calls counters: `perSample` more requests every 15 s, 41 samples from `startMs`. */
async function writeCalls(prom: PrometheusServer, services: Record<string, number>, startMs: number): Promise<void> {
  const timeseries = Object.entries(services).map(([service, perSample]) => ({
    labels: [
      { name: '__name__', value: 'traces_span_metrics_calls_total' },
      { name: 'service_name', value: service },
      { name: 'span_kind', value: 'SPAN_KIND_SERVER' },
      { name: 'status_code', value: 'STATUS_CODE_UNSET' },
    ],
    samples: Array.from({ length: 41 }, (_, i) => ({ value: perSample * (i + 1), timestamp: startMs + i * 15_000 })),
  }));
  await remoteWrite(prom.writeUrl, timeseries);
}

const CREATE = 'mutation($i: AlertRuleInput!) { createAlertRule(input: $i) { id } }';

describe('one way to reach a Prometheus', { skip: !prometheusAvailable() && 'prometheus is not installed' }, () => {
  let prom: PrometheusServer;
  // A whole minute about 20 minutes ago; spanmetrics samples from 2 minutes before it.
  const from = (BigInt(Date.now()) / 60_000n - 20n) * MIN;

  before(async () => {
    prom = await startPrometheus({ features: [] });
    await writeCalls(prom, { 'svc-ok': 2, 'bad\nsvc': 3 }, Number((from - 120n * SEC) / 1_000_000n));
  });
  after(async () => {
    await prom?.destroy();
  });

  async function startApp(overrides: Record<string, unknown>): Promise<{ app: App; engine: AlertEngine; graphqlUrl: string; otlpHttp: string; lines: Record<string, unknown>[] }> {
    const { logger, lines } = capturingLogger();
    const clock = { now: () => BigInt(Date.now()) * 1_000_000n };
    const app = buildApp(testConfig({ alerting: { tickMs: 0 }, ...overrides }), { logger, clock });
    await app.start();
    const a = app.addresses();
    return { app, engine: app.internals.alerting()!, graphqlUrl: `http://${a.graphql}/graphql`, otlpHttp: `http://${a.otlpHttp!}`, lines };
  }

  /** A trace of `svc-ok` at `from`, and its Trace.metrics answer. */
  async function traceMetrics(gw: { graphqlUrl: string; otlpHttp: string }, headers: Record<string, string>) {
    const traceId = 'abcdef0123456789abcdef0123456789';
    const start = from + 60n * SEC;
    const span = { traceId, spanId: '0123456789abcdef', name: 'GET /', kind: 2, startTimeUnixNano: String(start), endTimeUnixNano: String(start + 1_000_000n) };
    const body = { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc-ok' } }] }, scopeSpans: [{ spans: [span] }] }] };
    const sent = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    assert.equal(sent.status, 200);
    const q = `{ trace(traceId: "${traceId}") { metrics(window: "1m", step: "1m") { service source requests } } }`;
    return waitFor(() => gql<{ trace: { metrics: { service: string; source: string; requests: number }[] | null } | null }>(gw.graphqlUrl, q, {}, headers), (r) => r.data?.trace != null, 'the trace');
  }

  test('credentials in storage.prometheus.url are sent as Basic auth by PROMQL rules and RED too, and never shown', async () => {
    // Found by QA: fetch() refused the URL, and its error (the password in it) reached tenants and the log.
    const proxy = await startProxy(prom.url);
    proxy.require = `Basic ${Buffer.from('admin:Super Secret').toString('base64')}`;
    const withCredentials = proxy.url.replace('http://', 'http://admin:Super%20Secret@');
    const gw = await startApp({
      storage: { read: { metrics: 'prometheus' }, prometheus: { url: withCredentials } },
      correlation: { red: { source: 'prometheus', prometheusUrl: withCredentials } },
    });
    try {
      const H = { 'X-Scope-OrgID': 'acme' };
      const { createAlertRule: rule } = await gqlData<{ createAlertRule: { id: string } }>(gw.graphqlUrl, CREATE, { i: { name: 'Up', kind: 'PROMQL', expr: 'vector(3)', threshold: 1 } }, H);
      await gw.engine.tick();
      assert.equal(gw.engine.status('acme', rule.id).lastEvaluationError, null);
      assert.deepEqual(gw.engine.instances('acme', rule.id).map((i) => [i.state, i.value]), [['FIRING', 3]]);

      const red = await traceMetrics(gw, H);
      assert.equal(red.errors, undefined, JSON.stringify(red.errors));
      assert.deepEqual(red.data!.trace!.metrics!.map((m) => [m.service, m.source]), [['svc-ok', 'prometheus (spanmetrics)']]);
      assert.ok(red.data!.trace!.metrics![0]!.requests > 0);

      const paths = new Set(proxy.seen.map((s) => s.path));
      for (const p of ['/api/v1/format_query', '/api/v1/query', '/api/v1/query_range']) assert.ok(paths.has(p), `${p} asked: ${[...paths].join(', ')}`);
      assert.ok(proxy.seen.every((s) => s.headers.authorization === proxy.require));
      assert.ok(!JSON.stringify(gw.lines).includes('Secret'), 'the password is not logged');
    } finally {
      await gw.app.stop();
      await proxy.close();
    }
  });

  test('PROMQL rules and RED on the read source’s Prometheus use its bearer token and tenant header', async () => {
    // Found by QA: rules went without Authorization and with X-Scope-OrgID instead of the configured header.
    const proxy = await startProxy(prom.url);
    proxy.require = 'Bearer s3cret';
    const gw = await startApp({
      storage: { read: { metrics: 'prometheus' }, prometheus: { url: proxy.url, bearer: 's3cret', tenantHeader: 'X-Tenant' } },
      // The same Prometheus, written with a trailing slash.
      correlation: { red: { source: 'prometheus', prometheusUrl: `${proxy.url}/` } },
    });
    try {
      const H = { 'X-Scope-OrgID': 'acme' };
      const { createAlertRule: rule } = await gqlData<{ createAlertRule: { id: string } }>(gw.graphqlUrl, CREATE, { i: { name: 'Up', kind: 'PROMQL', expr: 'vector(3)', threshold: 1 } }, H);
      await gw.engine.tick();
      assert.equal(gw.engine.status('acme', rule.id).lastEvaluationError, null);
      assert.equal(gw.engine.instances('acme', rule.id)[0]?.state, 'FIRING');
      const red = await traceMetrics(gw, H);
      assert.equal(red.errors, undefined, JSON.stringify(red.errors));
      for (const path of ['/api/v1/format_query', '/api/v1/query', '/api/v1/query_range']) {
        const asked = proxy.seen.filter((s) => s.path === path);
        assert.ok(asked.length > 0, path);
        assert.deepEqual(new Set(asked.map((s) => [s.headers.authorization, s.headers['x-tenant'], s.headers['x-scope-orgid']].join(' '))), new Set(['Bearer s3cret acme ']), path);
      }
    } finally {
      await gw.app.stop();
      await proxy.close();
    }
  });

  test('alert rules show tenants neither Prometheus’ address nor its 5xx text; the log has them', async () => {
    // Found by QA: "(checked by Prometheus at http://…)" and "Prometheus answered 503: upstream 10.1.2.3:9090 …".
    const proxy = await startProxy(prom.url);
    const gw = await startApp({ alerting: { tickMs: 0, prometheusUrl: proxy.url } });
    try {
      const H = { 'X-Scope-OrgID': 'acme' };
      const bad = await gql(gw.graphqlUrl, CREATE, { i: { name: 'Broken', kind: 'PROMQL', expr: 'sum(x', threshold: 1 } }, H);
      assert.equal(bad.errors?.[0]?.message, 'rule.expr: PromQL "sum(x" does not parse: 1:6: parse error: unclosed left parenthesis (checked by Prometheus)');
      const { createAlertRule: rule } = await gqlData<{ createAlertRule: { id: string } }>(gw.graphqlUrl, CREATE, { i: { name: 'Up', kind: 'PROMQL', expr: 'vector(3)', threshold: 1 } }, H);
      proxy.failQueriesWith = { status: 'error', errorType: 'unavailable', error: 'upstream 10.1.2.3:9090 connection refused' };
      await gw.engine.tick();
      const shown = await gqlData<{ alertRules: { name: string; lastEvaluationError: string | null }[] }>(gw.graphqlUrl, '{ alertRules { name lastEvaluationError } }', {}, H);
      assert.deepEqual(shown.alertRules.find((r) => r.name === 'Up')?.lastEvaluationError, 'Prometheus answered HTTP 503 (unavailable)');
      assert.equal(gw.engine.status('acme', rule.id).lastEvaluationError, 'Prometheus answered HTTP 503 (unavailable)');
      const logged = gw.lines.find((l) => l.msg === 'Prometheus failed a PROMQL rule query');
      assert.match(String(logged?.detail), /upstream 10\.1\.2\.3:9090 connection refused/);
    } finally {
      await gw.app.stop();
      await proxy.close();
    }
  });

  test('RED answers for a service whose name has a newline, and for the other services asked with it', async () => {
    // Found by QA: the newline went raw into the PromQL string: a parse error for every service of the trace.
    const store = createSpanmetricsRedStore({ baseUrl: prom.url });
    const range = { from, to: from + 120n * SEC };
    const [ok, odd] = await store.redSeries('any', [
      { service: 'svc-ok', range, stepNano: MIN },
      { service: 'bad\nsvc', range, stepNano: MIN },
    ]);
    assert.deepEqual(ok!.points.map((p) => p.requests), [8, 8, 8]);
    assert.deepEqual(odd!.points.map((p) => p.requests), [12, 12, 12]);
  });
});
