// MetricStore over the metric_points table. Series are grouped by series_key (the sorted labels:
// the stream's service, scope and point attributes, metric-rows.ts).
// Number series are bucketed by step in SQL, so one row per series and bucket reaches JS;
// histogram-like ones need their points subtracted and merged (histogram-steps.ts), so SQL keeps
// only the points that takes: about one per series and step for cumulative series, and delta
// points added up per step unless their buckets are needed.
import { groupedValue, groupLabels, rateSeconds, seriesQueryProblem, seriesTypeProblem } from '../series-query.ts';
import { Temporality, type MetricType } from '../../model/telemetry.ts';
import type { MetricSeries, MetricStore, SeriesAggregation, SeriesPoint, SeriesQuery, StoredExemplar } from '../types.ts';
import type { Db, Row } from './connection.ts';
import { BACKEND, badQuery } from './errors.ts';
import { params, timeRangeSql, type Params } from './filter-sql.ts';
import { histogramSteps } from './histogram-steps.ts';
import { decodeExemplars, decodeMetricPoint, finite, METRIC_RECORD_COLUMNS, numberOrNull } from './metric-rows.ts';
import { SCOPE_LABEL_KEYS } from '../../model/values.ts';
import { createDecodeCache } from './resources.ts';

const MAX_POINTS = 100_000;
/** Histogram-like points one series query combines in JS at most (each may carry its buckets). */
const MAX_HISTOGRAM_POINTS = 500_000;
const DELTA = Temporality.DELTA;

const AGGREGATE_COLUMN: Record<Exclude<SeriesAggregation, 'RATE'>, string> = {
  AVG: 'v_avg', SUM: 'v_sum', MIN: 'v_min', MAX: 'v_max', LAST: 'v_last', COUNT: 'n',
};

function checkQuery(q: SeriesQuery): void {
  const problem = seriesQueryProblem(q);
  if (problem) throw badQuery(problem);
}

/**
 * A point flagged "no recorded value" (DataPointFlags, bit 0: a staleness marker, e.g. the Collector's
 * Prometheus receiver's for a target gone) has no value to aggregate: it is no point of its series'
 * steps, and the point before it stays the base of the next one's increase, as Prometheus skips the
 * stale marker the exporter writes for it. metricPoints still lists it.
 */
const RECORDED = '(flags IS NULL OR flags & 1 = 0)';

/** `tenant = $1 AND name = $2`, the labels, time_ns from `from` to `to`, and only points with a value. */
function seriesWhere(q: SeriesQuery, from: bigint, p: Params): string {
  return [`tenant = $1`, `name = $2`, timeRangeSql('time_ns', { from, to: q.range.to }, p), RECORDED, ...labelConditions(q.labels, p)].join(' AND ');
}

const SCOPE_KEYS = new Set<string>(Object.values(SCOPE_LABEL_KEYS));

/**
 * One condition per label: the point's attribute or, failing that, its resource's (attrs merges them);
 * the scope's name and version, which are not attributes, from the series' labels.
 */
function labelConditions(labels: Record<string, string> | undefined, p: Params): string[] {
  return Object.entries(labels ?? {}).map(([key, value]) => `${SCOPE_KEYS.has(key) ? 'labels' : 'attrs'}[${p.add(key)}] = ${p.add(String(value))}`);
}

function toPoint(r: Row, q: SeriesQuery): SeriesPoint {
  const timeUnixNano = r.bucket as bigint;
  if (q.aggregation === 'RATE') {
    const increase = finite(r.increase);
    return { timeUnixNano, value: increase === null ? null : increase / rateSeconds(q, timeUnixNano, r.covered_ns as bigint | null) };
  }
  // ±Inf stays (SeriesPoint.value is null for it in GraphQL; an alert rule compares it).
  return { timeUnixNano, value: numberOrNull(r[AGGREGATE_COLUMN[q.aggregation]]) };
}

const byTime = (a: { timeUnixNano: bigint }, b: { timeUnixNano: bigint }): number => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0);

/**
 * Number series' points by group (rows in series and bucket order): one series alone keeps its
 * rows' values; a group's series are combined step by step (groupedValue).
 */
function numberSteps(rows: readonly Row[], q: SeriesQuery, groupOf: (seriesKey: string) => string): Map<string, SeriesPoint[]> {
  const parts = new Map<string, Map<bigint, { value: number | null; sum: number | null; count: number }[]>>();
  for (const r of rows) {
    const group = groupOf(r.series_key as string);
    let steps = parts.get(group);
    if (!steps) parts.set(group, (steps = new Map()));
    const point = toPoint(r, q);
    const part = { value: point.value, sum: numberOrNull(r.v_sum), count: Number(r.n) };
    const list = steps.get(point.timeUnixNano);
    if (list) list.push(part);
    else steps.set(point.timeUnixNano, [part]);
  }
  const out = new Map<string, SeriesPoint[]>();
  for (const [group, steps] of parts) {
    const points = [...steps].map(([timeUnixNano, list]): SeriesPoint => ({ timeUnixNano, value: list.length === 1 ? list[0]!.value : groupedValue(q.aggregation, list) }));
    out.set(group, points.sort(byTime));
  }
  return out;
}

function toExemplars(lists: unknown): StoredExemplar[] {
  return ((lists as string[] | null) ?? []).flatMap((text) =>
    decodeExemplars(text).map((e) => ({
      timeUnixNano: e.timeUnixNano,
      value: e.asDouble ?? Number(e.asInt ?? NaN),
      traceId: e.traceId,
      spanId: e.spanId,
      filteredAttributes: e.filteredAttributes,
    })),
  );
}

export function createMetricStore(db: Db): MetricStore {
  async function numberBuckets(tenant: string, q: SeriesQuery): Promise<Row[]> {
    const p = params([tenant, q.name]);
    // RATE, and SUM of a counter (what it counted during the step), take increases.
    const rate = q.aggregation === 'RATE' || q.aggregation === 'SUM';
    // Increases need each series' point before the range, to count the increase into the first bucket.
    const lookbackFrom = q.range.from - q.stepNano;
    const where = seriesWhere(q, rate ? lookbackFrom : q.range.from, p);
    const from = p.add(q.range.from);
    const step = p.add(q.stepNano);
    // The increase since the series' previous point: a delta point is one already; a monotonic
    // counter that went down or restarted (a later start time) was reset, so its value is the
    // increase; so is the first point of a series that started in the range. One that started
    // before `from` has no known base: what it counted before `from` is not the range's (tested by
    // its start, not by the look-back, so that a range's total does not change with the step).
    const increase = rate
      ? `CASE WHEN temporality = ${DELTA} THEN value
          WHEN prev IS NULL THEN CASE WHEN start_ns > 0 AND start_ns >= ${from} THEN value END
          WHEN monotonic AND (value < prev OR (start_ns > prev_start AND prev_start > 0)) THEN value
          ELSE value - prev END`
      : 'NULL';
    // Where each increase starts: a delta point's (or a first point's) start time, else the previous point.
    const since = `CASE WHEN temporality = ${DELTA} OR prev IS NULL THEN start_ns ELSE prev_time END`;
    return db.query(
      `WITH pts AS (
         SELECT series_key, type, temporality, monotonic, time_ns, start_ns, value,
                ${from} + ((time_ns - ${from}) // ${step}) * ${step} AS bucket,
                ${rate ? 'lag(value) OVER w AS prev, lag(start_ns) OVER w AS prev_start, lag(time_ns) OVER w AS prev_time' : 'NULL AS prev, NULL AS prev_start, NULL AS prev_time'}
         FROM metric_points WHERE ${where} AND point_type = 'number'
         ${rate ? 'WINDOW w AS (PARTITION BY series_key ORDER BY time_ns)' : ''}
       ), increases AS (
         SELECT *, ${increase} AS inc, ${rate ? since : 'NULL'} AS since FROM pts WHERE time_ns >= ${from}
       )
       SELECT series_key, bucket, count(*) AS n, avg(value) AS v_avg,
              ${q.aggregation === 'SUM' ? "sum(CASE WHEN monotonic AND type = 'sum' THEN inc ELSE value END)" : 'sum(value)'} AS v_sum, min(value) AS v_min,
              max(value) AS v_max, arg_max(value, time_ns) AS v_last, sum(inc) AS increase,
              CASE WHEN bool_and(since > 0) FILTER (WHERE inc IS NOT NULL)
                THEN max(time_ns) FILTER (WHERE inc IS NOT NULL) - min(since) FILTER (WHERE inc IS NOT NULL) END AS covered_ns
       FROM increases
       GROUP BY series_key, bucket ORDER BY series_key, bucket`,
      p.values,
    );
  }

  /**
   * The histogram-like points histogramSteps needs, from one step before the range: every delta
   * point; of cumulative ones the first, each step's last, and both sides of every reset (a count
   * that went down, a later start time, other bucket bounds), so consecutive rows subtract.
   */
  async function histogramPoints(tenant: string, q: SeriesQuery): Promise<Row[]> {
    const p = params([tenant, q.name]);
    const from = p.add(q.range.from);
    const step = p.add(q.stepNano);
    const withBuckets = q.quantile !== undefined;
    const bucketColumns = withBuckets
      ? ', point_type, explicit_bounds, bucket_counts, scale, zero_count, zero_threshold, positive_offset, positive_counts, negative_offset, negative_counts, quantiles'
      : '';
    // Counts as DOUBLE, not UBIGINT: JS numbers rather than a BigInt per bucket.
    const readBuckets = bucketColumns.replace(/(\w+_counts)/g, '$1::DOUBLE[] AS $1');
    const kept = 'first OR reset OR next_reset OR next_bucket IS DISTINCT FROM bucket';
    // With buckets to merge, JS adds up every delta point; without, SQL does: one row per series and
    // step (at its earliest time, so the series' first row stays first).
    const rows = await db.query(
      `WITH pts AS (
         SELECT series_key, temporality, time_ns, start_ns, count, sum, explicit_bounds AS bounds${readBuckets},
                -- The look-back is one bucket of its own (// truncates toward zero, so it would join the first).
                CASE WHEN time_ns < ${from} THEN ${from} - ${step} ELSE ${from} + ((time_ns - ${from}) // ${step}) * ${step} END AS bucket,
                temporality <> ${DELTA} AND lag(time_ns) OVER w IS NOT NULL AND (count < lag(count) OVER w
                  OR (start_ns > lag(start_ns) OVER w AND lag(start_ns) OVER w > 0)
                  OR bounds IS DISTINCT FROM lag(bounds) OVER w) AS reset
         FROM metric_points WHERE ${seriesWhere(q, q.range.from - q.stepNano, p)} AND point_type <> 'number'
         WINDOW w AS (PARTITION BY series_key ORDER BY time_ns)
       ), marked AS (
         SELECT *, lag(time_ns) OVER w IS NULL AS first, lead(reset) OVER w AS next_reset, lead(bucket) OVER w AS next_bucket
         FROM pts WINDOW w AS (PARTITION BY series_key ORDER BY time_ns)
       )
       -- The series key only on its first row: decoding it on every row was most of the time spent.
       SELECT series_start, temporality, time_ns, until_ns, start_ns, count, sum, bucket, reset${bucketColumns} FROM (
         SELECT series_key, CASE WHEN first THEN series_key END AS series_start, temporality, time_ns, time_ns AS until_ns, start_ns, count, sum, bucket, reset${bucketColumns}
         FROM marked
         WHERE ${withBuckets ? `temporality = ${DELTA} OR ${kept}` : `temporality <> ${DELTA} AND (${kept})`}
         ${withBuckets ? '' : `UNION ALL
         SELECT series_key, CASE WHEN bool_or(first) THEN any_value(series_key) END, ${DELTA}, min(time_ns), max(time_ns), min(start_ns), sum(count),
                CASE WHEN count(sum) = count(*) THEN sum(sum) END, bucket, false
         FROM marked WHERE temporality = ${DELTA} GROUP BY series_key, bucket`}
       ) ORDER BY series_key, time_ns LIMIT ${MAX_HISTOGRAM_POINTS + 1}`,
      p.values,
    );
    if (rows.length > MAX_HISTOGRAM_POINTS) {
      throw badQuery(`${q.name} has more than ${MAX_HISTOGRAM_POINTS} histogram points to combine in this range; narrow the range or the labels`);
    }
    return rows;
  }

  async function seriesInfo(tenant: string, q: SeriesQuery): Promise<Row[]> {
    const p = params([tenant, q.name]);
    return db.query(
      `SELECT series_key, any_value(labels) AS labels, arg_max(type, time_ns) AS type, arg_max(monotonic, time_ns) AS monotonic, arg_max(unit, time_ns) AS unit,
              arg_max(description, time_ns) AS description,
              list(exemplars ORDER BY time_ns) FILTER (WHERE exemplars IS NOT NULL) AS exemplars
       FROM metric_points WHERE ${seriesWhere(q, q.range.from, p)} GROUP BY series_key ORDER BY series_key`,
      p.values,
    );
  }

  return {
    backend: BACKEND,

    async querySeries(tenant, q) {
      checkQuery(q);
      const [rows, histogramRows, infos] = await Promise.all([numberBuckets(tenant, q), histogramPoints(tenant, q), seriesInfo(tenant, q)]);
      for (const info of infos) {
        const problem = seriesTypeProblem(q, info.type as MetricType, info.monotonic as boolean | null ?? undefined);
        if (problem) throw badQuery(problem);
      }
      const series = infos.map((info) => ({ info, labels: Object.fromEntries((info.labels as { key: string; value: string }[]).map((e) => [e.key, e.value])) }));
      // Each series is its own group unless groupBy names the labels its group shares.
      const groupOf = new Map<string, string>();
      const groups = new Map<string, { labels: Record<string, string>; infos: Row[] }>();
      for (const { info, labels } of series) {
        const own = q.groupBy ? groupLabels(labels, q.groupBy) : labels;
        const key = q.groupBy ? JSON.stringify(q.groupBy.map((k) => own[k] ?? null)) : (info.series_key as string);
        groupOf.set(info.series_key as string, key);
        const group = groups.get(key);
        if (group) group.infos.push(info);
        else groups.set(key, { labels: own, infos: [info] });
      }
      const points = histogramSteps(histogramRows, q, (k) => groupOf.get(k) ?? k);
      for (const [key, list] of numberSteps(rows, q, (k) => groupOf.get(k) ?? k)) points.set(key, [...(points.get(key) ?? []), ...list]);
      const ordered = q.groupBy ? [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : [...groups];
      return ordered.map(([key, { labels, infos: members }]): MetricSeries => {
        const latest = members[members.length - 1]!;
        return {
          name: q.name,
          type: latest.type as MetricType,
          unit: (latest.unit as string | null) ?? '',
          description: (latest.description as string | null) ?? '',
          labels,
          points: points.get(key) ?? [],
          exemplars: members.length === 1 ? toExemplars(latest.exemplars) : members.flatMap((m) => toExemplars(m.exemplars)).sort(byTime),
        };
      });
    },

    async points(tenant, name, range, limit, labels) {
      if (!Number.isInteger(limit) || limit < 0 || limit > MAX_POINTS) throw badQuery(`limit must be an integer from 0 to ${MAX_POINTS}`);
      const p = params([tenant, name]);
      const where = [timeRangeSql('time_ns', range, p) || 'TRUE', ...labelConditions(labels, p)].join(' AND ');
      const rows = await db.query(
        `SELECT ${METRIC_RECORD_COLUMNS} FROM metric_points WHERE tenant = $1 AND name = $2 AND ${where}
         ORDER BY time_ns DESC, series_key LIMIT ${p.add(limit)}`,
        p.values,
      );
      const cache = createDecodeCache();
      return rows.map((r) => decodeMetricPoint(r, cache));
    },

    async metricNames(tenant, range) {
      const p = params([tenant]);
      const rows = await db.query(
        `SELECT name, arg_max(type, time_ns) AS type, arg_max(monotonic, time_ns) AS monotonic, arg_max(unit, time_ns) AS unit, arg_max(description, time_ns) AS description
         FROM metric_points WHERE tenant = $1 AND ${timeRangeSql('time_ns', range, p) || 'TRUE'} GROUP BY name ORDER BY name`,
        p.values,
      );
      return rows.map((r) => ({
        name: r.name as string,
        type: r.type as MetricType,
        unit: (r.unit as string | null) ?? '',
        description: (r.description as string | null) ?? '',
      }));
    },
  };
}
