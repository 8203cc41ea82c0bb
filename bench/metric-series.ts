// npm run bench:metric-series: metricSeries against the DuckDB store, in-process (no GraphQL, no
// HTTP). A file store gets `--series` (20) series of each kind, one point every 10 s for `--hours`
// (24): a cumulative counter (the baseline: bucketed in SQL), a cumulative explicit histogram with
// 12 bounds and a delta one (both subtracted or added up in JS, histogram-steps.ts). Then each query
// shape runs `--runs` (5) times over the whole range (about 250 steps) and over its last hour;
// printed: median wall ms and process CPU ms per query, and the ratio to the counter's RATE. The
// last two shapes combine the series into one (groupBy: []).
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/logger.ts';
import type { MetricPoint } from '../src/model/telemetry.ts';
import { openDuckDbStore } from '../src/stores/duckdb/index.ts';
import type { SeriesQuery } from '../src/stores/types.ts';
import { arg, fmt, machine, percentile } from './lib.ts';

const SERIES = arg('series', 20);
const HOURS = arg('hours', 24);
const RUNS = arg('runs', 5);
const SEC = 1_000_000_000n;
const BOUNDS = [5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000];

const dir = mkdtempSync(join(tmpdir(), 'teleql-bench-series-'));
const store = await openDuckDbStore({ path: join(dir, 'store.duckdb'), logger: silentLogger(), threads: 1 });
const end = BigInt(Date.now()) * 1_000_000n;
const points = (HOURS * 3600) / 10;
const start = end - BigInt(points) * 10n * SEC;
const resource = (s: number) => ({ attributes: [{ key: 'service.name', value: { stringValue: `svc-${s}` } }], droppedAttributesCount: 0, schemaUrl: '' });
const scope = { name: 'bench', version: '', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
const metric = (name: string, type: MetricPoint['metric']['type'], temporality: 0 | 1 | 2) =>
  ({ name, description: '', unit: 'ms', type, aggregationTemporality: temporality, isMonotonic: type === 'sum', metadata: [] });

console.log(`machine: ${machine()}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const writeStarted = performance.now();
for (let s = 0; s < SERIES; s++) {
  const batch: MetricPoint[] = [];
  const cumulative = new Array<number>(BOUNDS.length + 1).fill(0);
  let total = 0;
  let sum = 0;
  for (let i = 0; i < points; i++) {
    const t = start + BigInt(i + 1) * 10n * SEC;
    const delta = BOUNDS.map((_, b) => (i * 7 + b * 3 + s) % 11).concat([(i + s) % 3]);
    const deltaCount = delta.reduce((a, b) => a + b, 0);
    const deltaSum = delta.reduce((a, c, b) => a + c * (BOUNDS[b] ?? 6000) * 0.8, 0);
    delta.forEach((c, b) => (cumulative[b]! += c));
    total += deltaCount;
    sum += deltaSum;
    const base = { attributes: [], flags: 0, timeUnixNano: t };
    batch.push(
      { tenant: 'bench', resource: resource(s), scope, metric: metric('requests', 'sum', 2), point: { type: 'number', ...base, startTimeUnixNano: start, asDouble: total, exemplars: [] } },
      { tenant: 'bench', resource: resource(s), scope, metric: metric('latency.cumulative', 'histogram', 2), point: { type: 'histogram', ...base, startTimeUnixNano: start, count: total, sum, bucketCounts: [...cumulative], explicitBounds: BOUNDS, exemplars: [] } },
      { tenant: 'bench', resource: resource(s), scope, metric: metric('latency.delta', 'histogram', 1), point: { type: 'histogram', ...base, startTimeUnixNano: t - 10n * SEC, count: deltaCount, sum: deltaSum, bucketCounts: delta, explicitBounds: BOUNDS, exemplars: [] } },
    );
  }
  await store.writer.writeMetrics(batch);
}
console.log(`wrote ${fmt(SERIES * points * 3, 0)} points (${SERIES} series × 3 kinds × ${fmt(points, 0)}) in ${fmt((performance.now() - writeStarted) / 1000)} s`);

const shapes: [string, Omit<SeriesQuery, 'range' | 'stepNano'>][] = [
  ['counter RATE (baseline)', { name: 'requests', aggregation: 'RATE' }],
  ['cumulative histogram AVG', { name: 'latency.cumulative', aggregation: 'AVG' }],
  ['cumulative histogram p95', { name: 'latency.cumulative', aggregation: 'AVG', quantile: 0.95 }],
  ['delta histogram AVG', { name: 'latency.delta', aggregation: 'AVG' }],
  ['delta histogram p95', { name: 'latency.delta', aggregation: 'AVG', quantile: 0.95 }],
  // Every series combined into one (groupBy: []), as a dashboard panel of a whole service plots.
  ['counter RATE, groupBy []', { name: 'requests', aggregation: 'RATE', groupBy: [] }],
  ['cumulative histogram p95, groupBy []', { name: 'latency.cumulative', aggregation: 'AVG', quantile: 0.95, groupBy: [] }],
];
const ranges: [string, bigint][] = [[`${HOURS} h`, start], ['last 1 h', end - 3600n * SEC]];
for (const [rangeName, from] of ranges) {
  const stepNano = (((end - from) / 250n + SEC - 1n) / SEC) * SEC;
  console.log(`\n${rangeName}, step ${stepNano / SEC} s, ${SERIES} series per query:`);
  console.log('| query | wall ms (median) | CPU ms (median) | points per series | vs baseline |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  let baseline = 0;
  for (const [name, shape] of shapes) {
    const wall: number[] = [];
    const cpu: number[] = [];
    let perSeries = 0;
    for (let r = 0; r < RUNS + 1; r++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const result = await store.metrics.querySeries('bench', { ...shape, range: { from, to: end }, stepNano });
      const dt = performance.now() - t0;
      const c = process.cpuUsage(c0);
      perSeries = result[0]?.points.length ?? 0;
      const expected = shape.groupBy ? 1 : SERIES;
      if (result.length !== expected) throw new Error(`${name}: ${result.length} series, expected ${expected}`);
      if (r === 0) continue; // the first run warms DuckDB's buffer pool
      wall.push(dt);
      cpu.push((c.user + c.system) / 1000);
    }
    wall.sort((a, b) => a - b);
    cpu.sort((a, b) => a - b);
    const med = percentile(wall, 50);
    if (baseline === 0) baseline = med;
    console.log(`| ${name} | ${fmt(med)} | ${fmt(percentile(cpu, 50))} | ${perSeries} | ×${fmt(med / baseline, 2)} |`);
  }
}
await store.close();
rmSync(dir, { recursive: true, force: true });
