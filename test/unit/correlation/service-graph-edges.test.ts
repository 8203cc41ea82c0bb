// The service graph's edges and nodes, and serviceDependencies beside it, through the real schema on
// a real DuckDB store: a caller whose span started before the range and was written in another batch
// than its callee, the nodes at both ends of every edge, and correlation windows at the far end of time.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { log, resource, SEC, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';
import { harnessFor, type Harness } from '../resolvers/harness.ts';

let store: DuckDbStore;
let h: Harness;

before(async () => {
  store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
  h = harnessFor(store);
});
after(() => store.close());

const range = { from: T0, to: T0 + 60n * SEC };

/** gw's SERVER span from T0 − 10 s to T0 + 30 s calls api (T0 + 5 s to T0 + 6 s): the QA report's trace. */
function gwCallsApi(tenant: string, trace: number) {
  const parent = span({ tenant, traceId: traceId(trace), spanId: spanId(1), resource: resource('gw'), kind: 2, startTimeUnixNano: T0 - 10n * SEC, endTimeUnixNano: T0 + 30n * SEC });
  const child = span({ tenant, traceId: traceId(trace), spanId: spanId(2), parentSpanId: spanId(1), resource: resource('api'), kind: 2, startTimeUnixNano: T0 + 5n * SEC, endTimeUnixNano: T0 + 6n * SEC });
  return { parent, child };
}

const GRAPH_AND_DEPENDENCIES = `query($from: Timestamp!, $to: Timestamp!, $services: [String!], $service: String) {
  serviceGraph(from: $from, to: $to, services: $services) { nodes { id requests errors p95Ms mainStat } edges { source target callCount } }
  serviceDependencies(from: $from, to: $to, service: $service) { parent child callCount }
}`;
type GraphAndDependencies = {
  serviceGraph: { nodes: { id: string; requests: number; errors: number; p95Ms: number | null; mainStat: string }[]; edges: { source: string; target: string; callCount: number }[] };
  serviceDependencies: { parent: string; child: string; callCount: number }[];
};

async function graphAndDependencies(tenant: string, extra: { services?: string[]; service?: string } = {}): Promise<GraphAndDependencies> {
  const r = await h.run<GraphAndDependencies>(GRAPH_AND_DEPENDENCIES, { from: String(range.from), to: String(range.to), ...extra }, tenant);
  assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  return r.data!;
}

test('a parent stored twice (a retried export) is one caller: its child\'s call counts once per copy of the child, not per pair of copies', async () => {
  // Joined to both copies of its parent, a call sent twice counted 4 (QA round 31 review).
  const tenant = 'retried-parent';
  const parent = span({ tenant, traceId: traceId(40), spanId: spanId(1), resource: resource('gw'), kind: 2, startTimeUnixNano: T0 + SEC, endTimeUnixNano: T0 + 9n * SEC });
  const child = span({ tenant, traceId: traceId(40), spanId: spanId(2), parentSpanId: spanId(1), resource: resource('api'), kind: 2, startTimeUnixNano: T0 + 2n * SEC, endTimeUnixNano: T0 + 3n * SEC });
  const early = span({ tenant, traceId: traceId(41), spanId: spanId(1), resource: resource('gw'), kind: 2, startTimeUnixNano: T0 - SEC, endTimeUnixNano: T0 + 9n * SEC });
  const lateChild = span({ tenant, traceId: traceId(41), spanId: spanId(2), parentSpanId: spanId(1), resource: resource('db'), kind: 3, startTimeUnixNano: T0 + 2n * SEC, endTimeUnixNano: T0 + 3n * SEC });
  // Each span twice, in two batches, as a retried export writes them; the second trace's parent before the range.
  for (let copy = 0; copy < 2; copy++) await store.writer.writeSpans([parent, child, early, lateChild]);
  const d = await graphAndDependencies(tenant);
  assert.deepEqual(d.serviceGraph.edges.map((e) => [e.source, e.target, e.callCount]), [['gw', 'api', 2], ['gw', 'db', 2]]);
  assert.deepEqual(d.serviceDependencies.map((e) => [e.parent, e.child, e.callCount]), [['gw', 'api', 2], ['gw', 'db', 2]]);
});

describe('a caller whose span started before the range', () => {
  for (const order of ['parent first', 'child first'] as const) {
    test(`is an edge when its span and the callee's were written in two batches (${order})`, async () => {
      const tenant = `batches-${order.replace(' ', '-')}`;
      const { parent, child } = gwCallsApi(tenant, 1);
      for (const batch of order === 'parent first' ? [[parent], [child]] : [[child], [parent]]) await store.writer.writeSpans(batch);
      const g = await store.correlation.serviceGraph.serviceGraph(tenant, { range });
      assert.deepEqual(g.edges.map((e) => [e.source, e.target, e.calls]), [['gw', 'api', 1]]);
    });
  }

  test('serviceDependencies answers the service graph’s edges for the same range', async () => {
    const tenant = 'dependencies-agree';
    const { parent, child } = gwCallsApi(tenant, 2);
    // A call within the range too, and one whose parent is not stored (no edge in either field).
    const inRange = [
      span({ tenant, traceId: traceId(3), spanId: spanId(3), resource: resource('api'), kind: 2, startTimeUnixNano: T0 + SEC, endTimeUnixNano: T0 + 2n * SEC }),
      span({ tenant, traceId: traceId(3), spanId: spanId(4), parentSpanId: spanId(3), resource: resource('db'), kind: 3, startTimeUnixNano: T0 + SEC, endTimeUnixNano: T0 + 2n * SEC }),
      span({ tenant, traceId: traceId(4), spanId: spanId(5), parentSpanId: spanId(99), resource: resource('db'), kind: 2, startTimeUnixNano: T0 + SEC, endTimeUnixNano: T0 + 2n * SEC }),
    ];
    await store.writer.writeSpans([parent, child, ...inRange]);
    const all = await graphAndDependencies(tenant);
    const edges = all.serviceGraph.edges.map((e) => ({ parent: e.source, child: e.target, callCount: e.callCount }));
    assert.deepEqual(edges, [
      { parent: 'api', child: 'db', callCount: 1 },
      { parent: 'gw', child: 'api', callCount: 1 },
    ]);
    assert.deepEqual(all.serviceDependencies, edges);
    const onlyGw = await graphAndDependencies(tenant, { services: ['gw'], service: 'gw' });
    assert.deepEqual(onlyGw.serviceDependencies, [{ parent: 'gw', child: 'api', callCount: 1 }]);
    assert.deepEqual(
      onlyGw.serviceGraph.edges.map((e) => ({ parent: e.source, child: e.target, callCount: e.callCount })),
      onlyGw.serviceDependencies,
    );
  });
});

describe('the nodes of a service graph', () => {
  test('include both ends of every edge, with services: and without; a service without a span in the range has zero counts', async () => {
    const tenant = 'edge-nodes';
    const { parent, child } = gwCallsApi(tenant, 5);
    await store.writer.writeSpans([parent, child]);
    const gwNode = { id: 'gw', requests: 0, errors: 0, p95Ms: null, mainStat: '0.00 req/s' };
    for (const services of [undefined, ['gw'], ['api']]) {
      const g = (await graphAndDependencies(tenant, services ? { services } : {})).serviceGraph;
      assert.deepEqual(g.edges, [{ source: 'gw', target: 'api', callCount: 1 }], `services ${String(services)}`);
      assert.deepEqual(g.nodes.map((n) => n.id), ['api', 'gw'], `services ${String(services)}`);
      assert.deepEqual(g.nodes[1], gwNode);
      assert.equal(g.nodes[0]!.requests, 1);
    }
  });
});

describe('correlation windows at the far end of time', () => {
  const MAX = 2n ** 63n - 1n;
  const tenant = 'far-future';
  const trace = traceId(6);
  before(async () => {
    // A 1 s SERVER span ending 10 min before the largest instant, and a log on it.
    const start = MAX - 10n * 60n * SEC - SEC;
    await store.writer.writeSpans([span({ tenant, traceId: trace, spanId: spanId(1), resource: resource('clock'), kind: 2, startTimeUnixNano: start, endTimeUnixNano: start + SEC })]);
    await store.writer.writeLogs([log({ tenant, traceId: trace, spanId: spanId(1), resource: resource('clock'), timeUnixNano: start, observedTimeUnixNano: start })]);
  });

  test('a window past the largest instant is clamped there, as it is at 0, and every correlated field answers', async () => {
    const r = await h.run(
      `query($t: ID!, $s: ID!) {
        span(traceId: $t, spanId: $s) { metrics(window: "10m") { requests } logs(window: "10m") { id } }
        correlate(traceId: $t, window: "15m") { from to metrics { requests } logs { id } serviceGraph { nodes { id } } exceptionGroups { count } }
      }`,
      { t: trace, s: spanId(1) },
      tenant,
    );
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const d = r.data as {
      span: { metrics: { requests: number }; logs: unknown[] };
      correlate: { from: string; to: string; metrics: { requests: number }[]; logs: unknown[]; serviceGraph: { nodes: { id: string }[] }; exceptionGroups: unknown[] };
    };
    assert.equal(d.span.metrics.requests, 1);
    assert.equal(d.span.logs.length, 1);
    assert.equal(d.correlate.to, '2262-04-11T23:47:16.854775807Z');
    assert.deepEqual(d.correlate.metrics.map((m) => m.requests), [1]);
    assert.equal(d.correlate.logs.length, 1);
    assert.deepEqual(d.correlate.serviceGraph.nodes.map((n) => n.id), ['clock']);
    assert.deepEqual(d.correlate.exceptionGroups, []);
  });
});
