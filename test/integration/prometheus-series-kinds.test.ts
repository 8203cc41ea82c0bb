// metricSeries and metricPoints read from a real Prometheus, by kind of series: a native
// (exponential) histogram whose last step is cut short by `to`, a counter that restarted (the
// exporter's zero sample 1 ms before its new point), and RATE of what is not a counter. Points at
// known past times go in through the gateway (written to DuckDB and Prometheus).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql } from '../helpers/graphql-client.ts';
import { prometheusAvailable, startPrometheus, writingAndReadingPrometheus, type PrometheusServer } from '../helpers/prometheus-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { createPrometheusClient } from '../../src/stores/prometheus/client.ts';
import { createPrometheusMetricStore } from '../../src/stores/prometheus/metric-store.ts';
import type { PromQlStore } from '../../src/stores/prometheus/types.ts';
import { StoreError, type MetricStore, type SeriesQuery } from '../../src/stores/types.ts';

const skip = prometheusAvailable() ? false : 'needs /usr/bin/prometheus (apt-get install prometheus)';

const S = 1_000_000_000n;
/** Whole minutes, 40 minutes ago: within what a fresh Prometheus accepts. */
const B = BigInt(Math.floor(Date.now() / 60_000) * 60_000 - 40 * 60_000) * 1_000_000n;
const at = (seconds: number): string => String(B + BigInt(Math.round(seconds * 1000)) * 1_000_000n);
/** Series started an hour earlier, so DuckDB does not count their first point from zero (Prometheus cannot). */
const EARLY = -3600;

const attrs = (o: Record<string, string>) => Object.entries(o).map(([key, v]) => ({ key, value: { stringValue: v } }));
const resourceMetrics = (metrics: unknown[]) => ({
  resourceMetrics: [{ resource: { attributes: attrs({ 'service.name': 'kinds-svc', 'service.instance.id': 'i1' }) }, scopeMetrics: [{ scope: { name: 'kinds' }, metrics }] }],
});

/** A cumulative counter: 2k at 30k s (k = 1..20), then restarted (start time 615 s): 50 + 2(k − 21) for k = 21..30. */
const requests = (ks: number[]) => ({
  name: 'nk.requests', unit: '{request}',
  sum: {
    aggregationTemporality: 2, isMonotonic: true,
    dataPoints: ks.map((k) => ({ attributes: [], startTimeUnixNano: at(k <= 20 ? EARLY : 615), timeUnixNano: at(30 * k), asInt: String(k <= 20 ? 2 * k : 50 + 2 * (k - 21)) })),
  },
});

const others = [
  {
    // Every 15 s from 7.5 s: one more observation in each of (1,2], (2,4], (4,8], (8,16]: 4/15 per second.
    name: 'nk.payload', unit: 'By',
    exponentialHistogram: {
      aggregationTemporality: 2,
      dataPoints: Array.from({ length: 40 }, (_, j) => ({
        attributes: [], startTimeUnixNano: at(EARLY), timeUnixNano: at(7.5 + 15 * j), count: String(4 * (j + 1)), sum: 22.5 * (j + 1),
        scale: 0, zeroCount: '0', positive: { offset: 0, bucketCounts: [1, 1, 1, 1].map((c) => String(c * (j + 1))) }, negative: { offset: 0, bucketCounts: [] },
      })),
    },
  },
  { name: 'nk.temperature', unit: 'Cel', gauge: { dataPoints: [[30, 20], [90, 22], [150, 18]].map(([t, v]) => ({ attributes: [], timeUnixNano: at(t!), asDouble: v })) } },
  {
    name: 'nk.queue', unit: '{item}',
    sum: { aggregationTemporality: 2, isMonotonic: false, dataPoints: [[30, 5], [90, 3], [150, 8]].map(([t, v]) => ({ attributes: [], startTimeUnixNano: at(EARLY), timeUnixNano: at(t!), asInt: String(v) })) },
  },
];

describe('series read from Prometheus, by kind', { skip }, () => {
  let prom: PrometheusServer;
  let gw: TestGateway;
  let fromPrometheus: MetricStore & PromQlStore;
  let embedded: MetricStore;

  async function send(body: unknown): Promise<void> {
    const res = await fetch(`${gw.otlpHttp}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200, await res.text());
  }

  /** Waits until `check`, evaluated at B + 900 s, has a result. */
  async function inPrometheus(check: string): Promise<void> {
    await waitFor(async () => (await fromPrometheus.promql('default', { query: check, time: B + 900n * S, exemplars: false })).series.length, (n) => n > 0, check, 30_000);
  }

  before(async () => {
    prom = await startPrometheus();
    gw = await startGateway(writingAndReadingPrometheus(prom));
    fromPrometheus = createPrometheusMetricStore(createPrometheusClient({ url: prom.url, timeoutMs: 10_000 }));
    embedded = gw.app.internals.store()!.metrics;
    // The restart is sent after the points before it have arrived, so the exporter has seen them.
    await send(resourceMetrics([requests(Array.from({ length: 20 }, (_, i) => i + 1)), ...others]));
    await inPrometheus('count_over_time(nk_requests_total[15m]) == 20 and on() count(histogram_count(nk_payload_bytes offset 5m)) == 1 and on() count_over_time(nk_queue[15m]) == 3');
    await send(resourceMetrics([requests(Array.from({ length: 10 }, (_, i) => i + 21))]));
    // 30 points and the zero sample.
    await inPrometheus('count_over_time(nk_requests_total[15m]) == 31');
    await waitFor(async () => (await embedded.points('default', 'nk.requests', {}, 100)).length, (n) => n === 30, 'points in DuckDB', 30_000);
  });

  after(async () => {
    await gw?.stop();
    await prom?.destroy();
  });

  /** `seconds-from-B:value` of each step (rounded to `digits`, 4 unless given), of the one series; null values left out. */
  async function steps(store: MetricStore, q: Partial<SeriesQuery> & { name: string; from: number; to: number; step: number; digits?: number }): Promise<string[]> {
    const { from, to, step, digits = 4, ...rest } = q;
    const series = await store.querySeries('default', { aggregation: 'AVG', range: { from: B + BigInt(from) * S, to: B + BigInt(to) * S }, stepNano: BigInt(step) * S, ...rest });
    assert.equal(series.length, 1, `${series.length} series`);
    return series[0]!.points.filter((p) => p.value !== null).map((p) => `${Number((p.timeUnixNano - B) / S)}:${Number(p.value!.toFixed(digits))}`);
  }

  test('a native histogram whose last step is cut short by `to` answers every aggregation', async () => {
    const h = { name: 'nk.payload', from: 0, to: 530, step: 120 };
    // increase() over each step: 8 samples (7 steps of 4) extrapolated to the window's ends (32, less
    // the millisecond Prometheus 2's closed windows leave out), 4/15 per second; the last step,
    // 480–530 s, holds 3 samples (8 more) extrapolated to `to` (13.33) and is divided by its 50 s.
    assert.deepEqual(await steps(fromPrometheus, { ...h, aggregation: 'RATE' }), ['0:0.2667', '120:0.2667', '240:0.2667', '360:0.2667', '480:0.2667']);
    assert.deepEqual(await steps(fromPrometheus, { ...h, aggregation: 'COUNT', digits: 2 }), ['0:32', '120:32', '240:32', '360:32', '480:13.33']);
    assert.deepEqual(await steps(fromPrometheus, { ...h, aggregation: 'AVG' }), ['0:5.625', '120:5.625', '240:5.625', '360:5.625', '480:5.625']);
    assert.deepEqual(await steps(fromPrometheus, { ...h, quantile: 0.5 }), ['0:4', '120:4', '240:4', '360:4', '480:4']);
    // DuckDB counts from the sample before each step (none before the first): 12 over the 45 s since 472.5 s.
    assert.deepEqual(await steps(embedded, { ...h, aggregation: 'RATE' }), ['0:0.2333', '120:0.2667', '240:0.2667', '360:0.2667', '480:0.2667']);
    // Through GraphQL: a value, not an error.
    const r = await gql<{ metricSeries: { points: { value: number | null }[] }[] }>(
      gw.graphqlUrl,
      'query($from: Timestamp!, $to: Timestamp!) { metricSeries(name: "nk.payload", from: $from, to: $to, step: "2m", aggregation: RATE) { points { value } } }',
      { from: at(0), to: at(530) },
    );
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    assert.equal(r.data!.metricSeries[0]!.points.length, 5);
  });

  test('metricPoints does not list the zero sample the exporter writes before a restarted counter’s new point', async () => {
    const listed = async (from: number, to: number) =>
      (await fromPrometheus.points('default', 'nk.requests', { from: B + BigInt(from * 1000) * 1_000_000n, to: B + BigInt(to * 1000) * 1_000_000n }, 100)).map(
        (p) => `${Number(p.point.timeUnixNano - B) / 1e9}:${p.point.type === 'number' ? p.point.asDouble : ''}`,
      );
    // Newest first; the zero at 629.999 s is not listed.
    assert.deepEqual(await listed(600, 660), ['660:52', '630:50', '600:40']);
    // Nor when the range ends on it (its next sample is after `to`).
    assert.deepEqual(await listed(600, 629.999), ['600:40']);
    // What DuckDB lists.
    assert.deepEqual((await embedded.points('default', 'nk.requests', { from: B + 600n * S, to: B + 660n * S }, 100)).map((p) => Number(p.point.timeUnixNano - B) / 1e9), [660, 630, 600]);
  });

  for (const [name, type] of [['nk.temperature', 'a gauge'], ['nk.queue', 'a non-monotonic sum']] as const) {
    for (const [store, which] of [[() => fromPrometheus, 'Prometheus'], [() => embedded, 'DuckDB']] as const) {
      // A non-monotonic sum reads as a gauge from Prometheus (it keeps no type).
      const said = which === 'Prometheus' ? 'a gauge' : type;
      test(`RATE of ${type} is refused by ${which}, naming the type and what to use`, async () => {
        await assert.rejects(
          store().querySeries('default', { name, aggregation: 'RATE', range: { from: B, to: B + 300n * S }, stepNano: 60n * S }),
          (err: unknown) => err instanceof StoreError && err.code === 'BAD_QUERY' && err.message.includes(`${name} is ${said}`) && err.message.includes('use LAST, AVG, MIN or MAX'),
        );
        // Its other aggregations answer.
        assert.equal((await store().querySeries('default', { name, aggregation: 'LAST', range: { from: B, to: B + 300n * S }, stepNano: 60n * S })).length, 1);
      });
    }
  }
});
