// Correlation end to end: three services instrumented with the real OTel SDK (frontend → checkout →
// payments) send two checkout requests to a real gateway; in the second, payments throws, records
// the exception on its span and logs an error. One GraphQL query then returns the trace, its logs,
// its services' RED series, the exception group, the service-graph edges and the semantic search
// hits for a paraphrase of the failure (offline model), which walk back to the same trace.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Metadata } from '@grpc/grpc-js';
import { context, trace, SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { CorrelateQuery } from '../generated/graphql.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { logsJson } from '../helpers/otlp-bodies.ts';
import { TEST_MODEL } from '../fixtures/search/test-model.ts';

const CORRELATE = readFileSync(new URL('../graphql/correlate.graphql', import.meta.url), 'utf8');
const TENANT_HEADER = { 'x-scope-orgid': 'shop' };

class CardDeclinedError extends Error {
  override name = 'CardDeclinedError';
}

function chargeCard(orderId: number): never {
  throw new CardDeclinedError(`card declined for order ${orderId}`);
}

interface Sent {
  okTraceId: string;
  failedTraceId: string;
  paymentsSpanId: string;
  startMs: number;
}

/** Two requests through three services, each service with its own SDK provider and resource. */
async function sendCheckouts(gw: TestGateway): Promise<Sent> {
  const metadata = new Metadata();
  metadata.set('x-scope-orgid', 'shop');
  const providers = {
    // Each service exports with a different SDK exporter, as separate processes would.
    frontend: new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'frontend' }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `http://${gw.otlpGrpc}`, metadata }))],
    }),
    checkout: new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout' }),
      spanProcessors: [new SimpleSpanProcessor(new ProtoTraceExporter({ url: `${gw.otlpHttp}/v1/traces`, headers: TENANT_HEADER }))],
    }),
    payments: new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'payments' }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `http://${gw.otlpGrpc}`, metadata }))],
    }),
  };
  const paymentsLogs = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'payments' }),
    processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${gw.otlpHttp}/v1/logs`, headers: TENANT_HEADER }) })],
  });
  const logger = paymentsLogs.getLogger('payments-logger');
  const tracers: Record<keyof typeof providers, Tracer> = {
    frontend: providers.frontend.getTracer('frontend'),
    checkout: providers.checkout.getTracer('checkout'),
    payments: providers.payments.getTracer('payments'),
  };
  const child = (t: Tracer, name: string, kind: SpanKind, parent: Span) => t.startSpan(name, { kind }, trace.setSpan(context.active(), parent));

  const startMs = Date.now();
  const request = (orderId: number, fail: boolean) => {
    const root = tracers.frontend.startSpan('GET /checkout', { kind: SpanKind.SERVER });
    const feCall = child(tracers.frontend, 'POST /api/checkout', SpanKind.CLIENT, root);
    const coServer = child(tracers.checkout, 'POST /api/checkout', SpanKind.SERVER, feCall);
    const coCall = child(tracers.checkout, 'POST /api/pay', SpanKind.CLIENT, coServer);
    const pay = child(tracers.payments, 'POST /api/pay', SpanKind.SERVER, coCall);
    if (fail) {
      try {
        chargeCard(orderId);
      } catch (err) {
        const e = err as Error;
        pay.recordException(e);
        pay.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
        logger.emit({
          severityNumber: SeverityNumber.ERROR,
          severityText: 'ERROR',
          body: `payment failed: ${e.message}`,
          attributes: { 'exception.type': e.name, 'exception.message': e.message, 'exception.stacktrace': e.stack ?? '' },
          context: trace.setSpan(context.active(), pay),
        });
      }
      for (const s of [coCall, coServer, feCall, root]) s.setStatus({ code: SpanStatusCode.ERROR });
    }
    for (const s of [pay, coCall, coServer, feCall, root]) s.end();
    return { traceId: root.spanContext().traceId, paymentsSpanId: pay.spanContext().spanId };
  };
  const ok = request(41, false);
  const failed = request(42, true);
  await Promise.all([...Object.values(providers).map((p) => p.forceFlush()), paymentsLogs.forceFlush()]);
  await Promise.all([...Object.values(providers).map((p) => p.shutdown()), paymentsLogs.shutdown()]);
  return { okTraceId: ok.traceId, failedTraceId: failed.traceId, paymentsSpanId: failed.paymentsSpanId, startMs };
}

describe('correlation on data ingested by the OTel SDK', () => {
  let gw: TestGateway;
  let sent: Sent;

  before(async () => {
    gw = await startGateway({ search: TEST_MODEL });
    sent = await sendCheckouts(gw);
  });
  after(() => gw?.stop());

  test('one query returns the failed trace’s logs, RED series, exception group, service-graph edges and search hits, naming its sources', async () => {
    const vars = {
      traceId: sent.failedTraceId,
      window: '5m',
      from: String(sent.startMs - 60_000),
      to: String(Date.now() + 60_000),
      // A paraphrase: none of "card", "payment", "declined" alone is the span name or the service.
      searchText: 'card payment was declined',
    };
    // Ingest is acknowledged before it is stored: wait until all 10 spans and the log are readable.
    await waitFor(
      () =>
        gql<{ spans: { nodes: unknown[] }; logs: { nodes: unknown[] } }>(
          gw.graphqlUrl,
          'query($from: Timestamp!, $to: Timestamp!) { spans(filter: { from: $from, to: $to }, first: 100) { nodes { spanId } } logs(filter: { from: $from, to: $to }) { nodes { id } } }',
          { from: vars.from, to: vars.to },
          TENANT_HEADER,
        ),
      (x) => x.data?.spans.nodes.length === 10 && x.data.logs!.nodes.length === 1,
      'both checkouts and the error log',
    );
    // The search index is filled off the ingest path: wait until it has caught up as well.
    await waitFor(
      () => gql<{ searchIndex: { pending: number; indexed: number } }>(gw.graphqlUrl, '{ searchIndex { pending indexed } }', {}, TENANT_HEADER),
      (x) => x.data?.searchIndex.pending === 0 && x.data.searchIndex.indexed >= 11,
      'the search index to catch up',
      30_000,
    );
    const r = await gql<CorrelateQuery>(gw.graphqlUrl, CORRELATE, vars, TENANT_HEADER);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const c = r.data!.correlate!;
    assert.deepEqual(c.trace!.services, ['checkout', 'frontend', 'payments']);

    // Logs: the error log, tied to the payments span.
    assert.deepEqual(c.logs, [{ bodyText: 'payment failed: card declined for order 42', severityText: 'ERROR', service: 'payments', spanId: sent.paymentsSpanId }]);
    const paySpan = c.trace!.spans.find((s) => s.spanId === sent.paymentsSpanId)!;
    assert.equal(paySpan.status.code, 'ERROR');
    assert.deepEqual(paySpan.logs!.map((l) => l.bodyText), ['payment failed: card declined for order 42']);
    assert.deepEqual(paySpan.around!.map((l) => l.service), ['payments']);
    assert.deepEqual(paySpan.metrics, { service: 'payments', requests: 2 });

    // RED: two requests per service, the failed one an error everywhere; from DuckDB spans.
    const red = Object.fromEntries(c.metrics!.map((m) => [m.service, m]));
    assert.deepEqual(Object.keys(red).sort(), ['checkout', 'frontend', 'payments']);
    for (const m of Object.values(red)) {
      assert.equal(m.requests, 2);
      assert.equal(m.errors, 1);
      assert.equal(m.errorRatio, 0.5);
      assert.equal(m.source, 'duckdb (derived from spans)');
      assert.ok(m.p50Ms !== null && m.p95Ms !== null && m.p99Ms !== null && m.p50Ms <= m.p95Ms! && m.p95Ms! <= m.p99Ms!);
      assert.equal(m.points.reduce((sum, p) => sum + p.requests, 0), 2);
    }

    // The exception group: the span's exception event and the error log share one fingerprint.
    assert.equal(c.exceptionGroups!.length, 1);
    const g = c.exceptionGroups![0]!;
    assert.equal(g.type, 'CardDeclinedError');
    assert.deepEqual([g.count, g.spanCount, g.logCount], [2, 1, 1]);
    assert.deepEqual(g.services, ['payments']);
    assert.equal(g.sampleMessage, 'card declined for order 42');
    assert.ok(g.frames.some((f) => f.includes('chargeCard')), `frames: ${JSON.stringify(g.frames)}`);
    assert.ok(g.frames.every((f) => !/\d/.test(f)), 'no numbers left in the frames');
    assert.deepEqual(g.exampleTraces?.map((t) => t.traceId), [sent.failedTraceId]);
    assert.deepEqual(g.exampleLogs?.map((l) => l.bodyText), ['payment failed: card declined for order 42']);
    assert.equal(g.series.reduce((sum, p) => sum + p.count, 0), 2);
    assert.deepEqual(r.data!.exceptionGroups, [{ fingerprint: g.fingerprint, count: 2 }]);

    // Service graph: frontend → checkout → payments, the failed call counted on both edges.
    const edges = c.serviceGraph!.edges.map((e) => [e.id, e.source, e.target, e.callCount, e.errorCount, e.mainStat]);
    assert.deepEqual(edges, [
      ['checkout->payments', 'checkout', 'payments', 2, 1, '2 calls'],
      ['frontend->checkout', 'frontend', 'checkout', 2, 1, '2 calls'],
    ]);
    assert.equal(c.serviceGraph!.source, 'duckdb');
    const payments = c.serviceGraph!.nodes.find((n) => n.id === 'payments')!;
    assert.deepEqual([payments.title, payments.arc__success, payments.arc__failed], ['payments', 0.5, 0.5]);
    assert.match(payments.mainStat, /req\/s$/);
    assert.match(payments.secondaryStat, /^p95 \d+\.\d ms$/);
    assert.deepEqual(r.data!.serviceGraph!.edges.map((e) => [e.id, e.callCount, e.errorCount]), [['checkout->payments', 2, 1], ['frontend->checkout', 2, 1]]);

    // Search: the paraphrase finds the payments failure (its span, its log or its exception, all
    // tied to the failed payments span) first, and the hit walks to the same trace.
    const s = r.data!.search!;
    assert.equal(s.model, 'use-lite-static-en-128');
    const top = s.hits[0]!;
    assert.ok(['SPAN', 'LOG', 'EXCEPTION'].includes(top.kind));
    assert.equal(top.service, 'payments');
    assert.equal(top.spanId, sent.paymentsSpanId, `top hit: ${JSON.stringify(top)}`);
    assert.equal(top.span?.spanId ?? top.log?.span?.spanId, sent.paymentsSpanId);
    assert.equal(top.trace!.traceId, sent.failedTraceId);
    assert.equal(top.trace!.traceId, c.traceId);
    assert.deepEqual(top.trace!.services, c.trace!.services);
    // The failure's three records (span, log, exception) all rank among the hits.
    const failureKinds = new Set(s.hits.filter((h) => h.spanId === sent.paymentsSpanId).map((h) => h.kind));
    assert.deepEqual([...failureKinds].sort(), ['EXCEPTION', 'LOG', 'SPAN'], `hits: ${JSON.stringify(s.hits.map((h) => [h.kind, h.service, h.spanId, h.score]))}`);
    for (const h of s.hits) assert.ok(h.score <= top.score, 'hits are best first');
    // …and ahead of everything else (the successful request's payments span included).
    const firstOther = s.hits.findIndex((h) => h.spanId !== sent.paymentsSpanId);
    assert.ok(firstOther === -1 || s.hits.slice(firstOther).every((h) => h.spanId !== sent.paymentsSpanId), 'the failure’s records come first');

    // Every correlated field names where its data came from.
    const notes = (r.extensions?.notes ?? []) as string[];
    for (const expected of [
      'Correlation.metrics: from duckdb (derived from spans)',
      'Correlation.exceptionGroups: from duckdb',
      'Correlation.serviceGraph: from duckdb',
      'Correlation.logs: from duckdb',
      'Span.logs(window): from duckdb',
      'Span.logs: from duckdb',
    ]) {
      assert.ok(notes.includes(expected), `notes ${JSON.stringify(notes)} include ${expected}`);
    }
  });

  test('a trace\'s logs past `first` are cut with a note saying so (QA round 38c: cut without a word)', async () => {
    const q = `query($id: ID!, $n: Int) { trace(traceId: $id) { logs(first: $n) { id } } correlate(traceId: $id) { logs(first: $n) { id } } }`;
    type Answer = { trace: { logs: { id: string }[] }; correlate: { logs: { id: string }[] } };
    // Two more logs of the failed trace (a retry loop logging).
    const body = logsJson([1, 2].map((i) => ({ body: `retrying the payment (${i})`, service: 'payments', traceId: sent.failedTraceId })));
    const res = await fetch(`${gw.otlpHttp}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json', ...TENANT_HEADER }, body: JSON.stringify(body) });
    assert.equal(res.status, 200);
    const all = await waitFor(() => gql<Answer>(gw.graphqlUrl, q, { id: sent.failedTraceId, n: 1000 }, TENANT_HEADER), (r) => (r.data?.trace.logs.length ?? 0) >= 3, 'the logs stored');
    const n = all.data!.trace.logs.length;
    assert.deepEqual(((all.extensions?.notes ?? []) as string[]).filter((x) => /more logs match/.test(x)), []);
    const cut = await gql<Answer>(gw.graphqlUrl, q, { id: sent.failedTraceId, n: n - 1 }, TENANT_HEADER);
    assert.equal(cut.data!.trace.logs.length, n - 1);
    assert.equal(cut.data!.correlate.logs.length, n - 1);
    const notes = (cut.extensions?.notes ?? []) as string[];
    for (const field of ['Trace.logs', 'Correlation.logs']) {
      assert.ok(notes.includes(`${field}: more logs match than first (${n - 1}) lets through; the first ${n - 1} are sent`), JSON.stringify(notes));
    }
  });

  test('RED beside a recent trace stops at now: no steps that have not happened yet, reading as no traffic (QA round 38e)', async () => {
    const q = `query($id: ID!) { trace(traceId: $id) { metrics(window: "15m") { points { timeMs requests } } } correlate(traceId: $id, window: "15m") { to metrics { points { timeMs } } } }`;
    const before = Date.now();
    const r = await gql<{ trace: { metrics: { points: { timeMs: number }[] }[] }; correlate: { metrics: { points: { timeMs: number }[] }[] } }>(gw.graphqlUrl, q, { id: sent.failedTraceId }, TENANT_HEADER);
    const after = Date.now();
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const times = [...r.data!.trace.metrics, ...r.data!.correlate.metrics].flatMap((m) => m.points.map((p) => p.timeMs));
    assert.ok(times.length > 10);
    assert.ok(times.every((t) => t <= after), `points after now: ${times.filter((t) => t > after).length} (now ${before}–${after})`);
  });

  test('the successful request correlates to no exception group; other tenants see nothing', async () => {
    const q = `query($id: ID!) { correlate(traceId: $id) { trace { spanCount } exceptionGroups { type } metrics { service } } }`;
    const ok = await gql<{ correlate: { trace: { spanCount: number } | null; exceptionGroups: unknown[] } | null }>(gw.graphqlUrl, q, { id: sent.okTraceId }, TENANT_HEADER);
    assert.equal(ok.data!.correlate!.trace!.spanCount, 5);
    assert.deepEqual(ok.data!.correlate!.exceptionGroups, []);
    const stranger = await gql(gw.graphqlUrl, q, { id: sent.failedTraceId }, { 'x-scope-orgid': 'someone-else' });
    assert.deepEqual(stranger.data, { correlate: null });
  });
});
