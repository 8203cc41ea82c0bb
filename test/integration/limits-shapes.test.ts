// The limits processor's span limits (events, links, their attributes), key-value-list entries and
// metric point limits (buckets, quantiles), through a real gateway: OTLP/HTTP in, GraphQL and
// /metrics out (QA round 33, bigrecord D5).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql } from '../helpers/graphql-client.ts';
import { keyValues, logsJson, randomSpanId, randomTraceId } from '../helpers/otlp-bodies.ts';
import { postOtlp } from '../helpers/tail-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const limits = { maxAttributes: 3, maxEvents: 3, maxLinks: 2, maxAttributesPerEvent: 2, maxAttributesPerLink: 1, maxKvlistLength: 4, maxBuckets: 8, maxQuantiles: 2, maxExemplars: 2 };
const nowNs = () => BigInt(Date.now()) * 1_000_000n;
const attrsOf = (n: number, prefix = 'a') => keyValues(Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, i])));

function metricsJson(metrics: Record<string, unknown>[]): Record<string, unknown> {
  return { resourceMetrics: [{ resource: { attributes: keyValues({ 'service.name': 'limits-shapes' }) }, scopeMetrics: [{ scope: { name: 'test' }, metrics }] }] };
}

async function gatewayMetric(gw: TestGateway, name: string, component: string): Promise<number> {
  const text = await (await fetch(gw.graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`component="${component}"`));
  assert.ok(line, `${name}{component="${component}"} on /metrics`);
  return Number(line.split(' ').at(-1));
}

describe('limits on events, links, key-value lists, buckets and quantiles', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ processors: { limits } });
  });
  after(() => gw.stop());

  test('a span keeps its first maxEvents events and maxLinks links, the rest counted, each with its own attribute limit', async () => {
    const traceId = randomTraceId();
    const t = nowNs();
    const body = {
      resourceSpans: [{
        resource: { attributes: keyValues({ 'service.name': 'limits-shapes' }) },
        scopeSpans: [{
          scope: { name: 'test' },
          spans: [{
            traceId, spanId: randomSpanId(), name: 'busy', kind: 1,
            startTimeUnixNano: String(t - 1_000_000n), endTimeUnixNano: String(t),
            attributes: attrsOf(4),
            events: Array.from({ length: 10 }, (_, i) => ({ timeUnixNano: String(t - 1000n + BigInt(i)), name: `e${i}`, attributes: attrsOf(4) })),
            droppedEventsCount: 1, // the SDK's own count is kept and added to
            links: Array.from({ length: 6 }, () => ({ traceId: randomTraceId(), spanId: randomSpanId(), attributes: attrsOf(3), droppedAttributesCount: 1 })),
          }],
        }],
      }],
    };
    assert.equal(await postOtlp(gw, '/v1/traces', body, 'default'), 200);
    type Span = {
      attributes: Record<string, unknown>; droppedAttributesCount: number; droppedEventsCount: number; droppedLinksCount: number;
      events: { name: string; attributes: Record<string, unknown>; droppedAttributesCount: number }[];
      links: { attributes: Record<string, unknown>; droppedAttributesCount: number }[];
    };
    const r = await waitFor(
      () => gql<{ trace: { spans: Span[] } | null }>(gw.graphqlUrl, `query($id: ID!) { trace(traceId: $id) { spans {
        attributes droppedAttributesCount droppedEventsCount droppedLinksCount
        events { name attributes droppedAttributesCount } links { attributes droppedAttributesCount } } } }`, { id: traceId }),
      (x) => (x.data?.trace?.spans.length ?? 0) === 1,
      'the stored span',
    );
    const s = r.data!.trace!.spans[0]!;
    assert.deepEqual(s.events.map((e) => e.name), ['e0', 'e1', 'e2']);
    assert.equal(s.droppedEventsCount, 1 + 7);
    for (const e of s.events) {
      assert.deepEqual(e.attributes, { a0: 0, a1: 1 }, 'maxAttributesPerEvent, not maxAttributes');
      assert.equal(e.droppedAttributesCount, 2);
    }
    assert.equal(s.links.length, 2);
    assert.equal(s.droppedLinksCount, 4);
    for (const l of s.links) {
      assert.deepEqual(l.attributes, { a0: 0 }, 'maxAttributesPerLink');
      assert.equal(l.droppedAttributesCount, 1 + 2);
    }
    assert.deepEqual(s.attributes, { a0: 0, a1: 1, a2: 2 }, 'the span itself keeps maxAttributes');
    assert.equal(s.droppedAttributesCount, 1);
    assert.equal(await gatewayMetric(gw, 'teleql_limits_dropped_events_total', 'limits/traces'), 7);
    assert.equal(await gatewayMetric(gw, 'teleql_limits_dropped_links_total', 'limits/traces'), 4);
  });

  test('a key-value-list body or attribute keeps its first maxKvlistLength entries, at every level', async () => {
    const wide = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i]));
    const logs = logsJson([{ service: 'limits-shapes-logs', body: { ...wide, nested: 'dropped: the 11th entry' }, attributes: { map: { inner: wide } } }]);
    assert.equal(await postOtlp(gw, '/v1/logs', logs, 'default'), 200);
    const l = await waitFor(
      () => gql<{ logs: { edges: { node: { body: unknown; attributes: Record<string, unknown> } }[] } }>(gw.graphqlUrl, '{ logs(first: 5, filter: { service: ["limits-shapes-logs"] }) { edges { node { body attributes } } } }'),
      (x) => (x.data?.logs.edges.length ?? 0) === 1,
      'the stored log',
    );
    const node = l.data!.logs.edges[0]!.node;
    assert.deepEqual(node.body, { k0: 0, k1: 1, k2: 2, k3: 3 });
    assert.deepEqual(node.attributes.map, { inner: { k0: 0, k1: 1, k2: 2, k3: 3 } });
  });

  test('metric points: an exponential histogram loses resolution, an explicit one over maxBuckets is dropped, a summary keeps its first quantiles, a point its first exemplars', async () => {
    const t = String(nowNs());
    const point = (extra: Record<string, unknown>) => ({ startTimeUnixNano: t, timeUnixNano: t, ...extra });
    const body = metricsJson([
      { name: 'lim.hist.fits', histogram: { aggregationTemporality: 2, dataPoints: [point({ count: '5', sum: 5, bucketCounts: ['1', '1', '1', '1', '1'], explicitBounds: [1, 2, 3, 4] })] } },
      { name: 'lim.hist.wide', histogram: { aggregationTemporality: 2, dataPoints: [point({ count: '10', sum: 10, bucketCounts: Array(10).fill('1'), explicitBounds: [1, 2, 3, 4, 5, 6, 7, 8, 9] })] } },
      // 16 buckets of 1 at scale 3, from index 5: at scale 2 they are indices 2..10, 9 buckets; at scale 1, 1..5.
      { name: 'lim.exp.wide', exponentialHistogram: { aggregationTemporality: 2, dataPoints: [point({ count: '19', sum: 30, scale: 3, zeroCount: '3', positive: { offset: 5, bucketCounts: Array(16).fill('1') } })] } },
      // 1,000 empty buckets around two: no resolution lost.
      { name: 'lim.exp.sparse', exponentialHistogram: { aggregationTemporality: 2, dataPoints: [point({ count: '3', sum: 3, scale: 20, zeroCount: '0', positive: { offset: -7, bucketCounts: [...Array(500).fill('0'), '1', '2', ...Array(500).fill('0')] } })] } },
      { name: 'lim.summary', summary: { dataPoints: [point({ count: '4', sum: 8, quantileValues: [0.5, 0.9, 0.99, 1].map((quantile, i) => ({ quantile, value: i })) })] } },
      { name: 'lim.exemplars', gauge: { dataPoints: [point({ asDouble: 1, exemplars: [1, 2, 3, 4, 5].map((v) => ({ timeUnixNano: t, asDouble: v })) })] } },
    ]);
    assert.equal(await postOtlp(gw, '/v1/metrics', body, 'default'), 200);
    type Point = { count: number; bucketCounts: number[] | null; scale: number | null; positive: { offset: number; bucketCounts: number[] } | null; quantileValues: { quantile: number; value: number }[] | null };
    const read = (name: string) =>
      gql<{ metricPoints: Point[] | null }>(gw.graphqlUrl, 'query($n: String!) { metricPoints(name: $n) { count bucketCounts scale positive { offset bucketCounts } quantileValues { quantile value } } }', { n: name });
    const summary = await waitFor(() => read('lim.summary'), (x) => (x.data?.metricPoints?.length ?? 0) === 1, 'the stored summary');
    assert.deepEqual(summary.data!.metricPoints![0]!.quantileValues, [{ quantile: 0.5, value: 0 }, { quantile: 0.9, value: 1 }]);
    assert.deepEqual((await read('lim.hist.fits')).data!.metricPoints![0]!.bucketCounts, [1, 1, 1, 1, 1]);
    assert.deepEqual((await read('lim.hist.wide')).data!.metricPoints, [], 'an explicit-bucket histogram over maxBuckets is not stored');
    const exp = (await read('lim.exp.wide')).data!.metricPoints![0]!;
    assert.deepEqual({ scale: exp.scale, count: exp.count, positive: exp.positive }, { scale: 1, count: 19, positive: { offset: 1, bucketCounts: [3, 4, 4, 4, 1] } });
    const sparse = (await read('lim.exp.sparse')).data!.metricPoints![0]!;
    assert.deepEqual({ scale: sparse.scale, positive: sparse.positive }, { scale: 20, positive: { offset: 493, bucketCounts: [1, 2] } });
    assert.equal(await gatewayMetric(gw, 'teleql_limits_dropped_points_total', 'limits/metrics'), 1);
    const exemplars = await gql<{ metricPoints: { exemplars: { value: number }[] }[] }>(gw.graphqlUrl, '{ metricPoints(name: "lim.exemplars") { exemplars { value } } }');
    assert.deepEqual(exemplars.data!.metricPoints[0]!.exemplars, [{ value: 1 }, { value: 2 }]);
    assert.equal(await gatewayMetric(gw, 'teleql_limits_dropped_exemplars_total', 'limits/metrics'), 3);
    // The receiver counts the 6 points it handed on, the one the processor then dropped too (it read 5).
    const metrics = await (await fetch(gw.graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
    assert.match(metrics, /^teleql_otlp_accepted_items_total\{component="otlp",signal="metrics"\} 6$/m);
  });
});
