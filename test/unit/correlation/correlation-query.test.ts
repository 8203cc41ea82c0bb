// Correlation through the real schema on a real DuckDB store: batching proven by counting store
// calls (a pass-through counting proxy), sources stated, and a failing backend nulling only its field.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createServer, type Server } from 'node:net';
import { edgeStats, nodeStats } from '../../../resolvers/service-graph.ts';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { createElasticsearchLogStore } from '../../../src/stores/elasticsearch/index.ts';
import { createJaegerTraceStore } from '../../../src/stores/jaeger/index.ts';
import { createContextFactory } from '../../../resolvers/context.ts';
import { exemplarTraces } from '../../../resolvers/alerts.ts';
import { attrs, log, metricPoint, numberPoint, resource, span, spanId, traceId, MS, SEC, T0 } from '../../helpers/telemetry-builders.ts';
import { harnessFor, type Harness } from '../resolvers/harness.ts';
import { logs, otherTenantSpans, REQUESTS, spanOf, spans, startOf, TENANT, traceOf } from './shop-fixture.ts';

let store: DuckDbStore;
let h: Harness;
const vars = { from: String(T0 - 60n * SEC), to: String(T0 + 200n * SEC) };

// A latency metric whose exemplars point at every request's payments span.
const metrics = Array.from({ length: REQUESTS }, (_, i) =>
  metricPoint(
    numberPoint({
      timeUnixNano: startOf(i) + 100n * MS,
      asDouble: 100 + i,
      exemplars: [{ timeUnixNano: startOf(i) + 50n * MS, asDouble: 100 + i, traceId: traceOf(i), spanId: spanOf(i, 5), filteredAttributes: [] }],
      attributes: attrs({ route: '/pay' }),
    }),
    { name: 'pay.latency', type: 'gauge', unit: 'ms' },
    { tenant: TENANT },
  ),
);

before(async () => {
  store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
  await store.writer.writeSpans([...spans, ...otherTenantSpans]);
  await store.writer.writeLogs(logs);
  await store.writer.writeMetrics(metrics);
  h = harnessFor(store);
});
after(() => store.close());
beforeEach(() => h.calls.clear());

const calls = (key: string) => h.calls.get(key) ?? 0;

// trace → spans → logs → metrics → exemplar traces → their metrics and logs.
const WALK = `query($from: Timestamp!, $to: Timestamp!, $limit: Int!) {
  traces(filter: { service: ["frontend"], from: $from, to: $to }, limit: $limit) {
    trace {
      traceId
      metrics(window: "1m") { service source requests errors }
      logs { id }
      spans { spanId logs(window: "50ms") { id bodyText } metrics(window: "1m") { service requests } }
    }
  }
  metricSeries(name: "pay.latency", from: $from, to: $to, step: "1s") {
    exemplars { trace { traceId metrics(window: "1m") { service } spans { logs(window: "10ms") { id } } } }
  }
}`;

describe('correlation walks batch every backend call per level', () => {
  test('the walk makes the same store calls for 2 traces as for 10: one per level, never one per row', async () => {
    const counts = async (limit: number) => {
      h.calls.clear();
      const r = await h.run(WALK, { ...vars, limit }, TENANT);
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      const traces = (r.data as { traces: { trace: { spans: unknown[]; metrics: unknown[] } }[] }).traces;
      assert.equal(traces.length, limit);
      assert.equal(traces[0]!.trace.spans.length, 5);
      assert.equal(traces[0]!.trace.metrics.length, 3);
      return Object.fromEntries(h.calls);
    };
    // At most one call per level that asks: two levels ask for traces, RED and logs around spans (the
    // searched traces with their spans, and the exemplars' traces). DataLoader batches per event-loop
    // turn, so when both levels' trace loads fall in one turn they share a getTraces call (usual on a
    // quiet machine), and on a loaded one they may not; either way never one per row (2 or 10 alike).
    const perLevel = {
      'traces.searchTraces': 1,
      'metrics.querySeries': 1,
      'traces.getTraces': 2,
      'red.redSeries': 2,
      'logWindows.logsAround': 2,
      'logs.logsForTraces': 1,
    };
    for (const limit of [2, REQUESTS]) {
      const got = await counts(limit);
      assert.deepEqual(Object.keys(got).sort(), Object.keys(perLevel).sort(), `the store calls made for ${limit} traces`);
      for (const [call, max] of Object.entries(perLevel)) {
        assert.ok(got[call]! >= 1 && got[call]! <= max, `${call} for ${limit} traces: ${got[call]} call(s), at most ${max} (one per level)`);
      }
    }
  });

  test('RED from the walk matches the data: 3 services, payments with its failures', async () => {
    const r = await h.run(WALK, { ...vars, limit: REQUESTS }, TENANT);
    const t = (r.data as { traces: { trace: { traceId: string; metrics: { service: string; source: string; requests: number; errors: number }[] } }[] }).traces;
    const t3 = t.find((x) => x.trace.traceId === traceOf(3))!;
    // One minute around request 3 (T0+30 s) covers requests 0–9 (T0 … T0+90 s).
    assert.deepEqual(
      t3.trace.metrics.map((m) => [m.service, m.requests, m.errors, m.source]),
      [
        ['checkout', 10, 0, 'duckdb (derived from spans)'],
        ['frontend', 10, 0, 'duckdb (derived from spans)'],
        ['payments', 10, 3, 'duckdb (derived from spans)'],
      ],
    );
  });

  test('exception groups link to example traces, spans and logs with one call per level', async () => {
    const r = await h.run(
      `query($from: Timestamp!, $to: Timestamp!) {
        exceptionGroups(from: $from, to: $to) {
          type count services source
          exampleTraces { traceId spanCount }
          exampleSpans { name service }
          exampleLogs { severityText span { spanId } }
        }
      }`,
      vars,
      TENANT,
    );
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const groups = (r.data as { exceptionGroups: { type: string; count: number; exampleTraces: { traceId: string }[]; exampleLogs: unknown[] }[] }).exceptionGroups;
    assert.deepEqual(groups.map((g) => [g.type, g.count]), [['java.lang.IllegalStateException', 4], ['java.util.concurrent.TimeoutException', 1]]);
    assert.deepEqual(new Set(groups[0]!.exampleTraces.map((t) => t.traceId)), new Set([traceOf(3), traceOf(7)]));
    assert.equal(groups[0]!.exampleLogs.length, 2);
    assert.equal(calls('exceptions.exceptionOccurrences'), 1);
    assert.equal(calls('traces.getTraces'), 1);
    assert.equal(calls('logs.getLogs'), 1);
  });
});

describe('rates over an empty range', () => {
  test('one request at the instant of a zero-length range is 1 per second in the series, its point and the service graph, not 1e9', async () => {
    const t = startOf(2); // the frontend's entry span starts here
    const [series] = await store.correlation.red.redSeries(TENANT, [{ service: 'frontend', range: { from: t, to: t }, stepNano: SEC }]);
    assert.equal(series!.total.requests, 1);
    assert.deepEqual([series!.total.requestRate, series!.points.map((p) => p.requestRate)], [1, [1]]);
    const r = await h.run('query($t: Timestamp!) { serviceGraph(from: $t, to: $t) { nodes { id requests requestRate errorRate mainStat } } }', { t: String(t) }, TENANT);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const nodes = (r.data as { serviceGraph: { nodes: { id: string }[] } }).serviceGraph.nodes;
    assert.deepEqual(nodes.find((n) => n.id === 'frontend'), { id: 'frontend', requests: 1, requestRate: 1, errorRate: 0, mainStat: '1.00 req/s' });
  });
});

describe('correlate', () => {
  const CORRELATE = `query($traceId: ID, $spanId: ID, $logId: ID) {
    correlate(traceId: $traceId, spanId: $spanId, logId: $logId, window: "20s") {
      traceId spanId
      trace { spanCount services }
      logs { bodyText }
      metrics { service requests errors source }
      exceptionGroups { type count spanCount logCount services }
      serviceGraph { source nodes { id title mainStat secondaryStat arc__success arc__failed } edges { id source target callCount errorCount mainStat } }
    }
  }`;

  test('from a trace ID: the trace, its logs, RED of its services, its exception group counted over the window, its neighbours', async () => {
    const r = await h.run(CORRELATE, { traceId: traceOf(7) }, TENANT);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const c = (r.data as { correlate: Record<string, unknown> }).correlate;
    assert.deepEqual(c.trace, { spanCount: 5, services: ['checkout', 'frontend', 'payments'] });
    assert.deepEqual(c.logs, [{ bodyText: 'payment failed: card declined for order 4007' }]);
    // 20 s around request 7 (T0+70 s): requests 5–9, of which 5 and 7 failed.
    assert.deepEqual((c.metrics as { service: string; requests: number; errors: number }[]).map((m) => [m.service, m.requests, m.errors]), [
      ['checkout', 5, 0],
      ['frontend', 5, 0],
      ['payments', 5, 2],
    ]);
    // Request 3's occurrence is outside the window: only 7's span event and log count.
    assert.deepEqual(c.exceptionGroups, [{ type: 'java.lang.IllegalStateException', count: 2, spanCount: 1, logCount: 1, services: ['payments'] }]);
    const graph = c.serviceGraph as { nodes: { id: string; arc__failed: number; mainStat: string }[]; edges: { id: string; callCount: number; errorCount: number }[] };
    assert.deepEqual(graph.edges.map((e) => [e.id, e.callCount, e.errorCount]), [['checkout->payments', 5, 2], ['frontend->checkout', 5, 0]]);
    assert.equal(graph.nodes.find((n) => n.id === 'payments')!.arc__failed, 2 / 5);
    // A rate below 1 keeps three significant digits instead of reading 0.00 or 0.12.
    assert.equal(graph.nodes[0]!.mainStat, '0.124 req/s');
    assert.equal(nodeStats.mainStat({ service: 's', requests: 3, errors: 0, p95Nano: null, seconds: 1800 }), '0.00167 req/s');
    assert.equal(edgeStats.secondaryStat({ source: 'a', target: 'b', calls: 1, errors: 1, p95Nano: 2_500_000 }), '1 error, p95 2.5 ms');
    const notes = r.extensions as undefined;
    assert.equal(notes, undefined); // the harness does not add extensions; the integration test checks notes
  });

  test('from a span ID alone or a log ID: the same trace, logs around the span', async () => {
    const bySpan = await h.run(CORRELATE, { spanId: spanOf(3, 5) }, TENANT);
    assert.equal(bySpan.errors, undefined, JSON.stringify(bySpan.errors));
    const c = (bySpan.data as { correlate: { traceId: string; logs: { bodyText: string }[] } }).correlate;
    assert.equal(c.traceId, traceOf(3));
    // 20 s around the span: its trace's log, and payments' logs without trace context (requests 1–5's).
    assert.deepEqual(c.logs.map((l) => l.bodyText), ['pool stats 1', 'pool stats 2', 'pool stats 3', 'payment failed: card declined for order 4003', 'pool stats 4', 'pool stats 5']);
    const logId = (await store.logs.logsForSpans(TENANT, [{ traceId: traceOf(3), spanId: spanOf(3, 5) }], 1))[0]![0]!.id;
    const byLog = await h.run(CORRELATE, { logId }, TENANT);
    assert.deepEqual((byLog.data as { correlate: { traceId: string; spanId: string } }).correlate, {
      ...(byLog.data as { correlate: object }).correlate,
      traceId: traceOf(3),
      spanId: spanOf(3, 5),
    });
  });

  test('a trace ID with a span ID names that span of that trace; a span the trace does not have is null', async () => {
    const inTrace = await h.run(CORRELATE, { traceId: traceOf(3), spanId: spanOf(3, 5) }, TENANT);
    assert.equal(inTrace.errors, undefined, JSON.stringify(inTrace.errors));
    const c = (inTrace.data as { correlate: { traceId: string; spanId: string; logs: { bodyText: string }[] } }).correlate;
    assert.deepEqual([c.traceId, c.spanId], [traceOf(3), spanOf(3, 5)]);
    // The logs around the span, as from the span ID alone (not only the trace's own log).
    assert.equal(c.logs.length, 6);
    // Request 7's span with request 3's trace: no such span, so nothing is correlated (it was
    // request 3's trace and logs, reported as correlated from request 7's span).
    const elsewhere = await h.run(CORRELATE, { traceId: traceOf(3), spanId: spanOf(7, 5) }, TENANT);
    assert.equal(elsewhere.errors, undefined, JSON.stringify(elsewhere.errors));
    assert.deepEqual(elsewhere.data, { correlate: null });
  });

  test('no starting point, or two with a log ID, is GW_BAD_ARGUMENT; an unknown one is null', async () => {
    const none = await h.run('{ correlate { traceId } }', {}, TENANT);
    assert.equal(none.errors?.[0]?.extensions?.code, 'GW_BAD_ARGUMENT');
    const both = await h.run(`{ correlate(traceId: "${traceOf(1)}", logId: "1") { traceId } }`, {}, TENANT);
    assert.equal(both.errors?.[0]?.extensions?.code, 'GW_BAD_ARGUMENT');
    const unknown = await h.run('{ correlate(spanId: "abababababababab") { traceId } }', {}, TENANT);
    assert.deepEqual(unknown.data, { correlate: null });
  });

  test('from a log whose trace is not stored: null; whose span the trace lacks (not received yet): the trace, spanId null, with a note (QA round 38c)', async () => {
    const tenant = 'log-starts';
    const stored = traceId(800);
    await store.writer.writeSpans([span({ tenant, traceId: stored, spanId: spanId(1), resource: resource('api') })]);
    await store.writer.writeLogs([
      log({ tenant, timeUnixNano: T0, traceId: traceId(801), spanId: spanId(1), body: { stringValue: 'trace never arrived' } }),
      log({ tenant, timeUnixNano: T0, traceId: stored, spanId: spanId(9), body: { stringValue: 'span not in the trace' } }),
      log({ tenant, timeUnixNano: T0, traceId: stored, spanId: spanId(1), body: { stringValue: 'in the trace' } }),
    ]);
    const all = await store.logs.searchLogs(tenant, { timeRange: { from: T0 - SEC, to: T0 + SEC } }, { first: 10 });
    const idOf = (body: string) => all.items.find((e) => (e.node.body as { stringValue: string }).stringValue === body)!.node.id;
    const run = (logId: string) => h.run('query($logId: ID!) { correlate(logId: $logId) { traceId spanId logs { bodyText } } }', { logId }, tenant);
    const correlateLog = async (logId: string) => (await run(logId)).data;
    assert.deepEqual(await correlateLog(idOf('trace never arrived')), { correlate: null });
    const lacking = await run(idOf('span not in the trace'));
    const c = (lacking.data as { correlate: { traceId: string; spanId: string | null; logs: { bodyText: string }[] } }).correlate;
    assert.deepEqual([c.traceId, c.spanId], [stored, null]);
    assert.ok(c.logs.some((l) => l.bodyText === 'span not in the trace'), JSON.stringify(c.logs));
    assert.deepEqual(await correlateLog(idOf('in the trace')), { correlate: { traceId: stored, spanId: spanId(1), logs: [{ bodyText: 'span not in the trace' }, { bodyText: 'in the trace' }] } });
  });

  test('exception groups include exceptions a service without spans in the trace logged with its trace ID', async () => {
    const tenant = 'log-only-service';
    const trace = traceId(810);
    await store.writer.writeSpans([span({ tenant, traceId: trace, spanId: spanId(1), resource: resource('api') })]);
    await store.writer.writeLogs([
      log({ tenant, resource: resource('worker'), timeUnixNano: T0 + MS, traceId: trace, severityNumber: 17, body: { stringValue: 'receipt job failed' },
        attributes: attrs({ 'exception.type': 'com.acme.ReceiptException', 'exception.message': 'receipt job failed' }) }),
    ]);
    const r = await h.run('query($t: ID!) { correlate(traceId: $t) { exceptionGroups { type count services } } }', { t: trace }, tenant);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    assert.deepEqual(r.data, { correlate: { exceptionGroups: [{ type: 'com.acme.ReceiptException', count: 1, services: ['worker'] }] } });
  });
});

describe('a failing backend nulls only its own field', () => {
  let dead: Server;
  let deadUrl = '';
  before(async () => {
    // A port that accepts connections and closes them at once: a real, failing Elasticsearch.
    dead = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const address = dead.address() as { port: number };
    deadUrl = `http://127.0.0.1:${address.port}`;
  });
  after(() => new Promise<void>((resolve) => dead.close(() => resolve())));

  test('with logs read from a failing Elasticsearch, correlate still returns the trace, RED, exceptions and graph', async () => {
    const esLogs = createElasticsearchLogStore({ node: deadUrl, logger: silentLogger(), maxRetries: 0, requestTimeoutMs: 2000 });
    const { logWindows: _, ...correlation } = store.correlation;
    const broken = harnessFor({ traces: store.traces, logs: esLogs, metrics: store.metrics, catalog: store.catalog, correlation });
    try {
      const r = await broken.run(
        `{ correlate(traceId: "${traceOf(7)}", window: "20s") {
            trace { spanCount logs { id } }
            logs { id }
            metrics { service }
            exceptionGroups { type }
            serviceGraph { edges { id } }
        } }`,
        {},
        TENANT,
      );
      const c = (r.data as { correlate: Record<string, unknown> }).correlate;
      assert.equal(c.logs, null);
      assert.deepEqual(c.trace, { spanCount: 5, logs: null });
      assert.equal((c.metrics as unknown[]).length, 3);
      assert.deepEqual(c.exceptionGroups, [{ type: 'java.lang.IllegalStateException' }]);
      assert.equal((c.serviceGraph as { edges: unknown[] }).edges.length, 2);
      assert.deepEqual(
        (r.errors ?? []).map((e) => [e.path?.join('.'), e.extensions?.code, e.extensions?.backend]).sort(),
        [
          ['correlate.logs', 'GW_BACKEND_UNAVAILABLE', 'elasticsearch'],
          ['correlate.trace.logs', 'GW_BACKEND_UNAVAILABLE', 'elasticsearch'],
        ],
      );
      for (const e of r.errors ?? []) assert.match(e.message, /elasticsearch/);
    } finally {
      await esLogs.close();
    }
  });
  test('with traces read from a failing Jaeger, exception groups keep their groups; only the trace examples are null', async () => {
    const jaeger = createJaegerTraceStore({ baseUrl: deadUrl, logger: silentLogger(), timeoutMs: 2000 });
    const broken = harnessFor({ traces: jaeger, logs: store.logs, metrics: store.metrics, catalog: store.catalog, correlation: store.correlation });
    const r = await broken.run(
      `query($from: Timestamp!, $to: Timestamp!) {
        exceptionGroups(from: $from, to: $to) { type count exampleTraces { traceId } exampleSpans { spanId } exampleLogs { severityText } }
      }`,
      vars,
      TENANT,
    );
    const groups = (r.data as { exceptionGroups: { type: string; count: number; exampleTraces: unknown; exampleSpans: unknown; exampleLogs: unknown[] }[] | null }).exceptionGroups;
    assert.ok(groups, JSON.stringify(r));
    assert.deepEqual(groups.map((g) => [g.type, g.count, g.exampleTraces, g.exampleSpans]), [
      ['java.lang.IllegalStateException', 4, null, null],
      ['java.util.concurrent.TimeoutException', 1, null, null],
    ]);
    assert.equal(groups[0]!.exampleLogs.length, 2, 'logs come from DuckDB, which answers');
    assert.deepEqual(
      [...new Set((r.errors ?? []).map((e) => `${e.path?.slice(2).join('.')} ${String(e.extensions?.code)} ${String(e.extensions?.backend)}`))].sort(),
      ['exampleSpans GW_BACKEND_UNAVAILABLE jaeger', 'exampleTraces GW_BACKEND_UNAVAILABLE jaeger'],
    );
  });

  test('an alert evidence’s traces from a failing Jaeger are an error, not a silently empty list', async () => {
    const jaeger = createJaegerTraceStore({ baseUrl: deadUrl, logger: silentLogger(), timeoutMs: 2000 });
    const ctx = createContextFactory({ traces: jaeger, logs: store.logs, metrics: store.metrics, catalog: store.catalog })(TENANT);
    const exemplar = { traceId: traceOf(3), spanId: spanOf(3, 5), error: true, durationNano: 1_000_000n };
    await assert.rejects(exemplarTraces(ctx, [exemplar], 5), (err: Error & { extensions?: Record<string, unknown> }) => {
      assert.equal(err.extensions?.code, 'GW_BACKEND_UNAVAILABLE');
      assert.equal(err.extensions?.backend, 'jaeger');
      return true;
    });
    // The same call on the stored traces answers them.
    const ok = createContextFactory({ traces: store.traces, logs: store.logs, metrics: store.metrics, catalog: store.catalog })(TENANT);
    assert.deepEqual((await exemplarTraces(ok, [exemplar], 5)).map((t) => t.traceId), [traceOf(3)]);
  });
});

describe('without correlation stores', () => {
  test('correlated fields fail GW_BACKEND_UNAVAILABLE and the rest answers; Span.logs(window) falls back to the trace’s logs', async () => {
    const bare = harnessFor({ traces: store.traces, logs: store.logs, metrics: store.metrics, catalog: store.catalog });
    const r = await bare.run(
      `{ trace(traceId: "${traceOf(3)}") { spanCount metrics { service } span(spanId: "${spanOf(3, 5)}") { logs(window: "1s") { bodyText } } } }`,
      {},
      TENANT,
    );
    const t = (r.data as { trace: { spanCount: number; metrics: unknown; span: { logs: { bodyText: string }[] } } }).trace;
    assert.equal(t.spanCount, 5);
    assert.equal(t.metrics, null);
    // Only logs with the trace ID: the service's logs without one need the correlation store.
    assert.deepEqual(t.span.logs.map((l) => l.bodyText), ['payment failed: card declined for order 4003']);
    assert.deepEqual((r.errors ?? []).map((e) => [e.path?.join('.'), e.extensions?.code]), [['trace.metrics', 'GW_BACKEND_UNAVAILABLE']]);
  });
});
