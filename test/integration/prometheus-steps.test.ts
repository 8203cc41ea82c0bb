// metricSeries steps read from a real Prometheus give the embedded DuckDB store's answers: points at
// known past times go in through the gateway (written to both), and the same queries are asked of
// both stores. Steps on whole seconds put samples on step boundaries; steps are sampled once or
// twice; ranges end inside a step and before later samples.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { prometheusAvailable, startPrometheus, writingAndReadingPrometheus, type PrometheusServer } from '../helpers/prometheus-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { createPrometheusClient } from '../../src/stores/prometheus/client.ts';
import { createPrometheusMetricStore } from '../../src/stores/prometheus/metric-store.ts';
import type { MetricStore, SeriesQuery } from '../../src/stores/types.ts';

const skip = prometheusAvailable() ? false : 'needs /usr/bin/prometheus (apt-get install prometheus)';

const S = 1_000_000_000n;
/** Whole minutes, 40 minutes ago: within what a fresh Prometheus accepts. */
const B = BigInt(Math.floor(Date.now() / 60_000) * 60_000 - 40 * 60_000) * 1_000_000n;
const at = (seconds: number): string => String(B + BigInt(seconds * 1000) * 1_000_000n);
/** Series started an hour earlier, so DuckDB does not count their first point from zero (Prometheus cannot). */
const EARLY = -3600;

const attrs = (o: Record<string, string>) => Object.entries(o).map(([key, v]) => ({ key, value: { stringValue: v } }));
const sum = (start: number, points: [number, number][], route: string) =>
  points.map(([t, v]) => ({ attributes: attrs({ route }), startTimeUnixNano: at(start), timeUnixNano: at(t), asInt: String(v) }));

const body = {
  resourceMetrics: [
    {
      resource: { attributes: attrs({ 'service.name': 'steps-svc', 'service.instance.id': 'i1' }) },
      scopeMetrics: [{
        scope: { name: 'steps' },
        metrics: [
          {
            name: 'st.requests', unit: '{request}',
            sum: {
              aggregationTemporality: 2, isMonotonic: true,
              dataPoints: [
                // /a resets at 230 s (a new start time, a lower value).
                ...sum(EARLY, [[15, 10], [75, 40], [130, 100], [200, 130]], '/a'), ...sum(230, [[260, 20], [330, 50], [420, 80], [590, 200]], '/a'),
                // /b: every 60 s from 30 s, on every other 2-minute boundary when counted from 30 s.
                ...sum(EARLY, Array.from({ length: 10 }, (_, k): [number, number] => [30 + 60 * k, 3 + 6 * k]), '/b'),
                // /c: +9 every 45 s, 0.2/s.
                ...sum(EARLY, Array.from({ length: 14 }, (_, k): [number, number] => [10 + 45 * k, 50 + 9 * k]), '/c'),
              ],
            },
          },
          {
            // One point per 2 minutes, bounds 10/50/100/500.
            name: 'st.latency', unit: 'ms',
            histogram: {
              aggregationTemporality: 2,
              dataPoints: ([[30, [2, 3, 4, 1, 0], 600], [150, [2, 8, 9, 1, 0], 1125], [270, [12, 8, 9, 1, 0], 1175], [390, [12, 8, 9, 1, 10], 11175], [510, [13, 9, 10, 2, 11], 12585]] as [number, number[], number][])
                .map(([t, c, total]) => ({
                  attributes: attrs({ route: '/a' }), startTimeUnixNano: at(EARLY), timeUnixNano: at(t),
                  count: String(c.reduce((a, b) => a + b, 0)), sum: total, bucketCounts: c.map(String), explicitBounds: [10, 50, 100, 500],
                })),
            },
          },
          {
            // A native histogram in Prometheus (read back in prometheus-series-kinds.test.ts).
            name: 'st.payload', unit: 'By',
            exponentialHistogram: {
              aggregationTemporality: 2,
              dataPoints: ([[40, [4, 4, 2, 0], 30], [160, [4, 4, 2, 10], 150], [400, [14, 4, 2, 10], 165]] as [number, number[], number][]).map(([t, c, total]) => ({
                attributes: attrs({ route: '/a' }), startTimeUnixNano: at(EARLY), timeUnixNano: at(t), count: String(c.reduce((a, b) => a + b, 0)), sum: total,
                scale: 0, zeroCount: '0', positive: { offset: 0, bucketCounts: c.map(String) }, negative: { offset: 0, bucketCounts: [] },
              })),
            },
          },
        ],
      }],
    },
  ],
};

describe('metricSeries steps from Prometheus match the DuckDB store', { skip }, () => {
  let prom: PrometheusServer;
  let gw: TestGateway;
  let fromPrometheus: MetricStore;
  let promql: ReturnType<typeof createPrometheusMetricStore>;
  let embedded: MetricStore;

  before(async () => {
    prom = await startPrometheus();
    gw = await startGateway(writingAndReadingPrometheus(prom));
    const res = await fetch(`${gw.otlpHttp}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200, await res.text());
    const store = createPrometheusMetricStore(createPrometheusClient({ url: prom.url, timeoutMs: 10_000 }));
    fromPrometheus = store;
    promql = store;
    embedded = gw.app.internals.store()!.metrics;
    const check = `count(st_requests_total) == 3 and on() count(st_latency_milliseconds_count) == 1 and on() count(histogram_count(st_payload_bytes)) == 1`;
    await waitFor(async () => (await store.promql('default', { query: check, range: { from: B, to: B + 600n * S }, stepNano: 60n * S, exemplars: false })).series.length, (n) => n > 0, 'points in Prometheus', 30_000);
    await waitFor(async () => (await embedded.metricNames('default')).length, (n) => n >= 3, 'points in DuckDB', 30_000);
  });

  after(async () => {
    await gw?.stop();
    await prom?.destroy();
  });

  /** `seconds-from-B:value` of each step (rounded), from one store; null values left out. */
  async function steps(store: MetricStore, q: Partial<SeriesQuery> & { from: number; to: number; step: number }): Promise<string[]> {
    const { from, to, step, ...rest } = q;
    const series = await store.querySeries('default', {
      name: 'st.requests', aggregation: 'SUM', range: { from: B + BigInt(from) * S, to: B + BigInt(to) * S }, stepNano: BigInt(step) * S, ...rest,
    });
    assert.equal(series.length, 1, JSON.stringify(series, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    return series[0]!.points.filter((p) => p.value !== null).map((p) => `${Number((p.timeUnixNano - B) / S)}:${Number(p.value!.toFixed(4))}`);
  }

  async function same(q: Parameters<typeof steps>[1], want: string[]): Promise<void> {
    assert.deepEqual(await steps(embedded, q), want, 'DuckDB');
    assert.deepEqual(await steps(fromPrometheus, q), want, 'Prometheus');
  }

  test('a last step cut short by `to` counts only its samples up to `to`, and its rate is not scaled up', async () => {
    const c = { labels: { route: '/c' }, from: 0, to: 530, step: 120 };
    // Steps of 0.2/s; the first has no sample before it, so it counts from its own first sample.
    // Steps hold two or three points (+9 each); the last, 480–530 s, only the one at 505 s: 9 over
    // the 45 s since the point before, not over the 50 s of the step up to `to`.
    await same({ ...c, aggregation: 'RATE' }, ['0:0.15', '120:0.225', '240:0.15', '360:0.225', '480:0.2']);
    // The points at 550 s and 595 s are after `to`.
    await same({ ...c, aggregation: 'SUM' }, ['0:18', '120:27', '240:18', '360:27', '480:9']);
  });

  test('a step that is not a whole number of milliseconds is refused from Prometheus, saying why (QA round 38g: no series, or every sample twice)', async () => {
    const q = { name: 'st.requests', aggregation: 'SUM' as const, range: { from: B, to: B + 600n * S }, stepNano: 60n * S + 500_000n };
    await assert.rejects(fromPrometheus.querySeries('default', q), /step: Prometheus counts time in milliseconds.*\(actual: 60000500000 ns\)/);
    await assert.rejects(promql.promql('default', { query: 'st_requests_total', range: q.range, stepNano: 60n * S + 500_000n, exemplars: false }), /whole number of them \(actual: 60000500000 ns\)/);
    // A from between two milliseconds starts at the next one: the same steps as from there.
    const at = (from: bigint) => fromPrometheus.querySeries('default', { name: 'st.requests', aggregation: 'COUNT', labels: { route: '/b' }, range: { from, to: B + 570n * S }, stepNano: 120n * S });
    const values = (series: Awaited<ReturnType<typeof at>>) => series[0]!.points.map((p) => p.value);
    assert.deepEqual(values(await at(B + 30n * S - 500_000n)), values(await at(B + 30n * S)));
  });

  test('a sample on a step boundary belongs to the step it starts', async () => {
    // /b's points at 150, 270, 390 and 510 s are each the first of their step.
    await same({ labels: { route: '/b' }, from: 30, to: 570, step: 120, aggregation: 'LAST' }, ['30:9', '150:21', '270:33', '390:45', '510:57']);
    await same({ labels: { route: '/b' }, from: 30, to: 570, step: 120, aggregation: 'COUNT' }, ['30:2', '150:2', '270:2', '390:2', '510:2']);
  });

  test('a step with one sample counts from the sample before it, across a reset', async () => {
    await same({ labels: { route: '/a' }, from: 0, to: 600, step: 120 }, ['0:30', '120:90', '240:50', '360:30', '480:120']);
    await same({ labels: { route: '/a' }, from: 0, to: 600, step: 120, aggregation: 'RATE' }, ['0:0.25', '120:0.75', '240:0.4167', '360:0.25', '480:1']);
  });

  test('a histogram sampled once per step has each step’s observations and quantiles', async () => {
    const h = { name: 'st.latency', from: 0, to: 600, step: 120 };
    await same({ ...h, aggregation: 'COUNT' }, ['120:10', '240:10', '360:10', '480:5']);
    await same({ ...h, aggregation: 'AVG' }, ['120:52.5', '240:5', '360:1000', '480:282']);
    await same({ ...h, quantile: 0.5 }, ['120:50', '240:5', '360:500', '480:75']);
    await same({ ...h, quantile: 0.9 }, ['120:90', '240:9', '360:500', '480:500']);
  });

  test('promql without a series selector answers, and the read backend records no error', async () => {
    type P = { promql: { resultType: string; series: { points: { value: number | null }[] }[] } };
    const q = 'query($q: String!) { promql(query: $q) { resultType series { points { value } } } }';
    const one = await gqlData<P>(gw.graphqlUrl, q, { q: 'vector(1)' });
    assert.deepEqual(one.promql.series.map((s) => s.points.map((p) => p.value)), [[1]]);
    const scalar = await gqlData<P>(gw.graphqlUrl, q, { q: 'scalar(vector(2))' });
    assert.equal(scalar.promql.resultType, 'SCALAR');
    assert.equal(scalar.promql.series[0]!.points[0]!.value, 2);
    type Bk = { backends: { id: string; lastError: string | null }[] };
    const b = await gqlData<Bk>(gw.graphqlUrl, '{ backends { id lastError } }');
    assert.equal(b.backends.find((x) => x.id === 'prometheus/read/metrics')?.lastError, null);
  });
});
