// MetricStore over the metric_points table. Series are grouped by series_key (the sorted labels)
// and bucketed by step in SQL, so only one row per series and bucket reaches JS.
import { seriesQueryProblem } from '../series-query.ts';
import type { MetricType } from '../../model/telemetry.ts';
import type { MetricSeries, MetricStore, SeriesAggregation, SeriesPoint, SeriesQuery, StoredExemplar } from '../types.ts';
import type { Db, Row } from './connection.ts';
import { BACKEND, badQuery } from './errors.ts';
import { params, timeRangeSql, type Params } from './filter-sql.ts';
import { decodeExemplars, decodeMetricPoint, METRIC_RECORD_COLUMNS } from './metric-rows.ts';
import { createDecodeCache } from './resources.ts';

const MAX_POINTS = 100_000;
const DELTA = 1;

const AGGREGATE_COLUMN: Record<Exclude<SeriesAggregation, 'RATE'>, string> = {
  AVG: 'v_avg', SUM: 'v_sum', MIN: 'v_min', MAX: 'v_max', LAST: 'v_last', COUNT: 'n',
};

function checkQuery(q: SeriesQuery): void {
  const problem = seriesQueryProblem(q);
  if (problem) throw badQuery(problem);
}

/** `tenant = $1 AND name = $2`, the labels, and time_ns from `from` to `to`. */
function seriesWhere(q: SeriesQuery, from: bigint, p: Params): string {
  const parts = [`tenant = $1`, `name = $2`, timeRangeSql('time_ns', { from, to: q.range.to }, p)];
  for (const [key, value] of Object.entries(q.labels ?? {})) parts.push(`attrs[${p.add(key)}] = ${p.add(String(value))}`);
  return parts.join(' AND ');
}

// NaN and ±Infinity have no GraphQL Float form; they read as "no value".
const finite = (v: unknown): number | null => {
  const n = typeof v === 'bigint' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
};

function toPoint(r: Row, q: SeriesQuery): SeriesPoint {
  const timeUnixNano = r.bucket as bigint;
  if (r.point_type !== 'number') {
    // A histogram-like bucket: delta points add up, a cumulative point already holds all before it.
    const delta = r.temporality === DELTA;
    const count = finite(delta ? r.count_sum : r.count_last);
    const sum = finite(delta ? r.sum_sum : r.sum_last);
    const point: SeriesPoint = { timeUnixNano, value: count && sum !== null ? sum / count : null };
    if (count !== null) point.count = count;
    if (sum !== null) point.sum = sum;
    return point;
  }
  if (q.aggregation === 'RATE') {
    const increase = finite(r.increase);
    return { timeUnixNano, value: increase === null ? null : increase / (Number(q.stepNano) / 1e9) };
  }
  return { timeUnixNano, value: finite(r[AGGREGATE_COLUMN[q.aggregation]]) };
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
  async function buckets(tenant: string, q: SeriesQuery): Promise<Row[]> {
    const p = params([tenant, q.name]);
    const rate = q.aggregation === 'RATE';
    // RATE needs each series' point before the range, to count the increase into the first bucket.
    const where = seriesWhere(q, rate ? q.range.from - q.stepNano : q.range.from, p);
    const from = p.add(q.range.from);
    const step = p.add(q.stepNano);
    // The increase since the series' previous point: a delta point is one already; a monotonic
    // counter that went down or restarted (a later start time) was reset, so its value is the increase.
    const increase = rate
      ? `CASE WHEN temporality = ${DELTA} THEN value
          WHEN prev IS NULL THEN NULL
          WHEN monotonic AND (value < prev OR (start_ns > prev_start AND prev_start > 0)) THEN value
          ELSE value - prev END`
      : 'NULL';
    return db.query(
      `WITH pts AS (
         SELECT series_key, point_type, temporality, monotonic, time_ns, start_ns, value, count, sum,
                ${from} + ((time_ns - ${from}) // ${step}) * ${step} AS bucket,
                ${rate ? 'lag(value) OVER w AS prev, lag(start_ns) OVER w AS prev_start' : 'NULL AS prev, NULL AS prev_start'}
         FROM metric_points WHERE ${where}
         ${rate ? 'WINDOW w AS (PARTITION BY series_key ORDER BY time_ns)' : ''}
       )
       SELECT series_key, bucket, count(*) AS n, avg(value) AS v_avg, sum(value) AS v_sum, min(value) AS v_min,
              max(value) AS v_max, arg_max(value, time_ns) AS v_last, sum(${increase}) AS increase,
              sum(count) AS count_sum, sum(sum) AS sum_sum, arg_max(count, time_ns) AS count_last,
              arg_max(sum, time_ns) AS sum_last, any_value(point_type) AS point_type, any_value(temporality) AS temporality
       FROM pts WHERE time_ns >= ${from}
       GROUP BY series_key, bucket ORDER BY series_key, bucket`,
      p.values,
    );
  }

  async function seriesInfo(tenant: string, q: SeriesQuery): Promise<Row[]> {
    const p = params([tenant, q.name]);
    return db.query(
      `SELECT series_key, any_value(labels) AS labels, arg_max(type, time_ns) AS type, arg_max(unit, time_ns) AS unit,
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
      const [rows, infos] = await Promise.all([buckets(tenant, q), seriesInfo(tenant, q)]);
      const points = new Map<string, SeriesPoint[]>();
      for (const r of rows) {
        const key = r.series_key as string;
        const list = points.get(key) ?? [];
        list.push(toPoint(r, q));
        points.set(key, list);
      }
      return infos.map((info): MetricSeries => ({
        name: q.name,
        type: info.type as MetricType,
        unit: (info.unit as string | null) ?? '',
        description: (info.description as string | null) ?? '',
        labels: Object.fromEntries((info.labels as { key: string; value: string }[]).map((e) => [e.key, e.value])),
        points: points.get(info.series_key as string) ?? [],
        exemplars: toExemplars(info.exemplars),
      }));
    },

    async points(tenant, name, range, limit) {
      if (!Number.isInteger(limit) || limit < 0 || limit > MAX_POINTS) throw badQuery(`limit must be an integer from 0 to ${MAX_POINTS}`);
      const p = params([tenant, name]);
      const time = timeRangeSql('time_ns', range, p) || 'TRUE';
      const rows = await db.query(
        `SELECT ${METRIC_RECORD_COLUMNS} FROM metric_points WHERE tenant = $1 AND name = $2 AND ${time}
         ORDER BY time_ns DESC, series_key LIMIT ${p.add(limit)}`,
        p.values,
      );
      const cache = createDecodeCache();
      return rows.map((r) => decodeMetricPoint(r, cache));
    },

    async metricNames(tenant, range) {
      const p = params([tenant]);
      const rows = await db.query(
        `SELECT name, arg_max(type, time_ns) AS type, arg_max(unit, time_ns) AS unit, arg_max(description, time_ns) AS description
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
