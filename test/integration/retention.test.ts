// Retention end to end: a real gateway gets spans, logs and metric points with explicit timestamps
// 10 days old and current, over OTLP/HTTP JSON, for two tenants; one trace has an old and a new
// span in separate requests. Before a retention pass everything is queryable; after a pass (7d for
// traces and logs, 30d for metrics) only the new spans and logs remain, the metric points all
// remain, the split trace keeps its new span, and /metrics counts the deleted rows. The resources
// and scopes only old records referred to go in the same pass; one sent again later is stored again.
// With semantic search on, the old records' search documents go in the same pass, and their texts
// and vectors once no document refers to them (a text sent again is indexed again).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TEST_MODEL } from '../fixtures/search/test-model.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { keyValues, randomSpanId, randomTraceId } from '../helpers/otlp-bodies.ts';
import { waitFor } from '../helpers/wait-for.ts';

const DAY_NS = 86_400_000_000_000n;
const NOW_NS = BigInt(Date.now()) * 1_000_000n;
const OLD_NS = NOW_NS - 10n * DAY_NS;

interface SpanAt {
  traceId: string;
  name: string;
  startNs: bigint;
}

function spansAt(spans: SpanAt[], service = 'retained', scope = 'test'): unknown {
  return {
    resourceSpans: [
      {
        resource: { attributes: keyValues({ 'service.name': service }) },
        scopeSpans: [
          {
            scope: { name: scope },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: randomSpanId(),
              name: s.name,
              kind: 2,
              startTimeUnixNano: String(s.startNs),
              endTimeUnixNano: String(s.startNs + 1_000_000n),
            })),
          },
        ],
      },
    ],
  };
}

function logsAt(records: { body: string; timeNs: bigint }[]): unknown {
  return {
    resourceLogs: [
      {
        resource: { attributes: keyValues({ 'service.name': 'retained' }) },
        scopeLogs: [
          { scope: { name: 'test' }, logRecords: records.map((r) => ({ timeUnixNano: String(r.timeNs), severityNumber: 9, body: { stringValue: r.body } })) },
        ],
      },
    ],
  };
}

function gaugeAt(points: { value: number; timeNs: bigint }[]): unknown {
  return {
    resourceMetrics: [
      {
        resource: { attributes: keyValues({ 'service.name': 'retained' }) },
        scopeMetrics: [
          {
            scope: { name: 'test' },
            metrics: [{ name: 'queue_depth', gauge: { dataPoints: points.map((p) => ({ timeUnixNano: String(p.timeNs), asDouble: p.value })) } }],
          },
        ],
      },
    ],
  };
}

async function post(gw: TestGateway, path: string, body: unknown, tenant: string): Promise<void> {
  const res = await fetch(`${gw.otlpHttp}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-scope-orgid': tenant },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.text());
}

const TRACE = 'query($id: ID!) { trace(traceId: $id) { spans { name } } }';
const LOGS = 'query($from: Timestamp!) { logs(filter: { from: $from }, first: 100) { edges { node { body } } } }';
const POINTS = 'query($from: Timestamp!) { metricPoints(name: "queue_depth", from: $from) { asDouble } }';
const FROM = String(NOW_NS - 30n * DAY_NS);

async function traceSpanNames(gw: TestGateway, id: string, tenant: string): Promise<string[] | null> {
  const d = await gqlData<{ trace: { spans: { name: string }[] } | null }>(gw.graphqlUrl, TRACE, { id }, { 'x-scope-orgid': tenant });
  return d.trace ? d.trace.spans.map((s) => s.name).sort() : null;
}

async function logBodies(gw: TestGateway, tenant: string): Promise<string[]> {
  const d = await gqlData<{ logs: { edges: { node: { body: unknown } }[] } }>(gw.graphqlUrl, LOGS, { from: FROM }, { 'x-scope-orgid': tenant });
  return d.logs.edges.map((e) => String(e.node.body)).sort();
}

async function pointValues(gw: TestGateway, tenant: string): Promise<number[]> {
  const d = await gqlData<{ metricPoints: { asDouble: number }[] }>(gw.graphqlUrl, POINTS, { from: FROM }, { 'x-scope-orgid': tenant });
  return d.metricPoints.map((p) => p.asDouble).sort((a, b) => a - b);
}

async function metricValue(gw: TestGateway, series: string): Promise<number> {
  const text = await (await fetch(gw.graphqlUrl.replace('/graphql', '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line, `${series} is on /metrics`);
  return Number(line.split(' ')[1]);
}

describe('retention: a pass deletes what is older than each signal window, for every tenant', () => {
  let gw: TestGateway;
  const oldTrace = randomTraceId();
  const newTrace = randomTraceId();
  const splitTrace = randomTraceId(); // an old span and a new span, sent in separate requests
  const sharedId = randomTraceId(); // the same trace ID in two tenants: old in one, new in the other

  before(async () => {
    // A long interval: the test runs the pass itself, after checking the old data arrived.
    gw = await startGateway({ storage: { retention: { period: '7d', metrics: '30d', interval: '1h', batchRows: 2 } } });
    await post(gw, '/v1/traces', spansAt([
      { traceId: oldTrace, name: 'old-a', startNs: OLD_NS },
      { traceId: oldTrace, name: 'old-b', startNs: OLD_NS + 1_000_000n },
      { traceId: oldTrace, name: 'old-c', startNs: OLD_NS + 2_000_000n },
      { traceId: splitTrace, name: 'split-old', startNs: OLD_NS },
      { traceId: sharedId, name: 'shop-old', startNs: OLD_NS },
    ]), 'shop');
    // Stored before the next request is sent, so splitTrace's old span is in a batch (and a
    // trace_ranges row) of its own.
    await waitFor(() => traceSpanNames(gw, splitTrace, 'shop'), (n) => n?.length === 1, 'the old batch');
    await post(gw, '/v1/traces', spansAt([
      { traceId: newTrace, name: 'new-a', startNs: NOW_NS },
      { traceId: splitTrace, name: 'split-new', startNs: NOW_NS },
    ]), 'shop');
    await post(gw, '/v1/traces', spansAt([{ traceId: sharedId, name: 'bank-new', startNs: NOW_NS }]), 'bank');
    await post(gw, '/v1/logs', logsAt([{ body: 'old log', timeNs: OLD_NS }, { body: 'new log', timeNs: NOW_NS }]), 'shop');
    await post(gw, '/v1/logs', logsAt([{ body: 'bank old log', timeNs: OLD_NS }]), 'bank');
    await post(gw, '/v1/metrics', gaugeAt([{ value: 1, timeNs: OLD_NS }, { value: 2, timeNs: NOW_NS }]), 'shop');
  });
  after(() => gw.stop());

  test('before a pass, the old data is stored and queryable', async () => {
    await waitFor(() => traceSpanNames(gw, splitTrace, 'shop'), (n) => n?.length === 2, 'the split trace');
    assert.deepEqual(await traceSpanNames(gw, oldTrace, 'shop'), ['old-a', 'old-b', 'old-c']);
    assert.deepEqual(await traceSpanNames(gw, splitTrace, 'shop'), ['split-new', 'split-old']);
    await waitFor(() => traceSpanNames(gw, sharedId, 'bank'), (n) => n?.length === 1, 'the bank trace');
    assert.deepEqual(await traceSpanNames(gw, sharedId, 'shop'), ['shop-old']);
    assert.deepEqual(await waitFor(() => logBodies(gw, 'shop'), (b) => b.length === 2, 'shop logs'), ['new log', 'old log']);
    assert.deepEqual(await waitFor(() => logBodies(gw, 'bank'), (b) => b.length === 1, 'bank logs'), ['bank old log']);
    assert.deepEqual(await waitFor(() => pointValues(gw, 'shop'), (v) => v.length === 2, 'metric points'), [1, 2]);
  });

  test('a pass deletes spans and logs older than 7 days, in steps, and keeps metric points (30 days)', async () => {
    const deleted = await gw.app.internals.retention()!.runPass();
    // 5 old spans, 2 old logs; batchRows 2 makes each table take several DELETE steps.
    assert.equal(deleted.spans, 5);
    assert.equal(deleted.logs, 2);
    assert.equal(deleted.metric_points, 0);
    // The ranges of the old-only traces (oldTrace, shop's sharedId) and the old batch row of splitTrace.
    assert.equal(deleted.trace_ranges, 3);

    assert.equal(await traceSpanNames(gw, oldTrace, 'shop'), null);
    assert.deepEqual(await traceSpanNames(gw, newTrace, 'shop'), ['new-a']);
    assert.deepEqual(await traceSpanNames(gw, splitTrace, 'shop'), ['split-new']);
    assert.equal(await traceSpanNames(gw, sharedId, 'shop'), null);
    assert.deepEqual(await traceSpanNames(gw, sharedId, 'bank'), ['bank-new']);
    assert.deepEqual(await logBodies(gw, 'shop'), ['new log']);
    assert.deepEqual(await logBodies(gw, 'bank'), []);
    assert.deepEqual(await pointValues(gw, 'shop'), [1, 2]);
  });

  test('/metrics counts the deleted rows and the passes; a second pass deletes nothing', async () => {
    assert.equal(await metricValue(gw, 'teleql_retention_deleted_rows_total{table="spans"}'), 5);
    assert.equal(await metricValue(gw, 'teleql_retention_deleted_rows_total{table="logs"}'), 2);
    assert.equal(await metricValue(gw, 'teleql_retention_passes_total'), 1);
    const again = await gw.app.internals.retention()!.runPass();
    // search_docs: semantic search is on by default, so its documents have a window too.
    assert.deepEqual(again, { spans: 0, trace_ranges: 0, logs: 0, log_trace_ranges: 0, metric_points: 0, search_docs: 0 });
    assert.equal(await metricValue(gw, 'teleql_retention_passes_total'), 2);
  });
});

describe('retention: the resources and scopes of deleted records go too', () => {
  let gw: TestGateway;
  const SPAN = 'query($id: ID!) { trace(traceId: $id) { spans { name service scope { name } } } }';
  const spansOf = async (id: string) =>
    (await gqlData<{ trace: { spans: unknown[] } | null }>(gw.graphqlUrl, SPAN, { id }, { 'x-scope-orgid': 'shop' })).trace?.spans ?? null;
  const services = async () => (await gqlData<{ services: string[] }>(gw.graphqlUrl, '{ services }', {}, { 'x-scope-orgid': 'shop' })).services;

  before(async () => {
    gw = await startGateway({ storage: { retention: { period: '7d', interval: '1h', batchRows: 2 } } });
  });
  after(() => gw.stop());

  test('a pass deletes the parts only deleted spans referred to; a span sending them again stores them again', async () => {
    const oldTrace = randomTraceId();
    const newTrace = randomTraceId();
    await post(gw, '/v1/traces', spansAt([{ traceId: oldTrace, name: 'old', startNs: OLD_NS }], 'departed', 'gone-scope'), 'shop');
    await post(gw, '/v1/traces', spansAt([{ traceId: newTrace, name: 'new', startNs: NOW_NS }]), 'shop');
    await waitFor(() => spansOf(newTrace), (s) => s?.length === 1, 'the new span');
    await waitFor(() => spansOf(oldTrace), (s) => s?.length === 1, 'the old span');

    const deleted = await gw.app.internals.retention()!.runPass();
    assert.equal(deleted.spans, 1);
    assert.deepEqual([deleted.resources, deleted.scopes], [1, 1]);
    assert.equal(await metricValue(gw, 'teleql_retention_deleted_rows_total{table="resources"}'), 1);
    assert.equal(await metricValue(gw, 'teleql_retention_deleted_rows_total{table="scopes"}'), 1);
    assert.deepEqual(await services(), ['retained']);

    const laterTrace = randomTraceId();
    await post(gw, '/v1/traces', spansAt([{ traceId: laterTrace, name: 'back', startNs: NOW_NS }], 'departed', 'gone-scope'), 'shop');
    assert.deepEqual(await waitFor(() => spansOf(laterTrace), (s) => s?.length === 1, 'the span sent again'), [{ name: 'back', service: 'departed', scope: { name: 'gone-scope' } }]);
    assert.deepEqual(await spansOf(newTrace), [{ name: 'new', service: 'retained', scope: { name: 'test' } }]);
  });
});

describe('retention: semantic search forgets what retention deleted', () => {
  let gw: TestGateway;
  const SEARCH = 'query($text: String!, $from: Timestamp!) { search(text: $text, filter: { from: $from }, limit: 10, exact: true) { hits { kind text span { name } log { bodyText } } } }';
  type Hit = { kind: string; text: string; span: { name: string } | null; log: { bodyText: string } | null };
  const hits = async (text: string) => (await gqlData<{ search: { hits: Hit[] } }>(gw.graphqlUrl, SEARCH, { text, from: FROM }, { 'x-scope-orgid': 'shop' })).search.hits;
  /** What a hit's record is called: a span's name or a log's body. */
  const names = (hs: Hit[]) => hs.map((h) => h.span?.name ?? h.log?.bodyText ?? `(${h.kind} without its record)`).sort();
  const storedTexts = async (like: string) => {
    const [row] = await gw.app.internals.store()!.db.query('SELECT count(*) AS n FROM search_texts WHERE text LIKE ?', [`%${like}%`]);
    return Number(row!.n);
  };
  const indexed = async (n: number) =>
    waitFor(
      () => gqlData<{ searchIndex: { pending: number; indexed: number } }>(gw.graphqlUrl, '{ searchIndex { pending indexed } }', {}, { 'x-scope-orgid': 'shop' }),
      (d) => d.searchIndex.pending === 0 && d.searchIndex.indexed >= n,
      `${n} records indexed`,
      30_000,
    );

  before(async () => {
    gw = await startGateway({ search: TEST_MODEL, storage: { retention: { period: '7d', interval: '1h', batchRows: 2 } } });
    // The old span's name is also a new span's: that text stays while a document refers to it.
    await post(gw, '/v1/traces', spansAt([
      { traceId: randomTraceId(), name: 'invoice reconciliation failed', startNs: OLD_NS },
      { traceId: randomTraceId(), name: 'warehouse inventory sync', startNs: OLD_NS },
      { traceId: randomTraceId(), name: 'warehouse inventory sync', startNs: NOW_NS },
    ]), 'shop');
    await post(gw, '/v1/logs', logsAt([{ body: 'legacy billing export crashed', timeNs: OLD_NS }, { body: 'payment authorized', timeNs: NOW_NS }]), 'shop');
    await indexed(5);
  });
  after(() => gw.stop());

  test('before a pass, old spans and logs are found', async () => {
    assert.deepEqual(names(await hits('invoice reconciliation failed')).filter((n) => n.includes('invoice')), ['invoice reconciliation failed']);
    assert.deepEqual(names(await hits('legacy billing export crashed')).filter((n) => n.includes('legacy')), ['legacy billing export crashed']);
    assert.equal(await storedTexts('invoice reconciliation'), 1);
  });

  test('a pass deletes their documents, then the texts and vectors nothing refers to; shared texts stay', async () => {
    const deleted = await gw.app.internals.retention()!.runPass();
    assert.equal(deleted.spans, 2);
    assert.equal(deleted.logs, 1);
    assert.equal(deleted.search_docs, 3, 'two span documents and one log document');
    // The old span's and the old log's texts (the shared span name stays), and their vectors.
    assert.equal(deleted.search_texts, 2);
    assert.equal(deleted.search_vectors, 2);
    assert.equal(await storedTexts('invoice reconciliation'), 0);
    assert.equal(await storedTexts('legacy billing'), 0);
    assert.equal(await storedTexts('warehouse inventory'), 1);

    const found = names([...(await hits('invoice reconciliation failed')), ...(await hits('legacy billing export crashed')), ...(await hits('warehouse inventory sync'))]);
    assert.ok(!found.some((n) => n.includes('invoice') || n.includes('legacy') || n.includes('without its record')), `no hit of a deleted record: ${found.join(', ')}`);
    assert.equal(found.filter((n) => n === 'warehouse inventory sync').length, 3, 'the new span, once per query that found it');
    assert.equal(await metricValue(gw, 'teleql_retention_deleted_rows_total{table="search_docs"}'), 3);
    assert.equal(await metricValue(gw, 'teleql_retention_deleted_rows_total{table="search_texts"}'), 2);
  });

  test('a pruned text sent again is stored, embedded and found again', async () => {
    await post(gw, '/v1/traces', spansAt([{ traceId: randomTraceId(), name: 'invoice reconciliation failed', startNs: NOW_NS }]), 'shop');
    await indexed(6);
    assert.equal(await storedTexts('invoice reconciliation'), 1);
    assert.deepEqual(names(await hits('invoice reconciliation failed')).filter((n) => n.includes('invoice')), ['invoice reconciliation failed']);
  });
});

describe('retention: off', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ storage: { retention: { period: 'off', interval: '1h' } } });
  });
  after(() => gw.stop());

  test("period 'off' keeps data of any age", async () => {
    const id = randomTraceId();
    await post(gw, '/v1/traces', spansAt([{ traceId: id, name: 'ancient', startNs: NOW_NS - 400n * DAY_NS }]), 'shop');
    await waitFor(() => traceSpanNames(gw, id, 'shop'), (n) => n?.length === 1, 'the ancient span');
    assert.deepEqual(await gw.app.internals.retention()!.runPass(), {});
    assert.deepEqual(await traceSpanNames(gw, id, 'shop'), ['ancient']);
  });
});
