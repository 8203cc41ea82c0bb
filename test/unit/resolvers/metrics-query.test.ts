import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MetricSeriesDocument } from '../../generated/graphql.ts';
import { formatTimestamp } from '../../../resolvers/time.ts';
import { errorCodes, openHarness, type Harness } from './harness.ts';
import { A_ROOT, B_ROOT, BASE, TRACE_A, TRACE_B } from './telemetry-fixture.ts';

const MS = 1_000_000n;
const FROM = formatTimestamp(BASE - 60_000n * MS);
const TO = formatTimestamp(BASE + 60_000n * MS);

let h: Harness;
before(async () => {
  h = await openHarness();
});
after(() => h.close());

describe('metricSeries', () => {
  test('returns one series per label set with points and exemplars that lead to their trace and span', async () => {
    const { data, errors } = await h.run(MetricSeriesDocument, {
      name: 'system.cpu.utilization',
      labels: { cpu: '0' },
      from: FROM,
      to: TO,
      step: '1m',
      aggregation: 'MAX',
    });
    assert.equal(errors, undefined, JSON.stringify(errors));
    assert.equal(data!.metricSeries!.length, 1);
    const series = data!.metricSeries![0]!;
    assert.equal(series.name, 'system.cpu.utilization');
    assert.equal(series.type, 'GAUGE');
    assert.equal(series.unit, '1');
    assert.equal((series.labels as Record<string, string>).cpu, '0');
    const values = series.points.filter((p) => p.value !== null).map((p) => p.value);
    assert.ok(values.length > 0);
    assert.equal(Math.max(...(values as number[])), 0.75);
    for (const p of series.points) {
      assert.match(p.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      assert.equal(Math.floor(p.timeMs), Date.parse(p.time));
    }
    const exemplars = [...series.exemplars].sort((a, b) => a.value! - b.value!);
    assert.deepEqual(
      exemplars.map((e) => [e.value, e.traceId, e.spanId, e.trace?.traceId, e.trace?.rootSpan?.name, e.span?.name]),
      [
        [0.25, TRACE_A, A_ROOT, TRACE_A, 'GET /cart', 'GET /cart'],
        [0.75, TRACE_B, B_ROOT, TRACE_B, 'POST /pay', 'POST /pay'],
      ],
    );
    assert.equal(exemplars[0]!.time, formatTimestamp(BASE));
    assert.deepEqual(exemplars[0]!.filteredAttributes, { 'user.id': 42 });
  });

  test('without labels returns every series, and labels match resource attributes too', async () => {
    const all = await h.run(MetricSeriesDocument, { name: 'system.cpu.utilization', from: FROM, to: TO });
    assert.equal(all.data!.metricSeries!.length, 2);
    const payments = await h.run(MetricSeriesDocument, { name: 'system.cpu.utilization', labels: { 'service.name': 'payments' }, from: FROM, to: TO });
    assert.equal(payments.data!.metricSeries!.length, 1);
  });

  test('gives histogram series a count and sum per step', async () => {
    const { data, errors } = await h.run(MetricSeriesDocument, { name: 'http.server.duration', from: FROM, to: TO, step: 120_000 });
    assert.equal(errors, undefined, JSON.stringify(errors));
    const points = data!.metricSeries![0]!.points.filter((p) => p.count !== null);
    assert.deepEqual(
      points.map((p) => [p.count, p.sum]),
      [[6, 600.5]],
    );
    assert.equal(data!.metricSeries![0]!.exemplars[0]!.span!.name, 'GET /cart');
  });

  test('accepts labels, times and step as literals', async () => {
    const { data, errors } = await h.run(
      `{ metricSeries(name: "system.cpu.utilization", labels: { cpu: "1" }, from: "${FROM}", to: ${BASE / MS + 60_000n}, step: "30s", aggregation: LAST) { labels } }`,
    );
    assert.equal(errors, undefined, JSON.stringify(errors));
    assert.equal((data as { metricSeries: unknown[] }).metricSeries.length, 1);
  });

  test('takes labels with dotted keys inline as JSON text, which a GraphQL object literal cannot spell', async () => {
    const { data, errors } = await h.run(
      `{ metricSeries(name: "system.cpu.utilization", labels: "{\\"service.name\\": \\"payments\\"}", from: "${FROM}", to: "${TO}") { labels } }`,
    );
    assert.equal(errors, undefined, JSON.stringify(errors));
    assert.equal((data as { metricSeries: unknown[] }).metricSeries.length, 1);
    const notJson = await h.run(`{ metricSeries(name: "system.cpu.utilization", labels: "service.name=payments", from: "${FROM}", to: "${TO}") { labels } }`);
    assert.match(JSON.stringify(notJson.errors), /labels must be a JSON object/);
  });

  test('a bad Timestamp or Duration literal is an error that points at it (locations) and keeps its code', async () => {
    const query = `{ metricSeries(name: "m", from: "bad", to: "${TO}", step: "often") { labels } }`;
    const { errors } = await h.run(query);
    const at = (literal: string) => [{ line: 1, column: query.indexOf(literal) + 1 }];
    assert.deepEqual(
      errors!.map((e) => [e.extensions?.code, (e as { locations?: unknown }).locations]),
      [
        ['GW_BAD_TIME_RANGE', at('"bad"')],
        ['GW_BAD_ARGUMENT', at('"often"')],
      ],
    );
  });

  test('returns an empty list for an unknown metric', async () => {
    const { data, errors } = await h.run(MetricSeriesDocument, { name: 'nope', from: FROM, to: TO });
    assert.equal(errors, undefined);
    assert.deepEqual(data!.metricSeries, []);
  });

  test('rejects bad arguments with the matching code', async () => {
    const base = { name: 'system.cpu.utilization', from: FROM, to: TO };
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ ...base, from: TO, to: FROM }, 'GW_BAD_TIME_RANGE', /from is after to/],
      [{ ...base, to: 'tomorrow' }, 'GW_BAD_TIME_RANGE', /Timestamp "tomorrow" is invalid/],
      [{ ...base, labels: ['cpu'] }, 'GW_BAD_ARGUMENT', /labels must be a JSON object/],
      [{ ...base, labels: { cpu: { nested: true } } }, 'GW_BAD_ARGUMENT', /labels\.cpu must be a string/],
      // Fuzz QA: 50,000 labels planned for 34 s past the deadline.
      [{ ...base, labels: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 'v'])) }, 'GW_BAD_ARGUMENT', /labels has more than 100 labels; at most 100/],
      [{ ...base, step: '1ms' }, 'GW_BAD_ARGUMENT', /more than 11000 points/],
      [{ ...base, step: '0s' }, 'GW_BAD_ARGUMENT', /step must be greater than 0/],
      [{ ...base, step: 'often' }, 'GW_BAD_ARGUMENT', /Duration "often" is invalid/],
    ];
    for (const [variables, code, message] of cases) {
      const result = await h.run(MetricSeriesDocument, variables as never);
      assert.deepEqual(errorCodes(result), [code], JSON.stringify(variables));
      assert.match(result.errors![0]!.message, message);
    }
  });
});

describe('metricPoints', () => {
  const POINT_FIELDS = `name pointType metric { name description unit type aggregationTemporality isMonotonic metadata }
    resource { serviceName } scope { name } attributes typedAttributes { key type }
    startTime startTimeUnixNano time timeMs flags value asInt asDouble count sum min max
    bucketCounts explicitBounds scale zeroCount zeroThreshold positive { offset bucketCounts } negative { offset bucketCounts }
    quantileValues { quantile value } exemplars { value asDouble asInt traceId span { name } }`;
  const points = async (name: string) => {
    const { data, errors } = await h.run(`query($name: String!) { metricPoints(name: $name) { ${POINT_FIELDS} } }`, { name });
    assert.equal(errors, undefined, JSON.stringify(errors));
    return (data as { metricPoints: Record<string, unknown>[] }).metricPoints;
  };

  test('exposes a histogram point’s buckets, bounds, min, max and exemplars', async () => {
    const [p] = await points('http.server.duration');
    assert.deepEqual(
      { ...p, time: undefined, timeMs: undefined },
      {
        name: 'http.server.duration',
        pointType: 'HISTOGRAM',
        metric: {
          name: 'http.server.duration',
          description: 'http.server.duration description',
          unit: 'ms',
          type: 'HISTOGRAM',
          aggregationTemporality: 'CUMULATIVE',
          isMonotonic: false,
          metadata: {},
        },
        resource: { serviceName: 'checkout' },
        scope: { name: 'teleql-test' },
        attributes: { 'http.route': '/cart' },
        typedAttributes: [{ key: 'http.route', type: 'STRING' }],
        startTime: formatTimestamp(BASE),
        startTimeUnixNano: String(BASE),
        time: undefined,
        timeMs: undefined,
        flags: 0,
        value: null,
        asInt: null,
        asDouble: null,
        count: 6,
        sum: 600.5,
        min: 1.5,
        max: 400,
        bucketCounts: [1, 2, 3],
        explicitBounds: [10, 100],
        scale: null,
        zeroCount: null,
        zeroThreshold: null,
        positive: null,
        negative: null,
        quantileValues: null,
        exemplars: [{ value: 250, asDouble: 250, asInt: null, traceId: TRACE_A, span: { name: 'GET /cart' } }],
      },
    );
  });

  test('exposes an exponential histogram point’s scale, zero bucket and buckets', async () => {
    const [p] = await points('rpc.latency');
    assert.equal(p!.pointType, 'EXPONENTIAL_HISTOGRAM');
    assert.deepEqual(
      [p!.count, p!.sum, p!.scale, p!.zeroCount, p!.zeroThreshold, p!.positive, p!.negative, p!.bucketCounts],
      [4, 2.5, 2, 1, 0.001, { offset: -1, bucketCounts: [1, 2] }, { offset: 0, bucketCounts: [] }, null],
    );
    assert.equal((p!.metric as { aggregationTemporality: string }).aggregationTemporality, 'DELTA');
  });

  test('exposes a summary point’s quantiles', async () => {
    const [p] = await points('runtime.gc.pause');
    assert.equal(p!.pointType, 'SUMMARY');
    assert.deepEqual([p!.count, p!.sum, p!.quantileValues], [10, 0.5, [{ quantile: 0.5, value: 0.04 }, { quantile: 0.99, value: 0.2 }]]);
  });

  test('keeps an int point exact in asInt', async () => {
    const [p] = await points('http.server.requests');
    assert.equal(p!.pointType, 'NUMBER');
    assert.equal(p!.asInt, '9007199254740993');
    assert.equal(p!.asDouble, null);
    assert.equal(p!.value, 9007199254740992);
    assert.equal((p!.metric as { isMonotonic: boolean }).isMonotonic, true);
  });

  test('returns gauge points newest first, up to limit', async () => {
    const { data } = await h.run('{ metricPoints(name: "system.cpu.utilization", limit: 2) { timeUnixNano value } }');
    const got = (data as { metricPoints: { timeUnixNano: string; value: number }[] }).metricPoints;
    assert.equal(got.length, 2);
    assert.equal(got[0]!.value, 0.75);
    assert.ok(BigInt(got[0]!.timeUnixNano) >= BigInt(got[1]!.timeUnixNano));
  });

  test('rejects a limit above 1000', async () => {
    assert.deepEqual(errorCodes(await h.run('{ metricPoints(name: "x", limit: 1001) { value } }')), ['GW_BAD_ARGUMENT']);
  });
});

describe('metrics', () => {
  test('lists every metric with its type and unit', async () => {
    const { data, errors } = await h.run('{ metrics { name type unit description } }');
    assert.equal(errors, undefined);
    const byName = Object.fromEntries((data as { metrics: { name: string; type: string; unit: string }[] }).metrics.map((m) => [m.name, [m.type, m.unit]]));
    assert.deepEqual(byName, {
      'http.server.duration': ['HISTOGRAM', 'ms'],
      'http.server.requests': ['SUM', '{request}'],
      'rpc.latency': ['EXPONENTIAL_HISTOGRAM', 's'],
      'runtime.gc.pause': ['SUMMARY', 's'],
      'system.cpu.utilization': ['GAUGE', '1'],
    });
  });
});
