// The metric_points table and the mapping both ways between a MetricPoint and a row.
import { storedText } from './long-values.ts';
import type {
  Exemplar,
  KeyValue,
  MetricPoint,
  MetricPointValue,
  MetricType,
  Temporality,
} from '../../model/telemetry.ts';
import type { Row } from './connection.ts';
import type { TableSpec } from './ddl.ts';
import { decodeJson, encodeJson, encodeJsonWithBigInts } from './json.ts';
import { SCOPE_LABEL_KEYS, wellFormed } from '../../model/values.ts';
import {
  createDecodeCache,
  decodeAttributes,
  mergedAttrs,
  nullIfEmpty,
  toFilterMap,
  type DecodeCache,
  type EncodeCache,
  type FilterMap,
  type ResourceInfo,
} from './resources.ts';

/**
 * A series is a stream of the OTel data model: its resource's identity, its instrumentation scope and
 * its point attributes. Of the resource, the service's identity (semantic conventions): service.namespace
 * too, as prod and staging of one service are two streams.
 */
const SERIES_RESOURCE_KEYS = ['service.namespace', 'service.name', 'service.instance.id'];

// The scope's name and version are series labels (SCOPE_LABEL_KEYS): two libraries emitting one
// instrument are two series. Read from `labels`, not `attrs`. Rows written before the scope and
// service.namespace were part of a series keep their series_key: such a stream splits once, at the upgrade.

interface PointFields {
  value: number | null;
  valueInt: string | null;
  count: bigint | null;
  sum: number | null;
  min: number | null;
  max: number | null;
  bucketCounts: string | null;
  explicitBounds: string | null;
  scale: number | null;
  zeroCount: bigint | null;
  zeroThreshold: number | null;
  positiveOffset: number | null;
  positiveCounts: string | null;
  negativeOffset: number | null;
  negativeCounts: string | null;
  quantiles: string | null;
  exemplars: string | null;
}

export interface MetricInput {
  m: MetricPoint;
  res: ResourceInfo;
  scope: string;
  labels: FilterMap;
  attrs: FilterMap;
  seriesKey: string;
  f: PointFields;
}

const exemplarsJson = (e: readonly Exemplar[]) => (e.length ? encodeJsonWithBigInts(e) : null);

function pointFields(p: MetricPointValue): PointFields {
  const f: PointFields = {
    value: null, valueInt: null, count: null, sum: null, min: null, max: null, bucketCounts: null, explicitBounds: null,
    scale: null, zeroCount: null, zeroThreshold: null, positiveOffset: null, positiveCounts: null, negativeOffset: null,
    negativeCounts: null, quantiles: null, exemplars: null,
  };
  if (p.type === 'number') {
    f.value = p.asDouble ?? (p.asInt !== undefined ? Number(p.asInt) : null);
    f.valueInt = p.asInt ?? null;
    f.exemplars = exemplarsJson(p.exemplars);
    return f;
  }
  f.count = BigInt(p.count);
  f.sum = p.sum ?? null;
  if (p.type === 'summary') {
    f.quantiles = JSON.stringify(p.quantileValues);
    return f;
  }
  f.min = p.min ?? null;
  f.max = p.max ?? null;
  f.exemplars = exemplarsJson(p.exemplars);
  if (p.type === 'histogram') {
    f.bucketCounts = JSON.stringify(p.bucketCounts);
    f.explicitBounds = JSON.stringify(p.explicitBounds);
  } else {
    f.scale = p.scale;
    f.zeroCount = BigInt(p.zeroCount);
    f.zeroThreshold = p.zeroThreshold;
    f.positiveOffset = p.positive.offset;
    f.positiveCounts = JSON.stringify(p.positive.bucketCounts);
    f.negativeOffset = p.negative.offset;
    f.negativeCounts = JSON.stringify(p.negative.bucketCounts);
  }
  return f;
}


/**
 * A string map as the JSON DuckDB reads into a MAP column. A lone surrogate (OTLP/JSON can carry
 * `"\ud800"`) is written by JSON.stringify as that escape, which DuckDB's JSON reader refuses, and the
 * whole point with it (acknowledged, then lost; Prometheus QA): such keys and values get U+FFFD, as
 * the VARCHAR columns do when their text is written as UTF-8. Only a map whose JSON holds `\ud` is
 * rebuilt.
 */
function mapJson(map: Readonly<Record<string, string | null>>): string {
  const json = JSON.stringify(map);
  if (!json.includes('\\ud')) return json;
  return JSON.stringify(Object.fromEntries(Object.entries(map).map(([k, v]) => [wellFormed(k), v === null ? null : wellFormed(v)])));
}

export function prepareMetric(m: MetricPoint, cache: EncodeCache): MetricInput {
  const res = cache.resource(m.resource);
  const labels: FilterMap = {};
  for (const key of SERIES_RESOURCE_KEYS) {
    const v = key === 'service.name' ? res.service : res.attrs[key];
    if (v != null) labels[key] = v;
  }
  toFilterMap(m.point.attributes, labels);
  // After the attributes, so the scope wins over an attribute of that name, as in the Prometheus exporter.
  if (m.scope.name) labels[SCOPE_LABEL_KEYS.name] = m.scope.name;
  if (m.scope.version) labels[SCOPE_LABEL_KEYS.version] = m.scope.version;
  const seriesKey = JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
  return {
    m, res, labels, seriesKey,
    scope: cache.scope(m.scope).json,
    attrs: mergedAttrs(res, m.point.attributes),
    f: pointFields(m.point),
  };
}

export const metricTable: TableSpec<MetricInput> = {
  name: 'metric_points',
  indexes: [],
  columns: [
    { name: 'tenant', repeats: true, type: 'VARCHAR NOT NULL', get: (p) => p.m.tenant },
    { name: 'name', repeats: true, type: 'VARCHAR NOT NULL', get: (p) => p.m.metric.name },
    { name: 'description', repeats: true, type: 'VARCHAR', get: (p) => nullIfEmpty(p.m.metric.description) },
    { name: 'unit', repeats: true, type: 'VARCHAR', get: (p) => nullIfEmpty(p.m.metric.unit) },
    { name: 'type', repeats: true, type: 'VARCHAR NOT NULL', get: (p) => p.m.metric.type },
    { name: 'temporality', type: 'INTEGER', get: (p) => p.m.metric.aggregationTemporality },
    { name: 'monotonic', type: 'BOOLEAN', get: (p) => p.m.metric.isMonotonic },
    { name: 'metadata', type: 'VARCHAR', get: (p) => (p.m.metric.metadata.length ? encodeJson(p.m.metric.metadata) : null) },
    { name: 'point_type', repeats: true, type: 'VARCHAR NOT NULL', get: (p) => p.m.point.type },
    { name: 'service_name', repeats: true, type: 'VARCHAR', get: (p) => p.res.service },
    { name: 'series_key', type: 'VARCHAR NOT NULL', get: (p) => p.seriesKey },
    { name: 'labels', type: 'MAP(VARCHAR, VARCHAR)', json: true, get: (p) => mapJson(p.labels) },
    { name: 'attrs', type: 'MAP(VARCHAR, VARCHAR)', json: true, get: (p) => mapJson(p.attrs) },
    // A point's attributes are its series' labels: none is ever dropped (the point would read back as
    // another series) and no key is cut; only long values are, and a point whose keys alone are over the
    // bound is stored over it, as series_key, labels and attrs keep every label whole anyway (docs/known-gaps.md).
    { name: 'attributes', type: 'VARCHAR', get: (p) => storedText(p.m.point.attributes, (a) => (a.length ? encodeJson(a) : null)) },
    { name: 'start_ns', type: 'BIGINT NOT NULL', get: (p) => p.m.point.startTimeUnixNano },
    { name: 'time_ns', type: 'BIGINT NOT NULL', get: (p) => p.m.point.timeUnixNano },
    { name: 'flags', type: 'UINTEGER', get: (p) => p.m.point.flags },
    { name: 'value', type: 'DOUBLE', get: (p) => p.f.value },
    { name: 'value_int', type: 'VARCHAR', get: (p) => p.f.valueInt },
    { name: 'count', type: 'BIGINT', get: (p) => p.f.count },
    { name: 'sum', type: 'DOUBLE', get: (p) => p.f.sum },
    { name: 'min', type: 'DOUBLE', get: (p) => p.f.min },
    { name: 'max', type: 'DOUBLE', get: (p) => p.f.max },
    { name: 'bucket_counts', type: 'UBIGINT[]', json: true, get: (p) => p.f.bucketCounts },
    { name: 'explicit_bounds', type: 'DOUBLE[]', json: true, get: (p) => p.f.explicitBounds },
    { name: 'scale', type: 'INTEGER', get: (p) => p.f.scale },
    { name: 'zero_count', type: 'BIGINT', get: (p) => p.f.zeroCount },
    { name: 'zero_threshold', type: 'DOUBLE', get: (p) => p.f.zeroThreshold },
    { name: 'positive_offset', type: 'INTEGER', get: (p) => p.f.positiveOffset },
    { name: 'positive_counts', type: 'UBIGINT[]', json: true, get: (p) => p.f.positiveCounts },
    { name: 'negative_offset', type: 'INTEGER', get: (p) => p.f.negativeOffset },
    { name: 'negative_counts', type: 'UBIGINT[]', json: true, get: (p) => p.f.negativeCounts },
    { name: 'quantiles', type: 'STRUCT(quantile DOUBLE, "value" DOUBLE)[]', json: true, get: (p) => p.f.quantiles },
    { name: 'exemplars', type: 'VARCHAR', get: (p) => p.f.exemplars },
    { name: 'resource', repeats: true, type: 'VARCHAR NOT NULL', get: (p) => p.res.stored },
    { name: 'scope', repeats: true, type: 'VARCHAR NOT NULL', get: (p) => p.scope },
  ],
};

export const METRIC_RECORD_COLUMNS =
  'tenant, name, description, unit, type, temporality, monotonic, metadata, point_type, attributes, start_ns, time_ns, ' +
  'flags, value, value_int, count, sum, min, max, bucket_counts, explicit_bounds, scale, zero_count, zero_threshold, ' +
  'positive_offset, positive_counts, negative_offset, negative_counts, quantiles, exemplars, resource, scope';

type StoredExemplarJson = Omit<Exemplar, 'timeUnixNano'> & { timeUnixNano: string };

export function decodeExemplars(text: unknown): Exemplar[] {
  if (typeof text !== 'string') return [];
  return decodeJson<StoredExemplarJson[]>(text).map((e) => ({ ...e, timeUnixNano: BigInt(e.timeUnixNano) }));
}

const numbers = (v: unknown): number[] => ((v as (bigint | number)[] | null) ?? []).map(Number);
const optional = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : (v as number));

function decodePoint(row: Row): MetricPointValue {
  const base = {
    attributes: decodeAttributes(row.attributes),
    startTimeUnixNano: row.start_ns as bigint,
    timeUnixNano: row.time_ns as bigint,
    flags: row.flags as number,
  };
  const type = row.point_type as MetricPointValue['type'];
  if (type === 'number') {
    const value: { asDouble?: number; asInt?: string } = {};
    if (row.value_int !== null) value.asInt = row.value_int as string;
    else if (row.value !== null) value.asDouble = row.value as number;
    return { type, ...base, ...value, exemplars: decodeExemplars(row.exemplars) };
  }
  const count = Number(row.count);
  if (type === 'summary') {
    const quantileValues = (row.quantiles as { quantile: number; value: number | null }[] | null) ?? [];
    // A NaN quantile (Prometheus summaries have them) went through JSON as null.
    return { type, ...base, count, sum: row.sum as number, quantileValues: quantileValues.map((q) => ({ quantile: q.quantile, value: q.value ?? NaN })) };
  }
  const dist = { count, sum: optional(row.sum), min: optional(row.min), max: optional(row.max) };
  for (const k of ['sum', 'min', 'max'] as const) if (dist[k] === undefined) delete dist[k];
  if (type === 'histogram') {
    return {
      type, ...base, ...dist,
      bucketCounts: numbers(row.bucket_counts),
      explicitBounds: numbers(row.explicit_bounds),
      exemplars: decodeExemplars(row.exemplars),
    };
  }
  return {
    type, ...base, ...dist,
    scale: row.scale as number,
    zeroCount: Number(row.zero_count),
    zeroThreshold: row.zero_threshold as number,
    positive: { offset: row.positive_offset as number, bucketCounts: numbers(row.positive_counts) },
    negative: { offset: row.negative_offset as number, bucketCounts: numbers(row.negative_counts) },
    exemplars: decodeExemplars(row.exemplars),
  };
}

export function decodeMetricPoint(row: Row, cache: DecodeCache = createDecodeCache()): MetricPoint {
  return {
    tenant: row.tenant as string,
    resource: cache.resource(row.resource as string),
    scope: cache.scope(row.scope as string),
    metric: {
      name: row.name as string,
      description: (row.description as string | null) ?? '',
      unit: (row.unit as string | null) ?? '',
      type: row.type as MetricType,
      aggregationTemporality: row.temporality as Temporality,
      isMonotonic: row.monotonic as boolean,
      metadata: typeof row.metadata === 'string' ? decodeJson<KeyValue[]>(row.metadata) : [],
    },
    point: decodePoint(row),
  };
}

// NaN and ±Infinity have no GraphQL Float form; they read as "no value".
/** A number value as stored, ±Inf included (a gauge may be +Inf; alert rules compare it); null for NaN and non-numbers. */
export const numberOrNull = (v: unknown): number | null => {
  const n = typeof v === 'bigint' ? Number(v) : v;
  return typeof n === 'number' && !Number.isNaN(n) ? n : null;
};

export const finite = (v: unknown): number | null => {
  const n = typeof v === 'bigint' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
};
