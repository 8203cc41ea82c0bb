// teleql in front of a real Prometheus (Debian package `prometheus`): metrics of every type go in
// through the real OTel SDK exporters (summaries and exemplars, which the JS SDK cannot produce,
// as an OTLP/JSON request), are written to DuckDB and Prometheus (remote write), and are read back
// through teleql's GraphQL (`metricSeries` and `promql`) from Prometheus.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AggregationTemporality, AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql, gqlData } from '../helpers/graphql-client.ts';
import { sendMetrics, sendTrace, type SentTrace } from '../helpers/otel-sdk.ts';
import { prometheusAvailable, startPrometheus, writingAndReadingPrometheus, type PrometheusServer } from '../helpers/prometheus-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import type { SeriesQuery } from '../../src/stores/types.ts';

const skip = prometheusAvailable() ? false : 'needs /usr/bin/prometheus (apt-get install prometheus)';

interface PromQl {
  promql: {
    resultType: string;
    series: { labels: Record<string, string>; points: { value: number | null }[]; exemplars: { traceId: string; spanId: string; value: number; filteredAttributes: Record<string, unknown>; trace: { traceId: string } | null }[] }[];
  };
}

const PROMQL = `query($q: String!, $from: Timestamp, $to: Timestamp, $step: Duration) {
  promql(query: $q, from: $from, to: $to, step: $step) {
    resultType
    series { labels points { time value } exemplars { traceId spanId value filteredAttributes trace { traceId } } }
  }
}`;

/**
 * A delta counter and a delta exponential histogram from the SDK, exported twice: counter 3 then 4
 * (Prometheus must see a cumulative 7); histogram 1 and 2, then 0.001 and 1000 (a wider range, so
 * the SDK sends the second delta at a lower scale: the cumulative one has all four observations).
 */
async function sendDeltaMetrics(otlpHttp: string): Promise<void> {
  const exporter = new OTLPMetricExporter({ url: `${otlpHttp}/v1/metrics`, temporalityPreference: AggregationTemporality.DELTA });
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'delta-svc', 'service.namespace': 'shop', 'service.instance.id': 'pod-7', 'host.name': 'node-a' }),
    readers: [reader],
    views: [{ instrumentName: 'jobs.duration', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('delta-meter');
  const counter = meter.createCounter('jobs.done', { unit: '{job}' });
  const duration = meter.createHistogram('jobs.duration', { unit: 's' });
  counter.add(3, { queue: 'q1' });
  duration.record(1, { queue: 'q1' });
  duration.record(2, { queue: 'q1' });
  await reader.forceFlush();
  // The next export must be a later point in time (Prometheus keeps one sample per millisecond).
  await new Promise((r) => setTimeout(r, 20));
  counter.add(4, { queue: 'q1' });
  duration.record(0.001, { queue: 'q1' });
  duration.record(1000, { queue: 'q1' });
  await reader.forceFlush();
  await provider.shutdown();
}

/** A summary and a gauge with an exemplar pointing at `trace`, as OTLP/JSON (the JS SDK has neither). */
async function sendSummaryAndExemplar(otlpHttp: string, trace: SentTrace): Promise<void> {
  const now = `${BigInt(Date.now()) * 1_000_000n}`;
  const body = {
    resourceMetrics: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'json-svc' } }] },
      scopeMetrics: [{
        scope: { name: 'json-scope' },
        metrics: [
          {
            name: 'gc.pause', unit: 'ms',
            summary: { dataPoints: [{ timeUnixNano: now, count: '10', sum: 55, quantileValues: [{ quantile: 0.5, value: 5 }, { quantile: 0.99, value: 9.5 }] }] },
          },
          {
            name: 'queue.depth', unit: '{item}',
            gauge: {
              dataPoints: [{
                timeUnixNano: now, asDouble: 12, attributes: [{ key: 'queue', value: { stringValue: 'orders' } }],
                exemplars: [{ timeUnixNano: now, asDouble: 12, traceId: trace.traceId, spanId: trace.rootSpanId, filteredAttributes: [{ key: 'user', value: { stringValue: 'u42' } }] }],
              }],
            },
          },
        ],
      }],
    }],
  };
  const res = await fetch(`${otlpHttp}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, await res.text());
}

/**
 * A cumulative histogram with two points a second apart (bounds 10, 100, 1000): between them 2
 * observations of at most 10, 4 in (10, 100] and 1 in (100, 1000], summing to 710. Every count is
 * large beside its increase, so Prometheus' increase() scales all of them by the same factor.
 */
async function sendCumulativeHistogram(otlpHttp: string): Promise<void> {
  const now = BigInt(Date.now()) * 1_000_000n;
  const point = (ago: bigint, bucketCounts: number[], sum: number, route = '/q') => ({
    startTimeUnixNano: `${now - 3_600_000_000_000n}`, timeUnixNano: `${now - ago}`,
    count: `${bucketCounts.reduce((a, b) => a + b, 0)}`, sum, bucketCounts: bucketCounts.map(String), explicitBounds: [10, 100, 1000],
    attributes: [{ key: 'route', value: { stringValue: route } }],
  });
  const body = {
    resourceMetrics: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'quantile-svc' } }] },
      scopeMetrics: [{
        scope: { name: 'quantile-scope' },
        metrics: [{
          name: 'pq.latency', unit: 'ms',
          histogram: { aggregationTemporality: 2, dataPoints: [point(2_000_000_000n, [10, 10, 10, 10], 20_000), point(1_000_000_000n, [12, 14, 11, 10], 20_710)] },
        }, {
          // Two series for groupBy: /x observed 2 of at most 10 (sum 10), /y 2 in (10, 100] (sum 100).
          name: 'pg.latency', unit: 'ms',
          histogram: {
            aggregationTemporality: 2,
            dataPoints: [
              point(2_000_000_000n, [10, 10, 10, 10], 20_000, '/x'), point(1_000_000_000n, [12, 10, 10, 10], 20_010, '/x'),
              point(2_000_000_000n, [10, 10, 10, 10], 20_000, '/y'), point(1_000_000_000n, [10, 12, 10, 10], 20_100, '/y'),
            ],
          },
        }],
      }],
    }],
  };
  const res = await fetch(`${otlpHttp}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, await res.text());
}

describe('Prometheus write and read against a real Prometheus', { skip }, () => {
  let prom: PrometheusServer;
  let gw: TestGateway;
  let trace: SentTrace;
  const from = BigInt(Date.now() - 60_000) * 1_000_000n;

  before(async () => {
    prom = await startPrometheus();
    gw = await startGateway(writingAndReadingPrometheus(prom));
    await sendMetrics('http-proto', gw, { service: 'prom-test', prefix: 'pt' });
    await sendDeltaMetrics(gw.otlpHttp);
    trace = await sendTrace('http-proto', gw, { service: 'prom-traced' });
    await sendSummaryAndExemplar(gw.otlpHttp, trace);
    await sendCumulativeHistogram(gw.otlpHttp);
    // Everything is in once the last request's series can be read back through teleql.
    await waitFor(
      () => gqlData<PromQl>(gw.graphqlUrl, PROMQL, { q: 'queue_depth + on() group_left count(gc_pause_milliseconds_count) * 0 + on() group_left count(jobs_done_total == 7) * 0 + on() group_left count(histogram_count(jobs_duration_seconds) == 4) * 0 + on() group_left count(pq_latency_milliseconds_count == 47) * 0' }),
      (d) => d.promql.series.length === 1,
      'all metrics in Prometheus',
      30_000,
    );
  });

  after(async () => {
    await gw?.stop();
    await prom?.destroy();
  });

  async function instant(q: string): Promise<PromQl['promql']['series']> {
    const d = await gqlData<PromQl>(gw.graphqlUrl, PROMQL, { q });
    assert.equal(d.promql.resultType, 'VECTOR');
    return d.promql.series;
  }

  /** `name{labels}` → value, for a whole answer. */
  async function values(q: string, key: (labels: Record<string, string>) => string): Promise<Record<string, number | null>> {
    const out: Record<string, number | null> = {};
    for (const s of await instant(q)) out[key(s.labels)] = s.points[0]!.value;
    return out;
  }

  test('a monotonic cumulative counter is <name>_total with point labels, job and scope labels', async () => {
    const series = await instant('pt_requests_total');
    assert.equal(series.length, 1);
    assert.deepEqual(series[0]!.labels, { __name__: 'pt_requests_total', job: 'prom-test', route: '/a', otel_scope_name: 'teleql-test-meter', otel_scope_version: '3.0.0' });
    assert.equal(series[0]!.points[0]!.value, 5);
  });

  test('an up-down counter is a gauge without _total; a gauge gets its unit word', async () => {
    assert.deepEqual(await values('pt_inflight', (l) => l.route!), { '/a': -2 });
    assert.deepEqual(await values('pt_temperature_celsius', (l) => l.room!), { lab: 21.5 });
  });

  test('a histogram is cumulative _bucket{le} series with +Inf, plus _sum and _count', async () => {
    assert.deepEqual(await values('pt_latency_milliseconds_bucket', (l) => l.le!), { '10': 1, '100': 2, '1000': 3, '+Inf': 4 });
    assert.deepEqual(await values('pt_latency_milliseconds_count', (l) => l.route!), { '/a': 4 });
    assert.deepEqual(await values('pt_latency_milliseconds_sum', (l) => l.route!), { '/a': 5555 });
    // Prometheus computes quantiles from what was written: rank 2 of 4 is the top of the (10, 100] bucket.
    assert.deepEqual(await values('histogram_quantile(0.5, pt_latency_milliseconds_bucket)', (l) => l.route!), { '/a': 100 });
  });

  test('an exponential histogram is a native histogram with the same count and sum', async () => {
    assert.deepEqual(await values('histogram_count(pt_exp_latency_milliseconds)', (l) => l.job!), { 'prom-test': 4 });
    assert.deepEqual(await values('histogram_sum(pt_exp_latency_milliseconds)', (l) => l.job!), { 'prom-test': 15 });
    // 1, 2, 4, 8: half the observations are at most 2.
    const [q] = await instant('histogram_quantile(0.5, pt_exp_latency_milliseconds)');
    assert.ok(q!.points[0]!.value! >= 1 && q!.points[0]!.value! <= 2.01, `median ${q!.points[0]!.value}`);
  });

  test('a delta counter is summed into a cumulative one; job is namespace/name, instance the instance id', async () => {
    const series = await instant('jobs_done_total');
    assert.deepEqual(series.map((s) => [s.labels, s.points[0]!.value]), [
      [{ __name__: 'jobs_done_total', job: 'shop/delta-svc', instance: 'pod-7', queue: 'q1', otel_scope_name: 'delta-meter' }, 7],
    ]);
  });

  test('a delta exponential histogram whose scale changes is summed into one cumulative native histogram', async () => {
    assert.deepEqual(await values('histogram_count(jobs_duration_seconds)', (l) => l.queue!), { q1: 4 });
    assert.deepEqual(await values('histogram_sum(jobs_duration_seconds)', (l) => l.queue!), { q1: 1003.001 });
    // Two of the four observations are at most 1, so the median is at the top of 1's bucket.
    const [median] = await instant('histogram_quantile(0.5, jobs_duration_seconds)');
    assert.ok(median!.points[0]!.value! > 0.5 && median!.points[0]!.value! <= 1.01, `median ${median!.points[0]!.value}`);
  });

  test('target_info carries the other resource attributes, keyed by job and instance', async () => {
    const series = await instant('target_info{job="shop/delta-svc"}');
    assert.equal(series.length, 1);
    assert.deepEqual(series[0]!.labels, { __name__: 'target_info', job: 'shop/delta-svc', instance: 'pod-7', host_name: 'node-a' });
    // Joining on it filters by a resource attribute, as the specification intends.
    const joined = await instant('jobs_done_total * on(job, instance) group_left(host_name) target_info');
    assert.equal(joined[0]!.labels.host_name, 'node-a');
  });

  test('a summary is {quantile} series plus _sum and _count', async () => {
    assert.deepEqual(await values('gc_pause_milliseconds', (l) => l.quantile!), { '0.5': 5, '0.99': 9.5 });
    assert.deepEqual(await values('gc_pause_milliseconds_count', (l) => l.job!), { 'json-svc': 10 });
    assert.deepEqual(await values('gc_pause_milliseconds_sum', (l) => l.job!), { 'json-svc': 55 });
  });

  test('exemplars come back on their series with trace and span IDs, and resolve to the trace', async () => {
    const to = BigInt(Date.now() + 60_000) * 1_000_000n;
    const d = await gqlData<PromQl>(gw.graphqlUrl, PROMQL, { q: 'queue_depth', from: String(from), to: String(to), step: '15s' });
    assert.equal(d.promql.resultType, 'MATRIX');
    assert.equal(d.promql.series.length, 1);
    const [e] = d.promql.series[0]!.exemplars;
    assert.ok(e, 'an exemplar');
    assert.equal(e.traceId, trace.traceId);
    assert.equal(e.spanId, trace.rootSpanId);
    assert.equal(e.value, 12);
    assert.deepEqual(e.filteredAttributes, { user: 'u42' });
    // Traces are read from DuckDB; the exemplar's trace is the one the SDK sent.
    assert.equal(e.trace?.traceId, trace.traceId);
  });

  test('metricSeries reads from Prometheus by OTel name: counters, gauges, histograms, native histograms', async () => {
    const to = BigInt(Date.now() + 1_000) * 1_000_000n;
    const q = `query($name: String!, $from: Timestamp!, $to: Timestamp!, $agg: Aggregation, $labels: JSON) {
      metricSeries(name: $name, from: $from, to: $to, step: "10m", aggregation: $agg, labels: $labels) {
        name type unit labels points { value count sum } exemplars { traceId }
      }
    }`;
    type R = { metricSeries: { name: string; type: string; unit: string; labels: Record<string, string>; points: { value: number | null; count: number | null; sum: number | null }[]; exemplars: { traceId: string }[] }[] };
    const last = (r: R) => r.metricSeries.map((s) => ({ type: s.type, unit: s.unit, labels: s.labels, last: s.points.at(-1) }));

    const counter = await gqlData<R>(gw.graphqlUrl, q, { name: 'pt.requests', from: String(from), to: String(to), agg: 'LAST' });
    assert.deepEqual(last(counter), [{ type: 'SUM', unit: '', labels: { job: 'prom-test', route: '/a', otel_scope_name: 'teleql-test-meter', otel_scope_version: '3.0.0' }, last: { value: 5, count: null, sum: null } }]);

    const gauge = await gqlData<R>(gw.graphqlUrl, q, { name: 'pt.temperature', from: String(from), to: String(to), agg: 'MAX', labels: { 'service.name': 'prom-test' } });
    assert.equal(gauge.metricSeries[0]!.type, 'GAUGE');
    assert.equal(gauge.metricSeries[0]!.unit, 'Cel');
    assert.equal(gauge.metricSeries[0]!.points.at(-1)!.value, 21.5);

    // A histogram's step is what it observed during the step: the SDK exported the same histogram
    // twice (on flush and on shutdown), so nothing was observed between its samples.
    const unchanged = await gqlData<R>(gw.graphqlUrl, q, { name: 'pt.latency', from: String(from), to: String(to) });
    assert.deepEqual(unchanged.metricSeries.map((s) => [s.type, s.unit, s.points.filter((p) => p.count !== null)]), [['HISTOGRAM', 'ms', [{ value: null, count: 0, sum: 0 }]]]);
    const native = await gqlData<R>(gw.graphqlUrl, q, { name: 'pt.exp_latency', from: String(from), to: String(to) });
    assert.equal(native.metricSeries[0]!.type, 'EXPONENTIAL_HISTOGRAM');

    const withExemplar = await gqlData<R>(gw.graphqlUrl, q, { name: 'queue.depth', from: String(from), to: String(to), labels: { queue: 'orders' } });
    assert.deepEqual(withExemplar.metricSeries[0]!.exemplars, [{ traceId: trace.traceId }]);

    const unknown = await gqlData<R>(gw.graphqlUrl, q, { name: 'no.such.metric', from: String(from), to: String(to) });
    assert.deepEqual(unknown.metricSeries, []);
  });

  test('metricSeries gives histogram steps their observations and quantiles, as DuckDB does', async () => {
    const to = BigInt(Date.now() + 1_000) * 1_000_000n;
    const q = `query($name: String!, $from: Timestamp!, $to: Timestamp!, $agg: Aggregation, $quantile: Float) {
      metricSeries(name: $name, from: $from, to: $to, step: "10m", aggregation: $agg, quantile: $quantile) { labels points { value count sum } }
    }`;
    type R = { metricSeries: { labels: Record<string, string>; points: { value: number | null; count: number | null; sum: number | null }[] }[] };
    const step = async (name: string, vars: Record<string, unknown> = {}) => {
      const d = await gqlData<R>(gw.graphqlUrl, q, { name, from: String(from), to: String(to), ...vars });
      assert.equal(d.metricSeries.length, 1, JSON.stringify(d));
      return d.metricSeries[0]!.points.filter((p) => p.count !== null);
    };
    const embedded = async (name: string, extra: Partial<SeriesQuery> = {}) =>
      (await gw.app.internals.store()!.metrics.querySeries('default', { name, aggregation: 'AVG', range: { from, to }, stepNano: 600_000_000_000n, ...extra }))[0]!.points;

    // increase() extrapolates the count and sum alike, so the mean and the quantiles are exact.
    const [mean] = await step('pq.latency');
    assert.ok(mean!.count! >= 7 && Math.abs(mean!.sum! / mean!.count! - 710 / 7) < 1e-9, JSON.stringify(mean));
    assert.ok(Math.abs(mean!.value! - 710 / 7) < 1e-9);
    const [median] = await step('pq.latency', { quantile: 0.5 });
    assert.ok(Math.abs(median!.value! - 43.75) < 1e-9, `median ${median!.value}`);
    const [rate] = await step('pq.latency', { agg: 'RATE' });
    // The one step ends after `to`, so the rate is over its part up to `to`, not the whole 10 minutes.
    assert.ok(Math.abs(rate!.value! - mean!.count! / (Number(to + 1n - from) / 1e9)) < 1e-9, `rate ${rate!.value}`);
    // DuckDB reads the same points exactly: 7 observations, the same mean and median.
    const [exact] = (await embedded('pq.latency')).filter((p) => p.count !== undefined);
    assert.deepEqual([exact!.count, exact!.sum, exact!.value], [7, 710, 710 / 7]);
    assert.equal((await embedded('pq.latency', { quantile: 0.5 })).find((p) => p.value !== null)?.value, 43.75);

    // A delta exponential histogram, summed into a native one: the step saw 0.001 and 1000.
    const [nativeMean] = await step('jobs.duration');
    assert.ok(Math.abs(nativeMean!.value! - 1000.001 / 2) < 1e-9, JSON.stringify(nativeMean));
    const [p99] = await step('jobs.duration', { quantile: 0.99 });
    assert.ok(p99!.value! > 500 && p99!.value! <= 1100, `p99 ${p99!.value}`);

    // A summary answers the quantiles it carries.
    const summary = await gqlData<R>(gw.graphqlUrl, q, { name: 'gc.pause', from: String(from), to: String(to), quantile: 0.99 });
    assert.equal(summary.metricSeries[0]!.points.find((p) => p.value !== null)?.value, 9.5);

    for (const [vars, pattern] of [
      [{ agg: 'MAX' }, /pq.latency is a histogram: .*aggregation MAX does not apply/],
      [{ name: 'pt.requests', quantile: 0.5 }, /quantile applies to histograms and summaries only/],
    ] as const) {
      const r = await gql(gw.graphqlUrl, q, { name: 'pq.latency', from: String(from), to: String(to), ...vars });
      assert.equal(r.errors?.[0]?.extensions?.code, 'GW_BAD_FILTER', JSON.stringify(r));
      assert.match(r.errors![0]!.message, pattern);
    }
  });

  test('metricSeries groupBy adds up a group’s series in PromQL (sum by), as DuckDB does', async () => {
    const to = BigInt(Date.now() + 1_000) * 1_000_000n;
    const q = `query($name: String!, $from: Timestamp!, $to: Timestamp!, $agg: Aggregation, $quantile: Float, $groupBy: [String!]) {
      metricSeries(name: $name, from: $from, to: $to, step: "10m", aggregation: $agg, quantile: $quantile, groupBy: $groupBy) { labels points { value count sum } }
    }`;
    type R = { metricSeries: { labels: Record<string, string>; points: { value: number | null; count: number | null; sum: number | null }[] }[] };
    const steps = async (vars: Record<string, unknown>) =>
      (await gqlData<R>(gw.graphqlUrl, q, { name: 'pg.latency', from: String(from), to: String(to), ...vars })).metricSeries.map((s) => [s.labels, s.points.filter((p) => p.count !== null).map((p) => p.value)]);
    const embedded = async (extra: Partial<SeriesQuery>) =>
      (await gw.app.internals.store()!.metrics.querySeries('default', { name: 'pg.latency', aggregation: 'AVG', range: { from, to }, stepNano: 600_000_000_000n, ...extra })).map((s) => [s.labels, s.points.filter((p) => p.count !== undefined).map((p) => p.value)]);
    const close = (got: unknown[], want: [Record<string, string>, number][]) =>
      assert.ok(got.length === want.length && want.every(([labels, v], i) => {
        const [l, [x]] = got[i] as [Record<string, string>, number[]];
        return JSON.stringify(l) === JSON.stringify(labels) && Math.abs(x! - v) < 1e-9;
      }), JSON.stringify(got));
    // Merged: 4 observations summing to 110; buckets (0,10]: 2, (10,100]: 2.
    close(await steps({ groupBy: [] }), [[{}, 27.5]]);
    close(await steps({ groupBy: [], quantile: 0.5 }), [[{}, 10]]);
    close(await steps({ groupBy: [], quantile: 0.75 }), [[{}, 55]]);
    close(await steps({ groupBy: ['route'], quantile: 0.75 }), [[{ route: '/x' }, 7.5], [{ route: '/y' }, 77.5]]);
    close(await embedded({ groupBy: [] }), [[{}, 27.5]]);
    close(await embedded({ groupBy: [], quantile: 0.75 }), [[{}, 55]]);
    close(await embedded({ groupBy: ['route'], quantile: 0.75 }), [[{ route: '/x' }, 7.5], [{ route: '/y' }, 77.5]]);
    // A counter's SUM is what it counted during each step, from its samples as they are (not
    // increase()'s extrapolation): 3 then 7, and nothing before them to count the 3 from.
    const sums = await gqlData<R>(gw.graphqlUrl, q, { name: 'jobs.done', from: String(from), to: String(to), agg: 'SUM' });
    assert.deepEqual(sums.metricSeries[0]!.points.map((p) => p.value), [4]);
    // A gauge by service: service.name is Prometheus' job.
    const gauge = await gqlData<R>(gw.graphqlUrl, q, { name: 'pt.temperature', from: String(from), to: String(to), agg: 'MAX', groupBy: ['service.name'] });
    assert.deepEqual(gauge.metricSeries.map((s) => [s.labels, s.points.at(-1)!.value]), [[{ job: 'prom-test' }, 21.5]]);
  });

  test('metrics lists the Prometheus families with their type and unit; metricPoints reads raw counter samples', async () => {
    type M = { metrics: { name: string; type: string; unit: string }[] };
    const d = await gqlData<M>(gw.graphqlUrl, '{ metrics { name type unit } }');
    const byName = Object.fromEntries(d.metrics.map((m) => [m.name, [m.type, m.unit]]));
    assert.deepEqual(byName.pt_requests_total, ['SUM', '']);
    assert.deepEqual(byName.pt_latency_milliseconds, ['HISTOGRAM', 'ms']);
    assert.deepEqual(byName.gc_pause_milliseconds, ['SUMMARY', 'ms']);
    assert.deepEqual(byName.pt_temperature_celsius, ['GAUGE', 'Cel']);
    assert.ok(!('pt_latency_milliseconds_bucket' in byName), 'buckets belong to their family');

    type P = { metricPoints: { value: number | null; attributes: Record<string, unknown> }[] };
    const p = await gqlData<P>(gw.graphqlUrl, '{ metricPoints(name: "pt.requests") { value attributes } }');
    // The SDK exports on flush and again on shutdown: one or more samples, all 5.
    assert.ok(p.metricPoints.length >= 1);
    assert.deepEqual(new Set(p.metricPoints.map((x) => x.value)), new Set([5]));
    assert.equal(p.metricPoints[0]!.attributes.route, '/a');
    const labelled = (labels: string) => gqlData<P>(gw.graphqlUrl, `{ metricPoints(name: "pt.requests", labels: ${JSON.stringify(labels)}) { value } }`);
    assert.equal((await labelled('{"route": "/a", "service.name": "prom-test"}')).metricPoints.length, p.metricPoints.length);
    assert.deepEqual((await labelled('{"route": "/b"}')).metricPoints, []);
    const r = await gql(gw.graphqlUrl, '{ metricPoints(name: "pt.latency") { value } }');
    assert.equal(r.errors?.[0]?.extensions?.code, 'GW_BAD_FILTER');
  });

  test('the same metrics were also written to DuckDB (fan-out)', async () => {
    const names = (await gw.app.internals.store()!.metrics.metricNames('default')).map((m) => m.name);
    for (const n of ['pt.requests', 'pt.latency', 'pt.exp_latency', 'jobs.done', 'gc.pause', 'queue.depth']) assert.ok(names.includes(n), `${n} in ${names}`);
  });

  test("a PromQL syntax error is GW_BAD_FILTER with Prometheus' message", async () => {
    const r = await gql(gw.graphqlUrl, PROMQL, { q: 'sum(' });
    assert.equal(r.errors?.[0]?.extensions?.code, 'GW_BAD_FILTER');
    assert.match(r.errors![0]!.message, /parse error/);
  });

  test("docs/backends.md's promql example runs as written", async () => {
    const doc = readFileSync(new URL('../../docs/backends.md', import.meta.url), 'utf8');
    const example = /```text\n(\{ promql\([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(example, 'the promql example in docs/backends.md');
    const d = await gqlData<PromQl>(gw.graphqlUrl, example);
    assert.equal(d.promql.resultType, 'MATRIX');
  });

  test('the backends query reports the Prometheus writer and reader', async () => {
    type B = { backends: { id: string; kind: string; roles: string[]; healthy: boolean; itemsWritten: number; queueDepth: number }[] };
    const d = await gqlData<B>(gw.graphqlUrl, '{ backends { id kind roles healthy itemsWritten queueDepth } }');
    const prometheus = d.backends.filter((b) => b.kind === 'prometheus').map((b) => ({ ...b, itemsWritten: b.itemsWritten > 0 }));
    assert.deepEqual(prometheus, [
      { id: 'prometheus/metrics', kind: 'prometheus', roles: ['WRITE'], healthy: true, itemsWritten: true, queueDepth: 0 },
      { id: 'prometheus/read/metrics', kind: 'prometheus', roles: ['READ'], healthy: true, itemsWritten: false, queueDepth: 0 },
    ]);
  });

  test('the exporter reports on /metrics', async () => {
    const text = await (await fetch(gw.graphqlUrl.replace('/graphql', '/metrics'))).text();
    assert.match(text, /teleql_prometheus_remote_write_samples_total\{exporter="prometheus\/metrics"\} [1-9]/);
    assert.match(text, /teleql_exporter_sent_items_total\{exporter="prometheus\/metrics",kind="prometheus",signal="metrics"\} [1-9]/);
  });
});

describe('promql without Prometheus', () => {
  test('with DuckDB as the metrics read source, promql is GW_NOT_SUPPORTED', async () => {
    const gw = await startGateway();
    try {
      const r = await gql(gw.graphqlUrl, PROMQL, { q: 'up' });
      assert.equal(r.errors?.[0]?.extensions?.code, 'GW_NOT_SUPPORTED');
      assert.match(r.errors![0]!.message, /PromQL needs Prometheus as the metrics read source/);
    } finally {
      await gw.stop();
    }
  });

  test('with Prometheus unreachable, queries are GW_BACKEND_UNAVAILABLE', async () => {
    const gw = await startGateway({ storage: { read: { metrics: 'prometheus' }, prometheus: { url: 'http://127.0.0.1:1', timeoutMs: 2_000 } } });
    try {
      const r = await gql(gw.graphqlUrl, PROMQL, { q: 'up' });
      assert.equal(r.errors?.[0]?.extensions?.code, 'GW_BACKEND_UNAVAILABLE');
      assert.match(r.errors![0]!.message, /prometheus/i);
    } finally {
      await gw.stop();
    }
  });
});
