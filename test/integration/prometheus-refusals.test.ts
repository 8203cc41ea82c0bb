// The prometheus exporter against real Prometheus servers, for answers no retry can change and for
// what only the start time shows:
// - a Prometheus started without --enable-feature=native-histograms answers 500 "native histograms
//   are disabled" to an exponential histogram: the exporter sends it as classic buckets from then
//   on, and later metrics are not held behind it;
// - a Prometheus without an out-of-order window refuses one old sample: the series' newer samples
//   in the same request still arrive;
// - a counter that restarted (a later start time) with a value above its last one: increase() sees the reset;
// - a summary without quantiles reads back through the Prometheus metric store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { prometheusExporterFactory, defaultPrometheusExporterConfig } from '../../ingest/exporters/prometheus/factory.ts';
import type { Exporter } from '../../ingest/component.ts';
import type { MetricDescriptor, MetricPoint, MetricPointValue } from '../../src/model/telemetry.ts';
import { createPrometheusClient } from '../../src/stores/prometheus/client.ts';
import { createPrometheusMetricStore } from '../../src/stores/prometheus/metric-store.ts';
import { capturingLogger } from '../helpers/capturing-logger.ts';
import { prometheusAvailable, startPrometheus, type PrometheusServer } from '../helpers/prometheus-server.ts';
import { metricPoint } from '../helpers/telemetry-builders.ts';
import { waitFor } from '../helpers/wait-for.ts';

const skip = prometheusAvailable() ? false : 'needs /usr/bin/prometheus (apt-get install prometheus)';
const MS = 1_000_000n;
/** Whole minutes, 10 minutes ago: within what a fresh Prometheus accepts. */
const B = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
const at = (seconds: number): bigint => BigInt(B + seconds * 1000) * MS;

const gauge = (name: string, t: number, value: number): MetricPoint =>
  metricPoint({ type: 'number', attributes: [], startTimeUnixNano: 0n, timeUnixNano: at(t), flags: 0, asDouble: value, exemplars: [] }, { name, unit: '', type: 'gauge' });
const of = (metric: Partial<MetricDescriptor>, point: MetricPointValue): MetricPoint => metricPoint(point, { unit: '', aggregationTemporality: 2, ...metric });

function exporterFor(prom: PrometheusServer) {
  const { logger, lines } = capturingLogger();
  const cfg = {
    ...defaultPrometheusExporterConfig(),
    endpoint: prom.writeUrl,
    spill: { ...defaultPrometheusExporterConfig().spill, enabled: false },
    batch: { ...defaultPrometheusExporterConfig().batch, flushIntervalMs: 10 },
    retry: { ...defaultPrometheusExporterConfig().retry, initialIntervalMs: 50, maxIntervalMs: 200 },
  };
  const exporter = prometheusExporterFactory.create({ id: 'prometheus/metrics', logger }, cfg, 'metrics') as Exporter<'metrics'> & {
    metrics(): { name: string; value: number; labels: Record<string, string> }[];
  };
  return { exporter, lines, metric: (name: string) => exporter.metrics().find((m) => m.name === name)?.value };
}

async function query(prom: PrometheusServer, q: string, time = B / 1000 + 100): Promise<{ metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[]> {
  const res = await fetch(`${prom.url}/api/v1/query?${new URLSearchParams({ query: q, time: String(time) })}`);
  const body = (await res.json()) as { data: { result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] } };
  return body.data.result;
}

describe('the prometheus exporter with a Prometheus that has no feature flags', { skip }, () => {
  let prom: PrometheusServer;
  let ex: ReturnType<typeof exporterFor>;

  before(async () => {
    prom = await startPrometheus({ features: [] });
    ex = exporterFor(prom);
    await ex.exporter.start({ logger: capturingLogger().logger, reportError: () => {} });
  });
  after(async () => {
    await ex?.exporter.shutdown();
    await prom?.destroy();
  });

  test('an exponential histogram refused as "native histograms are disabled" goes as classic buckets, and later metrics are not held up', async () => {
    await ex.exporter.consume([
      of({ name: 'eh.lat', unit: 's', type: 'exponentialHistogram' }, {
        type: 'exponentialHistogram', attributes: [], startTimeUnixNano: at(-60), timeUnixNano: at(0), flags: 0, count: 3, sum: 4.5, scale: 0,
        zeroCount: 0, zeroThreshold: 0, positive: { offset: 0, bucketCounts: [2, 1] }, negative: { offset: 0, bucketCounts: [] }, exemplars: [],
      }),
      gauge('eh.other', 0, 7),
    ]);
    await ex.exporter.consume([gauge('late.g', 1, 42)]);
    await waitFor(() => query(prom, '{__name__=~"late_g|eh_other"}'), (r) => r.length === 2, 'later metrics in Prometheus').catch((err: unknown) => {
      throw new Error(`${String(err)}\n${JSON.stringify(ex.lines)}`);
    });
    const buckets = await query(prom, 'eh_lat_seconds_bucket');
    assert.deepEqual(buckets.map((r) => `${r.metric.le}=${r.value![1]}`).sort(), ['+Inf=3', '0=0', '2=2', '4=3']);
    assert.equal(ex.metric('teleql_prometheus_exponential_histograms_as_buckets'), 1);
    assert.equal(ex.lines.filter((l) => /takes no native histograms/.test(String(l.msg))).length, 1);
    // Told once: a second histogram goes straight to buckets.
    await ex.exporter.consume([
      of({ name: 'eh.lat', unit: 's', type: 'exponentialHistogram' }, {
        type: 'exponentialHistogram', attributes: [], startTimeUnixNano: at(-60), timeUnixNano: at(30), flags: 0, count: 4, sum: 5, scale: 0,
        zeroCount: 1, zeroThreshold: 0, positive: { offset: 0, bucketCounts: [2, 1] }, negative: { offset: 0, bucketCounts: [] }, exemplars: [],
      }),
    ]);
    await waitFor(() => query(prom, 'eh_lat_seconds_count'), (r) => r[0]?.value?.[1] === '4', 'the second histogram');
    assert.equal(ex.lines.filter((l) => /takes no native histograms/.test(String(l.msg))).length, 1);
  });

  test('an out-of-order sample is left out alone: the newer samples of its series in the same request arrive', async () => {
    await ex.exporter.consume([gauge('ooo.g', 60, 1)]);
    await waitFor(() => query(prom, 'ooo_g'), (r) => r.length === 1, 'the first sample');
    // One batch: ooo.g at 30 s (older than what Prometheus has: refused) and at 90 s (newer), plus another series.
    await ex.exporter.consume([gauge('ooo.g', 30, 2), gauge('ooo.g', 90, 3), gauge('ooo.other', 30, 4)]);
    await waitFor(() => query(prom, 'ooo_other'), (r) => r.length === 1, 'the other series');
    const kept = await query(prom, 'ooo_g[5m]');
    assert.deepEqual(kept[0]!.values!.map(([t, v]) => [t * 1000 - B, v]), [[60_000, '1'], [90_000, '3']]);
    assert.equal(ex.metric('teleql_prometheus_refused_samples_total'), 1);
  });

  test('a counter that restarted above its last value: increase() counts what the new process counted', async () => {
    const counter = (start: number, t: number, value: number) =>
      of({ name: 'rst.c', type: 'sum', isMonotonic: true }, { type: 'number', attributes: [], startTimeUnixNano: at(start), timeUnixNano: at(t), flags: 0, asDouble: value, exemplars: [] });
    await ex.exporter.consume([counter(-600, 120, 90), counter(-600, 180, 100)]);
    await waitFor(() => query(prom, 'rst_c_total', B / 1000 + 200), (r) => r.length === 1, 'the first process');
    // The process restarted at 235 s and counted 150 by 240 s.
    await ex.exporter.consume([counter(235, 240, 150)]);
    await waitFor(() => query(prom, 'rst_c_total', B / 1000 + 250), (r) => r[0]?.value?.[1] === '150', 'the restarted process');
    const samples = await query(prom, 'rst_c_total[5m]', B / 1000 + 250);
    assert.deepEqual(samples[0]!.values!.map(([t, v]) => [t * 1000 - B, v]), [[120_000, '90'], [180_000, '100'], [239_999, '0'], [240_000, '150']]);
    // PromQL sees the restart as a reset (before: 100 → 150 read as +50).
    const [resets] = await query(prom, 'resets(rst_c_total[5m])', B / 1000 + 250);
    assert.equal(resets!.value![1], '1');
    assert.equal(ex.metric('teleql_prometheus_start_resets_total'), 1);
  });

  test('a summary without quantile values reads back as a summary', async () => {
    const summary = (t: number, count: number, sum: number) =>
      of({ name: 'sq.noq', unit: 'ms', type: 'summary' }, { type: 'summary', attributes: [], startTimeUnixNano: at(-600), timeUnixNano: at(t), flags: 0, count, sum, quantileValues: [] });
    await ex.exporter.consume([summary(250, 10, 100), summary(280, 14, 160)]);
    await waitFor(() => query(prom, 'sq_noq_milliseconds_count', B / 1000 + 290), (r) => r[0]?.value?.[1] === '14', 'the summary');
    const store = createPrometheusMetricStore(createPrometheusClient({ url: prom.url, timeoutMs: 10_000 }));
    const series = await store.querySeries('default', { name: 'sq.noq', aggregation: 'AVG', range: { from: at(240), to: at(300) }, stepNano: 60_000n * MS });
    assert.equal(series.length, 1);
    assert.equal(series[0]!.type, 'summary');
    assert.deepEqual(series[0]!.points.map((p) => [p.count, p.sum, p.value]), [[4, 60, 15]]);
    const names = await store.metricNames('default', { from: at(0), to: at(300) });
    assert.deepEqual(names.filter((n) => n.name.startsWith('sq_noq')).map((n) => [n.name, n.type]), [['sq_noq_milliseconds', 'summary']]);
  });
});
