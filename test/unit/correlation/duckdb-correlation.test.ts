// The DuckDB correlation stores on a real in-memory database loaded with the shop fixture.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findExceptionGroups, topExceptionGroups } from '../../../src/correlation/exception-groups.ts';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { attrs, log, MS, resource, SEC, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';
import { logs, otherTenantSpans, OTHER_TENANT, paymentsMs, spanOf, spans, startOf, TENANT, traceOf } from './shop-fixture.ts';

let store: DuckDbStore;
const range = { from: T0, to: T0 + 100n * SEC };
const MS_F = 1e6;

before(async () => {
  store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
  await store.writer.writeSpans([...spans, ...otherTenantSpans]);
  await store.writer.writeLogs(logs);
});
after(() => store.close());

describe('RED series derived from spans', () => {
  test('payments: requests, errors and duration quantiles per step and in total', async () => {
    const [red] = await store.correlation.red.redSeries(TENANT, [{ service: 'payments', range, stepNano: 50n * SEC }]);
    assert.equal(red!.service, 'payments');
    assert.deepEqual(
      red!.points.map((p) => [p.timeUnixNano - T0, p.requests, p.errors]),
      [
        [0n, 5, 1], // requests 0–4; 3 failed
        [50n * SEC, 5, 2], // requests 5–9; 5 and 7 failed
        [100n * SEC, 0, 0],
      ],
    );
    assert.equal(red!.points[0]!.requestRate, 5 / 50);
    assert.equal(red!.points[1]!.errorRate, 2 / 50);
    assert.equal(red!.points[2]!.p95Nano, null);
    assert.equal(red!.total.requests, 10);
    assert.equal(red!.total.errors, 3);
    // quantile_cont over 100, 110, … 190 ms
    assert.equal(red!.total.p50Nano! / MS_F, 145);
    assert.equal(red!.total.p95Nano! / MS_F, 185.5);
    assert.ok(Math.abs(red!.total.p99Nano! / MS_F - 189.1) < 1e-6);
    assert.equal(red!.total.requestRate, 10 / 100);
  });

  test('a last step cut by the range end has its rates over the trailing step-length of the range, so a steady service neither dips nor spikes at the right edge (QA rounds 38c, 38i)', async () => {
    // One request every 10 s; steps of 40 s over 100 s: the last step holds 20 s of them.
    const [red] = await store.correlation.red.redSeries(TENANT, [{ service: 'payments', range, stepNano: 40n * SEC }]);
    assert.deepEqual(red!.points.map((p) => p.requests), [4, 4, 2]);
    assert.deepEqual(red!.points.map((p) => Math.round(p.requestRate * 1000) / 1000), [0.1, 0.1, 0.1]);
    // A last step of a sliver (the range 200 ms past a step) holds request 8: over its own 200 ms it
    // read 5 req/s (QA round 38i); over the trailing step-length of the range, 0.1 as the others.
    const [sliver] = await store.correlation.red.redSeries(TENANT, [{ service: 'payments', range: { from: T0, to: T0 + 80n * SEC + 200n * MS }, stepNano: 40n * SEC }]);
    assert.deepEqual(sliver!.points.map((p) => [p.requests, Math.round(p.requestRate * 1000) / 1000]), [[4, 0.1], [4, 0.1], [1, 0.1]]);
  });

  test('only entry spans count: frontend’s CLIENT spans are not requests', async () => {
    const [fe] = await store.correlation.red.redSeries(TENANT, [{ service: 'frontend', range, stepNano: 100n * SEC }]);
    assert.equal(fe!.total.requests, 10);
    assert.equal(fe!.total.errors, 0);
  });

  test('many keys with different windows are answered in key order by one call; other tenants and unknown services are empty', async () => {
    const keys = [
      { service: 'payments', range: { from: startOf(3), to: startOf(3) + SEC }, stepNano: SEC },
      { service: 'nobody', range, stepNano: 50n * SEC },
      // checkout's server span starts 10 ms into each request, so request 4 falls after `to`.
      { service: 'checkout', range: { from: startOf(0), to: startOf(4) }, stepNano: 10n * SEC },
    ];
    const got = await store.correlation.red.redSeries(TENANT, keys);
    assert.deepEqual(got.map((s) => [s.service, s.total.requests, s.total.errors]), [['payments', 1, 1], ['nobody', 0, 0], ['checkout', 4, 0]]);
    assert.equal(got[2]!.points.length, 5);
    const [rival] = await store.correlation.red.redSeries(OTHER_TENANT, [{ service: 'payments', range, stepNano: 50n * SEC }]);
    assert.equal(rival!.total.requests, 0);
  });

  test('a step too small for the range is a BAD_QUERY', async () => {
    await assert.rejects(store.correlation.red.redSeries(TENANT, [{ service: 'payments', range, stepNano: MS }]), { code: 'BAD_QUERY' });
  });
});

describe('service graph from parent/child spans', () => {
  test('edges frontend → checkout → payments with calls, errors and p95; nodes with entry-span stats', async () => {
    const g = await store.correlation.serviceGraph.serviceGraph(TENANT, { range });
    assert.deepEqual(
      g.edges.map((e) => [e.source, e.target, e.calls, e.errors]),
      [
        ['checkout', 'payments', 10, 3],
        ['frontend', 'checkout', 10, 0],
      ],
    );
    assert.equal(g.edges[0]!.p95Nano / MS_F, 185.5);
    assert.deepEqual(
      g.nodes.map((n) => [n.service, n.requests, n.errors]),
      [
        ['checkout', 10, 0],
        ['frontend', 10, 0],
        ['payments', 10, 3],
      ],
    );
  });

  test('restricted to a service: its edges and its neighbours only; tenants never mix', async () => {
    const g = await store.correlation.serviceGraph.serviceGraph(TENANT, { range, services: ['payments'] });
    assert.deepEqual(g.edges.map((e) => `${e.source}->${e.target}`), ['checkout->payments']);
    assert.deepEqual(g.nodes.map((n) => n.service), ['checkout', 'payments']);
    const rival = await store.correlation.serviceGraph.serviceGraph(OTHER_TENANT, { range });
    assert.deepEqual(rival.edges.map((e) => `${e.source}->${e.target}`), ['checkout->rival-payments', 'frontend->checkout']);
  });

  test('a call whose parent span started before the range is an edge (a long job calling out)', async () => {
    const tenant = 'long-parent';
    const trace = traceId(900);
    await store.writer.writeSpans([
      span({ tenant, traceId: trace, spanId: spanId(1), resource: resource('batchjob'), kind: 2, startTimeUnixNano: T0 - 10n * SEC, endTimeUnixNano: T0 + 20n * SEC }),
      span({ tenant, traceId: trace, spanId: spanId(2), parentSpanId: spanId(1), resource: resource('batchjob'), kind: 3, startTimeUnixNano: T0 - 9n * SEC, endTimeUnixNano: T0 + 10n * SEC }),
      span({ tenant, traceId: trace, spanId: spanId(3), parentSpanId: spanId(2), resource: resource('inventory'), kind: 2, startTimeUnixNano: T0 + 5n * SEC, endTimeUnixNano: T0 + 9n * SEC, status: { code: 2, message: 'out of stock' } }),
      // Another trace whose parent is not stored at all: no edge, no error.
      span({ tenant, traceId: traceId(901), spanId: spanId(4), parentSpanId: spanId(99), resource: resource('inventory'), kind: 2, startTimeUnixNano: T0 + 6n * SEC, endTimeUnixNano: T0 + 7n * SEC }),
    ]);
    const g = await store.correlation.serviceGraph.serviceGraph(tenant, { range: { from: T0, to: T0 + 60n * SEC } });
    assert.deepEqual(g.edges.map((e) => [e.source, e.target, e.calls, e.errors]), [['batchjob', 'inventory', 1, 1]]);
    // batchjob, the edge's caller, is a node without a span in the range: no requests.
    assert.deepEqual(g.nodes.map((n) => [n.service, n.requests, n.errors, n.p95Nano]), [['batchjob', 0, 0, null], ['inventory', 2, 1, 3850 * MS_F]]);
  });
});

describe('exception groups', () => {
  test('the same exception with different messages and line numbers is one group, from span events and logs', async () => {
    const groups = await findExceptionGroups(store.correlation.exceptions, TENANT, { range, stepNano: 10n * SEC });
    assert.deepEqual(
      groups.map((g) => [g.type, g.count, g.spanCount, g.logCount, g.services]),
      [
        ['java.lang.IllegalStateException', 4, 2, 2, ['payments']],
        ['java.util.concurrent.TimeoutException', 1, 1, 0, ['payments']],
      ],
    );
    const declined = groups[0]!;
    assert.match(declined.fingerprint, /^[0-9a-f]{16}$/);
    assert.equal(declined.firstSeen, startOf(3) + 60n * MS);
    assert.equal(declined.lastSeen, startOf(7) + 61n * MS);
    assert.match(declined.sampleMessage, /^card declined for order 400[37]$/);
    assert.deepEqual(declined.series.map((p) => [p.timeUnixNano - T0, p.count]), [[30n * SEC, 2], [70n * SEC, 2]]);
    assert.deepEqual(
      new Set(declined.exampleSpans.map((s) => `${s.traceId}/${s.spanId}`)),
      new Set([3, 7].map((i) => `${traceOf(i)}/${spanOf(i, 5)}`)),
    );
    assert.equal(declined.exampleLogIds.length, 2);
    assert.equal(declined.source, 'duckdb');
  });

  test('filters: by trace, by type, by fingerprint; topExceptionGroups for one service', async () => {
    const inTrace = await findExceptionGroups(store.correlation.exceptions, TENANT, { range, traceIds: [traceOf(5)] });
    assert.deepEqual(inTrace.map((g) => [g.type, g.count]), [['java.util.concurrent.TimeoutException', 1]]);
    const all = await findExceptionGroups(store.correlation.exceptions, TENANT, { range });
    const byPrint = await findExceptionGroups(store.correlation.exceptions, TENANT, { range, fingerprints: [all[1]!.fingerprint] });
    assert.deepEqual(byPrint.map((g) => g.type), ['java.util.concurrent.TimeoutException']);
    const byType = await findExceptionGroups(store.correlation.exceptions, TENANT, { range, types: ['java.lang.IllegalStateException'] });
    assert.deepEqual(byType.map((g) => g.count), [4]);
    const top = await topExceptionGroups(store.correlation.exceptions, TENANT, { service: 'payments', from: range.from, to: range.to, limit: 1 });
    assert.deepEqual(top.map((g) => g.type), ['java.lang.IllegalStateException']);
    assert.deepEqual(await topExceptionGroups(store.correlation.exceptions, TENANT, { service: 'frontend', from: range.from, to: range.to }), []);
    const rival = await findExceptionGroups(store.correlation.exceptions, OTHER_TENANT, { range });
    assert.deepEqual(rival.map((g) => [g.services, g.count]), [[['rival-payments'], 1]]);
  });
});

test('a group found by the type read from its stack is found by that type; its examples are its most recent occurrences', async () => {
  const tenant = 'typeless';
  const boom = (t: bigint, body: string, line: number) =>
    log({ tenant, timeUnixNano: T0 + t * SEC, severityNumber: 17, body: { stringValue: body }, attributes: attrs({
      'exception.type': 'com.x.BoomException', 'exception.message': body, 'exception.stacktrace': `com.x.BoomException: ${body}\n\tat com.x.A.run(A.java:${line})`,
    }) });
  await store.writer.writeLogs([
    boom(1n, 'x1', 10), boom(2n, 'x2', 10), boom(3n, 'x3', 10), boom(9n, 'y1 newest', 99),
    log({ tenant, timeUnixNano: T0 + 5n * SEC, severityNumber: 17, body: { stringValue: 's1' }, attributes: attrs({
      'exception.message': 'bad state', 'exception.stacktrace': 'java.lang.IllegalStateException: bad state\n\tat com.x.B.go(B.java:3)',
    }) }),
  ]);
  const all = await findExceptionGroups(store.correlation.exceptions, tenant, { range, examples: 2 });
  const boomGroup = all.find((g) => g.type === 'com.x.BoomException')!;
  assert.equal(boomGroup.count, 4);
  assert.equal(boomGroup.sampleMessage, 'y1 newest');
  const bodies = async (ids: string[]) => (await store.logs.getLogs(tenant, ids)).map((l) => (l!.body as { stringValue: string }).stringValue);
  assert.deepEqual(await bodies(boomGroup.exampleLogIds), ['y1 newest', 'x3']);
  const byShownType = await findExceptionGroups(store.correlation.exceptions, tenant, { range, types: ['java.lang.IllegalStateException'] });
  assert.deepEqual(byShownType.map((g) => [g.type, g.count]), [['java.lang.IllegalStateException', 1]]);
  const byGivenType = await findExceptionGroups(store.correlation.exceptions, tenant, { range, types: ['com.x.BoomException'] });
  assert.deepEqual(byGivenType.map((g) => [g.type, g.count]), [['com.x.BoomException', 4]]);
});

test('a log with only exception.message is an exception (the semantic conventions need a type or a message)', async () => {
  const tenant = 'message-only';
  await store.writer.writeLogs([
    log({ tenant, timeUnixNano: T0 + SEC, severityNumber: 17, body: { stringValue: 'L7' }, attributes: attrs({ 'exception.message': 'something broke' }) }),
    log({ tenant, timeUnixNano: T0 + 2n * SEC, severityNumber: 17, body: { stringValue: 'no exception' }, attributes: attrs({ 'http.route': '/x' }) }),
  ]);
  const groups = await findExceptionGroups(store.correlation.exceptions, tenant, { range });
  assert.deepEqual(groups.map((g) => [g.type, g.count, g.logCount, g.sampleMessage]), [['', 1, 1, 'something broke']]);
});

describe('logs around a span', () => {
  test('the trace’s logs and the service’s logs without a trace ID in the window; not other requests’ logs', async () => {
    const key = (i: number, windowMs: bigint) => ({
      traceId: traceOf(i),
      service: 'payments',
      range: { from: startOf(i) + 20n * MS - windowMs * MS, to: startOf(i) + BigInt(20 + paymentsMs(i)) * MS + windowMs * MS },
    });
    const [r0, r3] = await store.correlation.logWindows!.logsAround(TENANT, [key(0, 0n), key(3, 0n)], 100);
    assert.deepEqual(r0!.map((l) => (l.body as { stringValue: string }).stringValue), ['pool stats 0']);
    assert.deepEqual(r3!.map((l) => (l.body as { stringValue: string }).stringValue), ['pool stats 3', 'payment failed: card declined for order 4003']);
    const [none] = await store.correlation.logWindows!.logsAround(OTHER_TENANT, [key(3, 0n)], 100);
    assert.deepEqual(none, []);
  });

  test('past the limit, the trace’s logs come first, then the untraced ones nearest the span', async () => {
    const tenant = 'chatty';
    const trace = traceId(700);
    const line = (t: bigint, body: string, withTrace: boolean) =>
      log({ tenant, resource: resource('payments'), timeUnixNano: T0 + t * SEC, body: { stringValue: body }, ...(withTrace && { traceId: trace, spanId: spanId(5) }) });
    await store.writer.writeLogs([
      ...Array.from({ length: 20 }, (_, i) => line(BigInt(i), `health ${i}`, false)),
      line(100n, 'in the trace', true),
      line(101n, 'next to the span', false),
      line(140n, 'after the span', false),
    ]);
    // The span runs 100–102 s; the window is ±60 s around it.
    const [around] = await store.correlation.logWindows!.logsAround(tenant, [{ traceId: trace, service: 'payments', range: { from: T0 + 40n * SEC, to: T0 + 162n * SEC } }], 2);
    assert.deepEqual(around!.map((l) => (l.body as { stringValue: string }).stringValue), ['in the trace', 'next to the span']);
    const [wide] = await store.correlation.logWindows!.logsAround(tenant, [{ traceId: trace, service: 'payments', range: { from: T0, to: T0 + 202n * SEC } }], 3);
    assert.deepEqual(wide!.map((l) => (l.body as { stringValue: string }).stringValue), ['in the trace', 'next to the span', 'after the span']);
  });
});
