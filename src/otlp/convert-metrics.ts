// ExportMetricsServiceRequest → MetricPoint[]: one record per data point, sharing its metric
// descriptor, Resource and scope.
import type {
  Exemplar,
  ExponentialBuckets,
  MetricDescriptor,
  MetricPoint,
  MetricPointValue,
  MetricType,
  Temporality,
} from '../model/telemetry.ts';
import {
  type Decoded,
  type Msg,
  bool,
  convertFor,
  convertItems,
  double,
  enumValue,
  has,
  int32,
  int64,
  fail,
  keyValues,
  list,
  msg,
  optionalId,
  rejectAll,
  scopeGroups,
  str,
  timeNs,
  uint,
  uint32,
} from './convert-common.ts';
import { otlpProto } from './proto.ts';

const DATA_FIELDS: readonly MetricType[] = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'];
/** DataPointFlags.NO_RECORDED_VALUE: a staleness marker legitimately carries no value. */
const NO_RECORDED_VALUE = 1;

export function metricPointsFromOtlp(request: Msg, tenant: string): Decoded<MetricPoint> {
  const temporalities = otlpProto().enums.temporality;
  const out: Decoded<MetricPoint> = { items: [], rejected: [] };
  for (const g of scopeGroups(request, 'resourceMetrics', 'scopeMetrics', 'metrics')) {
    for (let m = 0; m < g.items.length; m++) {
      const metric = msg(g.items[m], 'metric');
      const type = DATA_FIELDS.find((f) => has(metric, f));
      if (!type) continue; // a metric without data has no points to keep or to count
      const data = msg(metric[type], type);
      const points = list(data.dataPoints, 'dataPoints');
      const path = (): string => `${g.path}.metrics[${m}].${type}.dataPoints`;
      let descriptor: MetricDescriptor | undefined;
      try {
        descriptor = convertFor(out, metric, (): MetricDescriptor => ({
          name: str(metric.name, 'name'),
          description: str(metric.description, 'description'),
          unit: str(metric.unit, 'unit'),
          type,
          aggregationTemporality: enumValue(data.aggregationTemporality, temporalities, 2, 'aggregation_temporality') as Temporality,
          isMonotonic: bool(data.isMonotonic, 'is_monotonic'),
          metadata: keyValues(metric.metadata, 'metric metadata'),
        }));
      } catch (err) {
        rejectAll(out, points, path, err);
        continue;
      }
      if (!descriptor) {
        rejectAll(out, points, path, undefined); // invalid, and past the described rejections
        continue;
      }
      const metricOfPoints = descriptor;
      convertItems(out, points, path, (p) => ({ tenant, resource: g.resource, scope: g.scope, metric: metricOfPoints, point: dataPoint(type, msg(p, 'dataPoint')) }));
    }
  }
  return out;
}

function dataPoint(type: MetricType, p: Msg): MetricPointValue {
  const base = {
    attributes: keyValues(p.attributes, 'point'),
    startTimeUnixNano: timeNs(p.startTimeUnixNano, 'start_time_unix_nano'),
    timeUnixNano: timeNs(p.timeUnixNano, 'time_unix_nano'),
    flags: uint32(p.flags, 'flags'),
  };
  switch (type) {
    case 'gauge':
    case 'sum': {
      const point: MetricPointValue = { type: 'number', ...base, exemplars: exemplars(p.exemplars) };
      if (has(p, 'asDouble')) point.asDouble = double(p.asDouble, 'as_double');
      else if (has(p, 'asInt')) point.asInt = int64(p.asInt, 'as_int', true).toString();
      else if ((base.flags & NO_RECORDED_VALUE) === 0) fail(undefined, () => 'data point has no value (neither as_double nor as_int)');
      return point;
    }
    case 'histogram': {
      const bucketCounts = list(p.bucketCounts, 'bucket_counts').map((c) => uint(c, 'bucket_counts'));
      const explicitBounds = list(p.explicitBounds, 'explicit_bounds').map((b) => {
        const bound = double(b, 'explicit_bounds');
        // The +Inf bucket is implicit (the last bucket count); a bound of NaN or ±Inf bounds nothing.
        return Number.isFinite(bound) ? bound : fail(0, (bound) => `explicit_bounds must be finite numbers, got ${bound}`, bound);
      });
      // metrics.proto: the bounds "must be strictly increasing"; buckets out of order give wrong quantiles.
      const unordered = explicitBounds.findIndex((bound, i) => i > 0 && bound <= explicitBounds[i - 1]!);
      if (unordered > 0) {
        fail(undefined, (explicitBounds, unordered) => `explicit_bounds must be strictly increasing, got ${explicitBounds[unordered - 1]} then ${explicitBounds[unordered]} at [${unordered}]`, explicitBounds, unordered);
      }
      // metrics.proto: bucket_counts has one element more than explicit_bounds, or both are empty.
      if ((bucketCounts.length > 0 || explicitBounds.length > 0) && bucketCounts.length !== explicitBounds.length + 1) {
        fail(undefined, (bucketCounts, explicitBounds) => `histogram has ${bucketCounts.length} bucket_counts for ${explicitBounds.length} explicit_bounds (needs bounds + 1)`, bucketCounts, explicitBounds);
      }
      const point: MetricPointValue = {
        type: 'histogram',
        ...base,
        count: uint(p.count, 'count'),
        bucketCounts,
        explicitBounds,
        exemplars: exemplars(p.exemplars),
      };
      optionalDoubles(point, p);
      return point;
    }
    case 'exponentialHistogram': {
      const point: MetricPointValue = {
        type: 'exponentialHistogram',
        ...base,
        count: uint(p.count, 'count'),
        scale: int32(p.scale, 'scale'),
        zeroCount: uint(p.zeroCount, 'zero_count'),
        positive: buckets(p.positive, 'positive'),
        negative: buckets(p.negative, 'negative'),
        zeroThreshold: double(p.zeroThreshold, 'zero_threshold'),
        exemplars: exemplars(p.exemplars),
      };
      optionalDoubles(point, p);
      return point;
    }
    case 'summary':
      return {
        type: 'summary',
        ...base,
        count: uint(p.count, 'count'),
        sum: double(p.sum, 'sum'),
        quantileValues: list(p.quantileValues, 'quantile_values').map((v) => {
          const q = msg(v, 'quantile_values[]');
          return { quantile: double(q.quantile, 'quantile'), value: double(q.value, 'value') };
        }),
      };
  }
}

/** sum, min and max are proto3 `optional`: absent stays absent rather than becoming 0. */
function optionalDoubles(point: { sum?: number; min?: number; max?: number }, p: Msg): void {
  if (has(p, 'sum')) point.sum = double(p.sum, 'sum');
  if (has(p, 'min')) point.min = double(p.min, 'min');
  if (has(p, 'max')) point.max = double(p.max, 'max');
}

function buckets(v: unknown, field: string): ExponentialBuckets {
  const b = msg(v, field);
  return {
    offset: int32(b.offset, `${field}.offset`),
    bucketCounts: list(b.bucketCounts, `${field}.bucket_counts`).map((c) => uint(c, `${field}.bucket_counts`)),
  };
}

function exemplars(v: unknown): Exemplar[] {
  return list(v, 'exemplars').map((x) => {
    const e = msg(x, 'exemplar');
    const out: Exemplar = {
      filteredAttributes: keyValues(e.filteredAttributes, 'exemplar'),
      timeUnixNano: timeNs(e.timeUnixNano, 'exemplar.time_unix_nano'),
      spanId: optionalId(e.spanId, 8, 'exemplar.span_id'),
      traceId: optionalId(e.traceId, 16, 'exemplar.trace_id'),
    };
    if (has(e, 'asDouble')) out.asDouble = double(e.asDouble, 'exemplar.as_double');
    else if (has(e, 'asInt')) out.asInt = int64(e.asInt, 'exemplar.as_int', true).toString();
    return out;
  });
}
