import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { openHarness, type Harness } from './harness.ts';
import { TRACE_C } from './telemetry-fixture.ts';

let h: Harness;
before(async () => {
  h = await openHarness();
});
after(() => h.close());
beforeEach(() => h.calls.clear());

const calls = (key: string) => h.calls.get(key) ?? 0;

describe('DataLoader batching', () => {
  test('20 spans each asking for their logs make one logsForSpans call', async () => {
    const { data, errors } = await h.run(`{ spans(filter: { traceId: ["${TRACE_C}"] }, first: 20) { nodes { spanId logs { bodyText spanId } } } }`);
    assert.equal(errors, undefined);
    const nodes = (data as { spans: { nodes: { spanId: string; logs: { spanId: string }[] }[] } }).spans.nodes;
    assert.equal(nodes.length, 20);
    for (const n of nodes) assert.deepEqual(n.logs.map((l) => l.spanId), [n.spanId]);
    assert.equal(calls('logs.logsForSpans'), 1);
  });

  test('different limits for the same spans make one call per limit', async () => {
    await h.run(`{ spans(filter: { traceId: ["${TRACE_C}"] }, first: 20) { nodes { a: logs(first: 1) { id } b: logs(first: 2) { id } c: logs(first: 1) { id } } } }`);
    assert.equal(calls('logs.logsForSpans'), 2);
  });

  test('parent and children of 20 spans come from one getTraces call and no per-span lookups', async () => {
    const { data, errors } = await h.run(
      `{ spans(filter: { traceId: ["${TRACE_C}"] }, first: 20) { nodes { parent { spanId } children { spanId } trace { spanCount } } } }`,
    );
    assert.equal(errors, undefined);
    const nodes = (data as { spans: { nodes: { parent: unknown; children: unknown[] }[] } }).spans.nodes;
    assert.equal(nodes.filter((n) => n.parent === null).length, 1);
    assert.equal(nodes.reduce((sum, n) => sum + n.children.length, 0), 19);
    assert.equal(calls('traces.getTraces'), 1);
    assert.equal(calls('traces.getSpans'), 0);
  });

  test('logs asking for their span and trace make one getSpans and one getTraces call', async () => {
    await h.run(`{ logs(filter: { traceId: ["${TRACE_C}"] }, first: 20) { nodes { span { name } trace { spanCount } } } }`);
    assert.equal(calls('logs.searchLogs'), 1);
    assert.equal(calls('traces.getSpans'), 1);
    assert.equal(calls('traces.getTraces'), 1);
  });

  test('spans already loaded with their trace need no getSpans call', async () => {
    await h.run(`{ trace(traceId: "${TRACE_C}") { spans { spanId } } logs(filter: { traceId: ["${TRACE_C}"] }, first: 20) { nodes { span { name } } } }`);
    assert.equal(calls('traces.getTraces'), 1);
  });

  test('trace summaries asking for their trace make one getTraces call', async () => {
    await h.run('{ traces(limit: 10) { trace { spanCount } } }');
    assert.equal(calls('traces.searchTraces'), 1);
    assert.equal(calls('traces.getTraces'), 1);
  });

  test('exemplars asking for their trace and span batch per series, never per exemplar', async () => {
    const now = Date.now();
    const { data, errors } = await h.run(
      `query($from: Timestamp!, $to: Timestamp!) {
        a: metricSeries(name: "system.cpu.utilization", from: $from, to: $to) { exemplars { trace { traceId } span { name } } }
        b: metricSeries(name: "http.server.duration", from: $from, to: $to) { exemplars { trace { traceId } span { name } } }
      }`,
      { from: now - 3_600_000, to: now },
    );
    assert.equal(errors, undefined);
    const series = data as Record<'a' | 'b', { exemplars: { trace: { traceId: string } | null }[] }[]>;
    const exemplars = [...series.a, ...series.b].flatMap((s) => s.exemplars);
    assert.ok(exemplars.filter((e) => e.trace).length > 2, `${exemplars.length} exemplars`);
    assert.equal(calls('metrics.querySeries'), 2);
    // The two series' queries may finish in different turns of the event loop, and DataLoader batches
    // what is asked within one: one call per series at most, however many exemplars each has.
    assert.ok(calls('traces.getTraces') <= 2, `${calls('traces.getTraces')} getTraces calls`);
    assert.ok(calls('traces.getSpans') <= 2);
  });

  test('every trace of a page of traces loads its logs in one logsForTraces call', async () => {
    await h.run('{ traces(limit: 10) { trace { logs { id } } } }');
    assert.equal(calls('logs.logsForTraces'), 1);
  });

  test('loaders do not share results across requests', async () => {
    const q = `{ trace(traceId: "${TRACE_C}") { spanCount } }`;
    await h.run(q);
    await h.run(q);
    assert.equal(calls('traces.getTraces'), 2);
  });
});
