// metricSeries, metricPoints and metrics read from a real Prometheus, answered as the DuckDB store
// answers the same data (found by QA): grouping by service.namespace (only job's prefix holds it), a
// label filter with an empty value, one OTel name written with two units, the time range of
// `metrics`, names starting with a digit, units with a `per` word, and a lone UTF-16 surrogate in a
// filter value. Points at known past times go in through the gateway (written to DuckDB and Prometheus).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { prometheusAvailable, startPrometheus, writingAndReadingPrometheus, type PrometheusServer } from '../helpers/prometheus-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { createPrometheusClient } from '../../src/stores/prometheus/client.ts';
import { createPrometheusMetricStore } from '../../src/stores/prometheus/metric-store.ts';
import type { PromQlStore } from '../../src/stores/prometheus/types.ts';
import { StoreError, type MetricSeries, type MetricStore, type SeriesQuery } from '../../src/stores/types.ts';

const skip = prometheusAvailable() ? false : 'needs /usr/bin/prometheus (apt-get install prometheus)';

const S = 1_000_000_000n;
/** Whole minutes, 30 minutes ago: within what a fresh Prometheus accepts. */
const B = BigInt(Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000) * 1_000_000n;
const at = (seconds: number): string => String(B + BigInt(seconds) * S);
const TRACE = '0af7651916cd43dd8448eb211c80319c';

const attrs = (o: Record<string, string>) => Object.entries(o).map(([key, v]) => ({ key, value: { stringValue: v } }));
const gauge = (name: string, unit: string, t: number, value: number, pointAttrs: Record<string, string> = {}, exemplar = false) => ({
  name, unit,
  gauge: {
    dataPoints: [{
      attributes: attrs(pointAttrs), timeUnixNano: at(t), asDouble: value,
      ...(exemplar && { exemplars: [{ timeUnixNano: at(t), asDouble: value, traceId: Buffer.from(TRACE, 'hex').toString('base64'), spanId: Buffer.from('b7ad6b7169203331', 'hex').toString('base64') }] }),
    }],
  },
});
/** An exponential histogram (a native histogram in Prometheus) with `k` more observations in (1, 2] every 15 s. */
const nativeHistogram = (k: number) => ({
  name: 'rn.eh', unit: 's',
  exponentialHistogram: {
    aggregationTemporality: 2,
    dataPoints: [0, 15, 30, 45].map((t, j) => ({
      attributes: [], startTimeUnixNano: at(-3600), timeUnixNano: at(t), count: String(k * (j + 1)), sum: 1.5 * k * (j + 1),
      scale: 0, zeroCount: '0', positive: { offset: 0, bucketCounts: ['0', String(k * (j + 1))] }, negative: { offset: 0, bucketCounts: [] },
    })),
  },
});
const resource = (resourceAttrs: Record<string, string>, metrics: unknown[]) => ({ resource: { attributes: attrs(resourceAttrs) }, scopeMetrics: [{ scope: { name: 'rn' }, metrics }] });

describe('metrics read from Prometheus, as DuckDB answers them', { skip }, () => {
  let prom: PrometheusServer;
  let gw: TestGateway;
  let fromPrometheus: MetricStore & PromQlStore;
  let embedded: MetricStore;

  before(async () => {
    prom = await startPrometheus();
    gw = await startGateway(writingAndReadingPrometheus(prom));
    fromPrometheus = createPrometheusMetricStore(createPrometheusClient({ url: prom.url, timeoutMs: 10_000 }));
    embedded = gw.app.internals.store()!.metrics;
    const body = {
      // JSON.stringify writes a lone surrogate as the escape `\ud800`, which the gateway decodes as one.
      resourceMetrics: [
        resource({ 'service.name': 'c', 'service.namespace': 'a/b' }, [gauge('rn.ns', '', 10, 1, {}, true), nativeHistogram(1)]),
        resource({ 'service.name': 'api', 'service.namespace': 'team' }, [gauge('rn.ns', '', 10, 2), nativeHistogram(2)]),
        resource({ 'service.name': 'plain' }, [gauge('rn.ns', '', 10, 4), nativeHistogram(4)]),
        resource({ 'service.name': 'old-svc', 'host.name': 'h1' }, [gauge('rn.lat', 'ms', 10, 1500), gauge('rn.early', '', 0, 1)]),
        resource({ 'service.name': 'new-svc' }, [gauge('rn.lat', 's', 10, 1.5), gauge('rn.late', '', 300, 1)]),
        resource({ 'service.name': 'misc' }, [gauge('5xx.errors', '', 10, 7), gauge('rn.speed', 'm/s', 10, 3), gauge('rn.rate', '1/s', 10, 5), gauge('rn.sur', '', 10, 9, { q: 'a\ud800b' })]),
      ],
    };
    const res = await fetch(`${gw.otlpHttp}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200, await res.text());
    const check = 'count(last_over_time({__name__=~"rn_.+|_5xx_errors"}[15m])) == 14';
    await waitFor(async () => (await fromPrometheus.promql('default', { query: check, time: B + 600n * S, exemplars: false })).series.length, (n) => n > 0, check, 30_000);
    await waitFor(async () => (await embedded.metricNames('default')).length, (n) => n >= 8, 'names in DuckDB', 30_000);
  });

  after(async () => {
    await gw?.stop();
    await prom?.destroy();
  });

  const q = (name: string, more: Partial<SeriesQuery> = {}): SeriesQuery => ({ name, aggregation: 'LAST', range: { from: B, to: B + 60n * S }, stepNano: 60n * S, ...more });
  /** Each series as `unit labels: values`, labels named as the store names them. */
  const shown = (series: MetricSeries[]) => series.map((s) => `${s.unit} ${JSON.stringify(s.labels)}: ${s.points.map((p) => p.value).join(',')}`);

  test('groupBy service.namespace groups by the namespace in job, as DuckDB groups by the resource attribute', async () => {
    const groupBy = ['service.namespace'];
    const prom = await fromPrometheus.querySeries('default', q('rn.ns', { aggregation: 'SUM', groupBy }));
    assert.deepEqual(shown(prom).sort(), [' {"service_namespace":"a/b"}: 1', ' {"service_namespace":"team"}: 2', ' {}: 4']);
    // The exemplar of a/b's series is in a/b's group.
    assert.deepEqual(Object.fromEntries(prom.map((s) => [s.labels.service_namespace ?? '', s.exemplars.map((e) => e.traceId)])), { 'a/b': [TRACE], team: [], '': [] });
    assert.deepEqual(shown(await embedded.querySeries('default', q('rn.ns', { aggregation: 'SUM', groupBy }))).sort(), [' {"service.namespace":"a/b"}: 1', ' {"service.namespace":"team"}: 2', ' {}: 4']);
  });

  test('groupBy service.namespace of an exponential histogram: counts per namespace; a quantile is refused', async () => {
    // One service per namespace, so the groups hold what grouping by service.name holds.
    const values = async (groupBy: string) =>
      (await fromPrometheus.querySeries('default', q('rn.eh', { aggregation: 'COUNT', groupBy: [groupBy] }))).map((s) => s.points.map((p) => p.value)).sort();
    const byName = await values('service.name');
    assert.equal(byName.length, 3);
    assert.ok(byName.every((v) => v.length === 1 && v[0]! > 0), JSON.stringify(byName));
    assert.deepEqual(await values('service.namespace'), byName);
    await assert.rejects(
      fromPrometheus.querySeries('default', q('rn.eh', { aggregation: 'AVG', quantile: 0.5, groupBy: ['service.namespace'] })),
      (err: unknown) => err instanceof StoreError && err.code === 'BAD_QUERY' && err.message.includes('cannot be grouped by service.namespace'),
    );
  });

  test('a label filter with an empty value is refused, as Prometheus cannot tell it from a missing label', async () => {
    for (const labels of [{ 'host.name': '' }, { 'service.name': '' }, { nonexistent: '' }] as Record<string, string>[]) {
      const refused = (err: unknown) => err instanceof StoreError && err.code === 'BAD_QUERY' && err.message.includes('empty value');
      await assert.rejects(fromPrometheus.querySeries('default', q('rn.lat', { labels })), refused);
      await assert.rejects(fromPrometheus.points('default', 'rn.lat', { from: B, to: B + 60n * S }, 10, labels), refused);
      // DuckDB matches no series without the attribute.
      assert.deepEqual(await embedded.querySeries('default', q('rn.lat', { labels })), []);
    }
  });

  test('one OTel name written with two units answers the series of both, each with its unit', async () => {
    assert.deepEqual(shown(await fromPrometheus.querySeries('default', q('rn.lat'))), ['s {"job":"new-svc","otel_scope_name":"rn"}: 1.5', 'ms {"job":"old-svc","otel_scope_name":"rn"}: 1500']);
    assert.deepEqual(shown(await embedded.querySeries('default', q('rn.lat'))).sort(), [
      'ms {"service.name":"old-svc","otel.scope.name":"rn"}: 1500',
      's {"service.name":"new-svc","otel.scope.name":"rn"}: 1.5',
    ]);
    const points = await fromPrometheus.points('default', 'rn.lat', { from: B, to: B + 60n * S }, 10);
    assert.deepEqual(points.map((p) => `${p.metric.name} ${p.metric.unit}`).sort(), ['rn_lat_milliseconds ms', 'rn_lat_seconds s']);
  });

  test('metrics(from, to) lists the names with samples in the range', async () => {
    const names = async (store: MetricStore, from: number, to: number) =>
      (await store.metricNames('default', { from: B + BigInt(from) * S, to: B + BigInt(to) * S })).map((m) => m.name).filter((n) => /^rn.(early|late)$/.test(n));
    assert.deepEqual(await names(fromPrometheus, 200, 400), ['rn_late']);
    assert.deepEqual(await names(embedded, 200, 400), ['rn.late']);
    // Both ends are in the range.
    assert.deepEqual(await names(fromPrometheus, 0, 300), ['rn_early', 'rn_late']);
    assert.deepEqual(await names(embedded, 0, 300), ['rn.early', 'rn.late']);
    assert.deepEqual(await names(fromPrometheus, 600, 700), []);
    // Without a range: all stored names.
    assert.ok((await fromPrometheus.metricNames('default')).some((m) => m.name === 'rn_early'));
  });

  test('a name starting with a digit reads back by its OTel name, and rate units by their `per` word', async () => {
    for (const store of [fromPrometheus, embedded]) {
      assert.deepEqual(shown(await store.querySeries('default', q('5xx.errors'))).map((s) => s.replace(/ \{.*\}/, '')), [': 7']);
      assert.deepEqual(shown(await store.querySeries('default', q('rn.speed'))).map((s) => s.replace(/ \{.*\}/, '')), ['m/s: 3']);
      assert.deepEqual(shown(await store.querySeries('default', q('rn.rate'))).map((s) => s.replace(/ \{.*\}/, '')), ['1/s: 5']);
    }
    const units = Object.fromEntries((await fromPrometheus.metricNames('default')).map((m) => [m.name, m.unit]));
    assert.deepEqual([units.rn_speed_meters_per_second, units.rn_rate_per_second, units.rn_lat_milliseconds], ['m/s', '1/s', 'ms']);
  });

  test('a lone surrogate in a filter value matches the U+FFFD the value was stored with, as in DuckDB', async () => {
    for (const value of ['a\ud800b', 'a\ufffdb']) {
      for (const store of [fromPrometheus, embedded]) {
        const series = await store.querySeries('default', q('rn.sur', { labels: { q: value } }));
        assert.deepEqual(series.map((s) => [s.labels.q, s.points[0]?.value]), [['a\ufffdb', 9]], `${store.backend} ${JSON.stringify(value)}`);
      }
    }
  });
});
