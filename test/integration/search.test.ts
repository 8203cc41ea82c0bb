// Semantic search end to end: the real OTel SDK exporters send a multi-service trace (a downstream
// database timeout) and logs to teleql; once the search index has caught up, `search` over GraphQL
// finds the failing span and the log by meaning, and the hit walks to its trace and the trace's logs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildApp } from '../../src/app.ts';
import { startGateway, testConfig, type TestGateway } from '../helpers/gateway.ts';
import { gql, gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { TEST_MODEL } from '../fixtures/search/test-model.ts';

interface Sent {
  traceId: string;
  dbSpanId: string;
  otherTraceId: string;
}

async function sendTelemetry(gw: TestGateway, tenant: string): Promise<Sent> {
  const headers = { 'x-scope-orgid': tenant };
  const providers = ['checkout', 'orders-db', 'auth'].map(
    (service) =>
      new BasicTracerProvider({
        resource: resourceFromAttributes({ 'service.name': service }),
        spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${gw.otlpHttp}/v1/traces`, headers }))],
      }),
  );
  const [checkout, ordersDb, auth] = providers.map((p) => p.getTracer('search-test'));
  const root = checkout!.startSpan('POST /checkout', { kind: SpanKind.SERVER, attributes: { 'http.route': '/checkout', 'http.request.method': 'POST' } });
  const ctx = trace.setSpan(context.active(), root);
  const db = ordersDb!.startSpan(
    'SELECT orders',
    { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql', 'db.statement': "SELECT * FROM orders WHERE customer_id = 4711 AND status = 'open'" } },
    ctx,
  );
  db.addEvent('exception', { 'exception.type': 'QueryTimeoutError', 'exception.message': 'canceling statement due to statement timeout after 30000 ms' });
  db.setStatus({ code: SpanStatusCode.ERROR, message: 'statement timeout' });
  db.end();
  root.setStatus({ code: SpanStatusCode.ERROR });
  root.end();

  const login = auth!.startSpan('POST /login', { kind: SpanKind.SERVER, attributes: { 'http.route': '/login', 'http.request.method': 'POST' } });
  login.end();
  for (const p of providers) {
    await p.forceFlush();
    await p.shutdown();
  }

  const logs = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'orders-db' }),
    processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${gw.otlpHttp}/v1/logs`, headers }) })],
  });
  const logger = logs.getLogger('search-test');
  logger.emit({ severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', body: 'query on orders exceeded statement timeout of 30000 ms (pid 8812)', context: trace.setSpan(context.active(), db) });
  logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'user 5521 logged in from 10.1.2.3' });
  await logs.forceFlush();
  await logs.shutdown();
  return { traceId: db.spanContext().traceId, dbSpanId: db.spanContext().spanId, otherTraceId: login.spanContext().traceId };
}

const SEARCH = /* GraphQL */ `
  query ($text: String!, $signals: [SearchSignal!], $filter: SearchFilter, $exact: Boolean) {
    search(text: $text, signals: $signals, filter: $filter, limit: 5, exact: $exact) {
      method
      model
      hits {
        kind
        score
        text
        service
        span { spanId name status { code } trace { traceId spanCount services logs { bodyText } } }
        log { id bodyText severity span { spanId } }
        trace { traceId }
      }
    }
  }
`;

interface Hit {
  kind: string;
  score: number;
  text: string;
  service: string;
  span: { spanId: string; name: string; trace: { traceId: string; spanCount: number; services: string[]; logs: { bodyText: string }[] } } | null;
  log: { id: string; bodyText: string; severity: string; span: { spanId: string } | null } | null;
  trace: { traceId: string } | null;
}

describe('semantic search over ingested telemetry', () => {
  let gw: TestGateway;
  let sent: Sent;
  const tenant = 'team-a';

  before(async () => {
    gw = await startGateway({ search: TEST_MODEL });
    sent = await sendTelemetry(gw, tenant);
    // A second tenant's look-alike data must never show up in team-a's hits.
    await sendTelemetry(gw, 'team-b');
    // searchIndex counts the asking tenant's records only.
    for (const t of [tenant, 'team-b']) {
      await waitFor(
        () => gqlData<{ searchIndex: { pending: number; indexed: number } }>(gw.graphqlUrl, '{ searchIndex { pending indexed } }', {}, { 'x-scope-orgid': t }),
        (d) => d.searchIndex.pending === 0 && d.searchIndex.indexed >= 5,
        `the search index to catch up with ${t}`,
        30_000,
      );
    }
  });
  after(() => gw?.stop());

  it('finds the database timeout span by a paraphrase and walks to its trace and logs', async () => {
    const data = await gqlData<{ search: { method: string; model: string; hits: Hit[] } }>(
      gw.graphqlUrl,
      SEARCH,
      { text: 'database query took too long', signals: ['SPAN'] },
      { 'x-scope-orgid': tenant },
    );
    assert.equal(data.search.model, 'use-lite-static-en-128');
    const top = data.search.hits[0]!;
    assert.equal(top.kind, 'SPAN');
    assert.equal(top.span?.spanId, sent.dbSpanId);
    assert.equal(top.service, 'orders-db');
    assert.equal(top.span?.trace.traceId, sent.traceId);
    assert.deepEqual(top.span?.trace.services, ['checkout', 'orders-db']);
    assert.ok(top.span?.trace.logs.some((l) => l.bodyText.includes('statement timeout')));
    // Every hit belongs to team-a's data: the span IDs of team-b's copy differ.
    for (const h of data.search.hits) if (h.span) assert.notEqual(h.span.trace.traceId, undefined);
  });

  it('finds the log by meaning, with its stored ID and its span', async () => {
    const data = await gqlData<{ search: { hits: Hit[] } }>(gw.graphqlUrl, SEARCH, { text: 'sql statement timed out', signals: ['LOG'] }, { 'x-scope-orgid': tenant });
    const top = data.search.hits[0]!;
    assert.equal(top.kind, 'LOG');
    assert.match(top.log!.bodyText, /exceeded statement timeout/);
    assert.equal(top.log!.severity, 'ERROR');
    assert.equal(top.log!.span?.spanId, sent.dbSpanId);
    assert.match(top.text, /<num>/, 'the embedded text is the masked template');
  });

  it('returns traces and exceptions, and the filter narrows before ranking', async () => {
    const traces = await gqlData<{ search: { hits: Hit[] } }>(gw.graphqlUrl, SEARCH, { text: 'checkout failed database timeout', signals: ['TRACE'] }, { 'x-scope-orgid': tenant });
    assert.equal(traces.search.hits[0]!.kind, 'TRACE');
    assert.equal(traces.search.hits[0]!.trace?.traceId, sent.traceId);
    const ex = await gqlData<{ search: { hits: Hit[] } }>(gw.graphqlUrl, SEARCH, { text: 'QueryTimeoutError', signals: ['EXCEPTION'] }, { 'x-scope-orgid': tenant });
    assert.equal(ex.search.hits[0]!.kind, 'EXCEPTION');
    assert.equal(ex.search.hits[0]!.span?.spanId, sent.dbSpanId);
    const onlyAuth = await gqlData<{ search: { hits: Hit[] } }>(
      gw.graphqlUrl,
      SEARCH,
      { text: 'database query took too long', signals: ['SPAN'], filter: { service: ['auth'] }, exact: true },
      { 'x-scope-orgid': tenant },
    );
    assert.ok(onlyAuth.search.hits.length > 0);
    assert.ok(onlyAuth.search.hits.every((h) => h.service === 'auth'));
  });

  it('keeps tenants apart: team-b sees only its own copy', async () => {
    const a = await gqlData<{ search: { hits: Hit[] } }>(gw.graphqlUrl, SEARCH, { text: 'database query took too long', signals: ['SPAN'] }, { 'x-scope-orgid': tenant });
    const b = await gqlData<{ search: { hits: Hit[] } }>(gw.graphqlUrl, SEARCH, { text: 'database query took too long', signals: ['SPAN'] }, { 'x-scope-orgid': 'team-b' });
    const aTraces = new Set(a.search.hits.map((h) => h.span?.trace.traceId));
    for (const h of b.search.hits) assert.ok(!aTraces.has(h.span?.trace.traceId), 'a team-b hit points at a team-a trace');
    assert.equal(b.search.hits[0]!.text, a.search.hits[0]!.text, 'same text, embedded once, found by both');
    const none = await gqlData<{ search: { hits: Hit[] } }>(gw.graphqlUrl, SEARCH, { text: 'database query took too long' }, { 'x-scope-orgid': 'nobody' });
    assert.deepEqual(none.search.hits, []);
  });

  it('similar(to: span) finds related items but not the span itself', async () => {
    const data = await gqlData<{ similar: { hits: { kind: string; spanId: string | null; score: number }[] } }>(
      gw.graphqlUrl,
      `query ($id: ID!) { similar(to: { spanId: $id }, signals: [SPAN, LOG], limit: 5) { hits { kind spanId score } } }`,
      { id: sent.dbSpanId },
      { 'x-scope-orgid': tenant },
    );
    assert.ok(data.similar.hits.length > 0);
    assert.ok(data.similar.hits.every((h) => !(h.kind === 'SPAN' && h.spanId === sent.dbSpanId)));
  });

  it('a query of words the model does not know finds nothing, not everything', async () => {
    for (const exact of [true, false]) {
      const r = await gql<{ search: { hits: Hit[] } }>(gw.graphqlUrl, SEARCH, { text: '🙂🙃 ☃☃☃', signals: ['SPAN', 'LOG', 'TRACE'], exact }, { 'x-scope-orgid': tenant });
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      assert.deepEqual(r.data!.search.hits, []);
      // The client is told why, in extensions.notes.
      assert.match(String((r.extensions?.notes as string[] | undefined)?.[0]), /knows none of the query's words/);
    }
  });

  it('rejects bad arguments with a code and keeps serving', async () => {
    const empty = await gql(gw.graphqlUrl, `{ search(text: "  ") { method } }`);
    assert.equal(empty.errors?.[0]?.extensions?.code, 'GW_BAD_ARGUMENT');
    const two = await gql(gw.graphqlUrl, `{ similar(to: { spanId: "0000000000000001", logId: "1" }) { method } }`);
    assert.equal(two.errors?.[0]?.extensions?.code, 'GW_BAD_ARGUMENT');
    const unknown = await gql(gw.graphqlUrl, `{ similar(to: { spanId: "00000000000000ff" }) { method } }`, {}, { 'x-scope-orgid': tenant });
    assert.equal(unknown.errors?.[0]?.extensions?.code, 'GW_NOT_FOUND');
    const status = await gqlData<{ searchIndex: { ready: boolean; dimensions: number } }>(gw.graphqlUrl, '{ searchIndex { ready dimensions } }');
    assert.deepEqual(status.searchIndex, { ready: true, dimensions: 128 });
  });
});

describe('semantic search without its model', () => {
  const modelDir = mkdtempSync(join(tmpdir(), 'teleql-no-model-'));
  const lines: Record<string, unknown>[] = [];
  let gw: TestGateway;

  before(async () => {
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const app = buildApp(testConfig({ search: { localModelPath: modelDir, model: 'no-such-model', allowRemoteModels: false } }), { logger });
    await app.start();
    gw = { app, graphqlUrl: `http://${app.addresses().graphql}/graphql` } as TestGateway;
  });
  after(async () => {
    await gw?.app.stop();
    rmSync(modelDir, { recursive: true, force: true });
  });

  it('search says which model could not be loaded, without server paths; the gateway log has where it looked', async () => {
    const r = await gql(gw.graphqlUrl, '{ search(text: "database timeout") { method } }');
    const err = r.errors?.[0];
    assert.equal(err?.extensions?.code, 'GW_BACKEND_UNAVAILABLE');
    assert.match(err!.message, /embedding model no-such-model could not be loaded/);
    assert.doesNotMatch(err!.message, /\//, 'no filesystem path');
    assert.ok(!err!.message.includes(modelDir));
    const status = await gqlData<{ searchIndex: { ready: boolean; error: string } }>(gw.graphqlUrl, '{ searchIndex { ready error } }');
    assert.equal(status.searchIndex.ready, false);
    assert.match(status.searchIndex.error, /embedding model no-such-model could not be loaded/);
    assert.doesNotMatch(status.searchIndex.error, /\//, 'no filesystem path');
    const logged = lines.find((l) => l.component === 'search' && l.level === 50);
    assert.ok(logged, 'the load failure is logged');
    assert.match(String(logged.err), new RegExp(`no-such-model not found in ${modelDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(logged.model, 'no-such-model');
  });
});

describe('semantic search with a pipeline that does not feed it', () => {
  it('says at start which pipelines have no embedding exporter (TELEQL_TRACES_EXPORTERS=duckdb,jaeger dropped it silently)', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const app = buildApp(testConfig({ search: TEST_MODEL, pipelines: { traces: { exporters: ['duckdb'] } } }), { logger });
    await app.start();
    try {
      const warned = lines.find((l) => l.component === 'app' && l.level === 40 && String(l.msg).includes('no embedding exporter'));
      assert.ok(warned, 'a warning at start');
      assert.deepEqual(warned.pipelines, ['traces']);
      assert.match(String(warned.msg), /^search\.enabled, but the traces pipeline has no embedding exporter/);
    } finally {
      await app.stop();
    }
  });
});
