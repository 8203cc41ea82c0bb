import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SearchLogsDocument, type TelemetryFilter } from '../../generated/graphql.ts';
import { formatTimestamp } from '../../../resolvers/time.ts';
import { errorCodes, openHarness, type Harness } from './harness.ts';
import { A_DB, A_ROOT, BASE, TRACE_A, TRACE_C } from './telemetry-fixture.ts';

const MS = 1_000_000n;
let h: Harness;
before(async () => {
  h = await openHarness();
});
after(() => h.close());

const bodies = async (filter: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
  const { data, errors } = await h.run(SearchLogsDocument, { filter, first: 100, ...extra });
  assert.equal(errors, undefined, JSON.stringify(errors));
  return data!.logs!.edges.map((e) => e.node.bodyText);
};

describe('logs(filter, first, after, order)', () => {
  test('returns every log field, with the body as JSON and as text', async () => {
    const { data, errors } = await h.run(SearchLogsDocument, { filter: { spanId: [A_DB] } });
    assert.equal(errors, undefined);
    const [edge] = data!.logs!.edges;
    const log = edge!.node;
    assert.equal(log.time, formatTimestamp(BASE + 100n * MS));
    assert.equal(log.timeMs, Number((BASE + 100n * MS) / MS)); // whole ms (Wild GraphQL reads a time path as an integer)
    assert.equal(log.observedTime, formatTimestamp(BASE + 100n * MS + 1_000n));
    assert.equal(log.severityNumber, 17);
    assert.equal(log.severityText, 'ERROR');
    assert.equal(log.severity, 'ERROR');
    assert.deepEqual(log.body, { error: 'connection timeout', retries: 3 });
    assert.equal(log.bodyText, '{"error":"connection timeout","retries":3}');
    assert.equal(log.traceId, TRACE_A);
    assert.equal(log.spanId, A_DB);
    assert.equal(log.eventName, 'db.error');
    assert.equal(log.service, 'cart-db');
    assert.deepEqual(log.span, { name: 'SELECT carts' });
    assert.ok(edge!.cursor);
    assert.ok(log.id);
  });

  test('uses the observed time when the record has no time', async () => {
    const { data } = await h.run(
      `{ logs(filter: { bodyContains: "settled" }) { nodes { time timeUnixNano observedTime severity traceId spanId span { name } trace { traceId } } } }`,
    );
    assert.deepEqual((data as { logs: { nodes: unknown[] } }).logs.nodes, [
      {
        time: formatTimestamp(BASE + 70_000n * MS),
        timeUnixNano: '0',
        observedTime: formatTimestamp(BASE + 70_000n * MS),
        severity: 'WARN',
        traceId: null,
        spanId: null,
        span: null,
        trace: null,
      },
    ]);
  });

  test('filters by body, severity, service, event name, trace and attributes', async () => {
    assert.deepEqual(await bodies({ bodyContains: 'RENDERED' }), ['cart rendered']);
    assert.deepEqual(new Set(await bodies({ minSeverity: 13 })), new Set(['payment settled', '{"error":"connection timeout","retries":3}']));
    assert.deepEqual(new Set(await bodies({ minSeverityLevel: 'WARN' })), new Set(['payment settled', '{"error":"connection timeout","retries":3}']));
    assert.deepEqual(await bodies({ minSeverityLevel: 'ERROR' }), ['{"error":"connection timeout","retries":3}']);
    assert.deepEqual(await bodies({ service: ['payments'] }), ['payment settled']);
    assert.deepEqual(await bodies({ name: ['db.error'] }), ['{"error":"connection timeout","retries":3}']);
    assert.deepEqual(await bodies({ traceId: [TRACE_A] }, { order: 'OLDEST_FIRST' }), [
      'cart requested',
      '{"error":"connection timeout","retries":3}',
      'cart rendered',
    ]);
    assert.deepEqual(await bodies({ attributes: [{ key: 'user.id', gte: 42 }] }), ['cart requested']);
  });

  test('searches the last hour unless told otherwise', async () => {
    assert.ok(!(await bodies({})).includes('ancient history'));
    assert.deepEqual(await bodies({ from: String((BASE - 7_300_000n * MS) / MS), to: formatTimestamp(BASE - 7_000_000n * MS) }), ['ancient history']);
  });

  test('pages with cursors', async () => {
    const first = await h.run(SearchLogsDocument, { filter: { traceId: [TRACE_C] }, first: 15 });
    assert.equal(first.data!.logs!.edges.length, 15);
    assert.equal(first.data!.logs!.pageInfo.hasNextPage, true);
    const rest = await h.run(SearchLogsDocument, { filter: { traceId: [TRACE_C] }, first: 15, after: first.data!.logs!.pageInfo.endCursor });
    assert.equal(rest.data!.logs!.edges.length, 5);
    assert.equal(rest.data!.logs!.pageInfo.hasNextPage, false);
    const ids = [...first.data!.logs!.edges, ...rest.data!.logs!.edges].map((e) => e.node.id);
    assert.equal(new Set(ids).size, 20);
  });

  test('rejects span-only filter fields with GW_BAD_FILTER', async () => {
    const filters: TelemetryFilter[] = [{ kind: ['SERVER'] }, { status: ['ERROR'] }, { minDuration: '1s' }];
    for (const filter of filters) {
      const result = await h.run(SearchLogsDocument, { filter });
      assert.deepEqual(errorCodes(result), ['GW_BAD_FILTER']);
      assert.match(result.errors![0]!.message, /does not apply to logs/);
    }
  });

  test('log(id) finds a record by the ID a search returned and null for an unknown one', async () => {
    const search = await h.run(SearchLogsDocument, { filter: { spanId: [A_ROOT] } });
    const id = search.data!.logs!.edges[0]!.node.id;
    const { data, errors } = await h.run('query($id: ID!) { log(id: $id) { bodyText attribute(key: "user.id") typedAttributes { key type value } } }', { id });
    assert.equal(errors, undefined);
    assert.deepEqual(data, { log: { bodyText: 'cart requested', attribute: 42, typedAttributes: [{ key: 'user.id', type: 'INT', value: 42 }] } });
  });
});

describe('logs of spans and traces', () => {
  test('Span.logs returns the logs that carry the span ID', async () => {
    const { data, errors } = await h.run(`{ span(traceId: "${TRACE_A}", spanId: "${A_ROOT}") { logs { bodyText } } }`);
    assert.equal(errors, undefined);
    assert.deepEqual(data, { span: { logs: [{ bodyText: 'cart requested' }] } });
  });

  test('Span.logs(window) returns the trace’s logs timed around the span, with or without a span ID', async () => {
    const q = (window: string) => `{ span(traceId: "${TRACE_A}", spanId: "${A_ROOT}") { logs(window: "${window}") { bodyText } } }`;
    const near = await h.run(q('1ms'));
    assert.deepEqual(
      (near.data as { span: { logs: { bodyText: string }[] } }).span.logs.map((l) => l.bodyText).sort(),
      ['cart requested', '{"error":"connection timeout","retries":3}'].sort(),
    );
    const wide = await h.run(q('1s'));
    assert.equal((wide.data as { span: { logs: unknown[] } }).span.logs.length, 3);
  });

  test('Trace.logs returns every log with the trace ID, up to first', async () => {
    const { data } = await h.run(`{ trace(traceId: "${TRACE_A}") { logs { bodyText } few: logs(first: 1) { bodyText } } }`);
    const t = (data as { trace: { logs: unknown[]; few: unknown[] } }).trace;
    assert.equal(t.logs.length, 3);
    assert.equal(t.few.length, 1);
  });

  test('LogRecord.trace goes from a log to its whole trace', async () => {
    const { data } = await h.run(`{ logs(filter: { spanId: ["${A_DB}"] }) { nodes { trace { spanCount rootSpan { name } } } } }`);
    assert.deepEqual((data as { logs: { nodes: unknown[] } }).logs.nodes, [{ trace: { spanCount: 3, rootSpan: { name: 'GET /cart' } } }]);
  });

  test('rejects first above 1000 on nested log lists', async () => {
    const result = await h.run(`{ trace(traceId: "${TRACE_A}") { logs(first: 5000) { id } } }`);
    assert.deepEqual(errorCodes(result), ['GW_BAD_ARGUMENT']);
  });
});
