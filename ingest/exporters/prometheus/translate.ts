// OTLP metric points → Prometheus remote-write time series, as the OpenTelemetry "Prometheus and
// OpenMetrics compatibility" specification says Prometheus expects them:
// - names: sanitised, unit word suffix, `_total` on monotonic sums, `_ratio` on gauges with unit "1";
// - gauges and non-monotonic sums are gauges; monotonic sums are counters;
// - histograms: `_bucket{le}` (cumulative, with `+Inf`), `_sum` (when the point has one), `_count`;
// - exponential histograms: native histograms (mode 'native'; the server must run with
//   --enable-feature=native-histograms) or explicit `_bucket{le}` series at the exponential bounds
//   (mode 'buckets');
// - summaries: `{quantile}` series plus `_sum` and `_count`;
// - labels: point attributes sanitised (colliding keys joined with ';'), `job` from
//   service.namespace/service.name, `instance` from service.instance.id, `otel_scope_name` and
//   `otel_scope_version`; the other resource attributes go on one `target_info` series per resource;
// - exemplars keep their filtered attributes plus `trace_id` / `span_id`;
// - a point flagged "no recorded value" becomes a staleness marker;
// - each family's type, unit word and description go as remote-write metadata.
// Translation is stateless: delta points are made cumulative before they are queued
// (delta-to-cumulative.ts), so a retried or spilled batch is never counted twice. A delta point that
// still reaches this function is refused ('delta_not_converted').
import type { Exemplar, KeyValue, MetricDescriptor, MetricPoint, Resource } from '../../../src/model/telemetry.ts';
import { Temporality } from '../../../src/model/telemetry.ts';
import { anyValueToFilterString, stringAttribute } from '../../../src/model/values.ts';
import { formatFloat, isCounter, labelName, metricName, SOURCE_LABELS, unitSuffix } from '../../../src/stores/prometheus/names.ts';
import { downscaleIndex } from '../../../src/model/exponential-buckets.ts';

export interface PromLabel {
  name: string;
  value: string;
}
export interface PromSample {
  value: number;
  timestamp: number; // ms
}
export interface PromExemplar {
  labels: PromLabel[];
  value: number;
  timestamp: number;
}
export interface PromBucketSpan {
  offset: number;
  length: number;
}
/** A native histogram in the remote-write encoding (integer counts). */
export interface PromHistogram {
  countInt: number;
  sum: number;
  schema: number;
  zeroThreshold: number;
  zeroCountInt: number;
  negativeSpans: PromBucketSpan[];
  negativeDeltas: number[];
  positiveSpans: PromBucketSpan[];
  positiveDeltas: number[];
  timestamp: number;
}
export interface PromTimeSeries {
  labels: PromLabel[];
  samples: PromSample[];
  exemplars: PromExemplar[];
  histograms: PromHistogram[];
}

/**
 * Remote write 1.0 metric metadata (prompb.MetricMetadata): the family's type, so a reader can tell
 * a gauge named `*_total` from a counter. Backends that keep it (Mimir, Cortex) serve it at
 * /api/v1/metadata; Prometheus 2.x and 3.x drop it.
 */
export interface PromMetricMetadata {
  type: PromMetricType;
  metricFamilyName: string;
  help: string;
  unit: string;
}
/** prompb.MetricMetadata.MetricType values. */
export const PROM_METRIC_TYPE = { counter: 1, gauge: 2, histogram: 3, summary: 5 } as const;
export type PromMetricType = (typeof PROM_METRIC_TYPE)[keyof typeof PROM_METRIC_TYPE];

export type ExponentialHistogramMode = 'native' | 'buckets';

export interface TranslateOptions {
  exponentialHistograms: ExponentialHistogramMode;
}

/** Why a point was not translated; counted per reason. */
export type RefusalReason = 'delta_not_converted' | 'exponential_scale_too_small' | 'duplicate_sample';

export interface Translation {
  /** Series per tenant (each tenant is sent in its own request). Labels sorted by name. */
  byTenant: Map<string, PromTimeSeries[]>;
  /** The metadata of each family, by the `__name__` of each of its series (`x`, `x_bucket`, `x_sum`, `x_count`). */
  metadata: Map<string, PromMetricMetadata>;
  samples: number;
  refused: Partial<Record<RefusalReason, number>>;
  /** The indexes in `points` of the points left out whole (delta not converted, scale too small): never written. */
  refusedPoints: Set<number>;
  /** The index in `points` of the point each sample (or native histogram) came from; target_info's have none. */
  pointOf: Map<PromSample | PromHistogram, number>;
}

/** Prometheus' staleness marker: a NaN with a fixed payload (model/value.StaleNaN). */
export const STALE_NAN = (() => {
  const view = new DataView(new ArrayBuffer(8));
  view.setUint32(0, 0x7ff00000);
  view.setUint32(4, 0x00000002);
  return view.getFloat64(0);
})();

const NO_RECORDED_VALUE = 1; // DataPointFlags.FLAG_NO_RECORDED_VALUE_MASK
// Native histogram schemas Prometheus accepts; finer OTel scales are merged down to 8.
const MAX_SCHEMA = 8;
const MIN_SCHEMA = -4;
// Prometheus refuses exemplars whose labels are longer than this in total (names + values, runes).
const EXEMPLAR_MAX_LABELS_LENGTH = 128;
const RESOURCE_LABEL_KEYS = new Set(['service.name', 'service.namespace', 'service.instance.id']);

const nsToMs = (ns: bigint): number => Number(ns / 1_000_000n);

function attributeValue(kv: KeyValue): string {
  return anyValueToFilterString(kv.value) ?? '';
}

// A request's points share their metric's descriptor and their resource, and repeat attribute keys:
// names are worked out once per object or key.
const metricNames = new WeakMap<MetricDescriptor, string>();
const targetsByResource = new WeakMap<Resource, { job?: string; instance?: string }>();
const labelNames = new Map<string, string>();
const LABEL_NAMES_KEPT = 4096;

function cachedMetricName(metric: MetricDescriptor): string {
  let name = metricNames.get(metric);
  if (name === undefined) metricNames.set(metric, (name = metricName(metric)));
  return name;
}

function cachedTarget(resource: Resource): { job?: string; instance?: string } {
  let target = targetsByResource.get(resource);
  if (target === undefined) targetsByResource.set(resource, (target = resourceTarget(resource)));
  return target;
}

function cachedLabelName(key: string): string {
  let name = labelNames.get(key);
  if (name === undefined) {
    // Cleared when full rather than evicted one by one: keys repeat, and the map only saves work.
    if (labelNames.size >= LABEL_NAMES_KEPT) labelNames.clear();
    labelNames.set(key, (name = labelName(key)));
  }
  return name;
}

/** Sanitised labels from attributes; keys that collide after sanitising join their values with ';' in key order. */
function attributeLabels(attrs: readonly KeyValue[], into: Map<string, string>): void {
  const grouped = new Map<string, [string, string][]>();
  for (const kv of attrs) {
    const name = cachedLabelName(kv.key);
    const list = grouped.get(name) ?? [];
    list.push([kv.key, attributeValue(kv)]);
    grouped.set(name, list);
  }
  for (const [name, list] of grouped) {
    list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    into.set(name, list.map((e) => e[1]).join(';'));
  }
}

/** `job` and `instance` from the resource, per the specification. */
export function resourceTarget(resource: Resource): { job?: string; instance?: string } {
  const service = stringAttribute(resource.attributes, 'service.name');
  const namespace = stringAttribute(resource.attributes, 'service.namespace');
  const instance = stringAttribute(resource.attributes, 'service.instance.id');
  const out: { job?: string; instance?: string } = {};
  if (service) out.job = namespace ? `${namespace}/${service}` : service;
  if (instance) out.instance = instance;
  return out;
}

function sortedLabels(map: Map<string, string>): PromLabel[] {
  const labels: PromLabel[] = [];
  for (const [name, value] of map) if (value !== '') labels.push({ name, value });
  return labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function exemplarLabels(e: Exemplar): PromLabel[] {
  const map = new Map<string, string>();
  if (e.traceId) map.set('trace_id', e.traceId);
  if (e.spanId) map.set('span_id', e.spanId);
  let length = [...map].reduce((n, [k, v]) => n + k.length + v.length, 0);
  const extra = new Map<string, string>();
  attributeLabels(e.filteredAttributes, extra);
  // Filtered attributes are kept only while the whole set stays within Prometheus' limit.
  for (const [k, v] of extra) {
    if (map.has(k) || length + k.length + v.length > EXEMPLAR_MAX_LABELS_LENGTH) continue;
    map.set(k, v);
    length += k.length + v.length;
  }
  return sortedLabels(map);
}

function toExemplar(e: Exemplar): PromExemplar {
  return { labels: exemplarLabels(e), value: e.asDouble ?? Number(e.asInt ?? NaN), timestamp: nsToMs(e.timeUnixNano) };
}

/** Builds the output: series merged by label set, samples per series in time order, one per timestamp. */
function createSeriesSet() {
  const tenants = new Map<string, Map<string, PromTimeSeries>>();
  let samples = 0;
  function series(tenant: string, labels: PromLabel[]): PromTimeSeries {
    let byKey = tenants.get(tenant);
    if (!byKey) tenants.set(tenant, (byKey = new Map()));
    const key = labels.map((l) => `${l.name}\u0000${l.value}`).join('\u0001');
    let s = byKey.get(key);
    if (!s) byKey.set(key, (s = { labels, samples: [], exemplars: [], histograms: [] }));
    return s;
  }
  return {
    add(tenant: string, labels: PromLabel[], sample: PromSample, exemplars: PromExemplar[] = []): void {
      const s = series(tenant, labels);
      s.samples.push(sample);
      for (const e of exemplars) s.exemplars.push(e); // not a spread: a point may hold more exemplars than a call takes arguments
      samples++;
    },
    addHistogram(tenant: string, labels: PromLabel[], h: PromHistogram, exemplars: PromExemplar[]): void {
      const s = series(tenant, labels);
      s.histograms.push(h);
      for (const e of exemplars) s.exemplars.push(e); // not a spread: a point may hold more exemplars than a call takes arguments
      samples++;
    },
    /** Sorts by time and keeps the last value per timestamp (Prometheus refuses a second, different one). */
    finish(refuse: (reason: RefusalReason) => void): { byTenant: Map<string, PromTimeSeries[]>; samples: number } {
      const byTenant = new Map<string, PromTimeSeries[]>();
      for (const [tenant, byKey] of tenants) {
        const list: PromTimeSeries[] = [];
        for (const s of byKey.values()) {
          s.samples = dedupe(s.samples, refuse);
          s.histograms = dedupe(s.histograms, refuse);
          s.exemplars.sort((a, b) => a.timestamp - b.timestamp);
          list.push(s);
        }
        byTenant.set(tenant, list);
      }
      return { byTenant, samples };
    },
  };
}

function dedupe<T extends { timestamp: number }>(items: T[], refuse: (reason: RefusalReason) => void): T[] {
  if (items.length < 2) return items;
  const sorted = items.map((item, i) => ({ item, i })).sort((a, b) => a.item.timestamp - b.item.timestamp || a.i - b.i);
  const out: T[] = [];
  for (const { item } of sorted) {
    if (out.length > 0 && out[out.length - 1]!.timestamp === item.timestamp) {
      out[out.length - 1] = item;
      refuse('duplicate_sample');
    } else out.push(item);
  }
  return out;
}

/**
 * The positive or negative buckets of an exponential histogram as native-histogram spans and
 * deltas. OTel bucket i holds (base^i, base^(i+1)]; Prometheus bucket j holds (base^(j-1), base^j],
 * so j = i + 1 (after merging 2^downscale neighbours into one).
 */
export function nativeBuckets(offset: number, counts: readonly number[], downscale: number): { spans: PromBucketSpan[]; deltas: number[] } {
  const merged = new Map<number, number>();
  counts.forEach((c, k) => {
    if (c === 0) return;
    const index = downscaleIndex(offset + k, downscale) + 1;
    merged.set(index, (merged.get(index) ?? 0) + c);
  });
  const indices = [...merged.keys()].sort((a, b) => a - b);
  const spans: PromBucketSpan[] = [];
  const deltas: number[] = [];
  let prevIndex = 0;
  let prevCount = 0;
  for (const [n, index] of indices.entries()) {
    const count = merged.get(index)!;
    if (n === 0) spans.push({ offset: index, length: 1 });
    else if (index === prevIndex + 1) spans[spans.length - 1]!.length++;
    else spans.push({ offset: index - prevIndex - 1, length: 1 });
    deltas.push(count - prevCount);
    prevIndex = index;
    prevCount = count;
  }
  return { spans, deltas };
}

export function translate(points: readonly MetricPoint[], opts: TranslateOptions): Translation {
  const refused: Partial<Record<RefusalReason, number>> = {};
  const refuse = (reason: RefusalReason): void => void (refused[reason] = (refused[reason] ?? 0) + 1);
  const refusedPoints = new Set<number>();
  const out = createSeriesSet();
  const targets = new Map<Resource, { tenant: string; timestamp: number }>();
  const metadata = new Map<string, PromMetricMetadata>();
  const pointOf = new Map<PromSample | PromHistogram, number>();

  for (const [index, mp] of points.entries()) {
    const refusePoint = (reason: RefusalReason) => {
      refuse(reason);
      refusedPoints.add(index);
    };
    const { metric, point, resource, scope, tenant } = mp;
    const base = new Map<string, string>();
    attributeLabels(point.attributes, base);
    const { job, instance } = cachedTarget(resource);
    if (job) base.set(SOURCE_LABELS.job, job);
    if (instance) base.set(SOURCE_LABELS.instance, instance);
    if (scope.name) base.set(SOURCE_LABELS.scopeName, scope.name);
    if (scope.version) base.set(SOURCE_LABELS.scopeVersion, scope.version);
    const name = cachedMetricName(metric);
    const timestamp = nsToMs(point.timeUnixNano);
    const stale = (point.flags & NO_RECORDED_VALUE) !== 0;
    const labelsFor = (metricFamilyName: string, extra?: [string, string]): PromLabel[] => {
      const map = new Map(base);
      map.set('__name__', metricFamilyName);
      if (extra) map.set(extra[0], extra[1]);
      return sortedLabels(map);
    };
    const sample = (value: number): PromSample => {
      const s = { value: stale ? STALE_NAN : value, timestamp };
      pointOf.set(s, index);
      return s;
    };
    const exemplarsOf = (list: readonly Exemplar[]): PromExemplar[] => (stale ? [] : list.map(toExemplar));
    const delta = metric.aggregationTemporality === Temporality.DELTA;

    if (!metadata.has(name)) {
      const type =
        metric.type === 'summary' ? PROM_METRIC_TYPE.summary
        : metric.type === 'histogram' || metric.type === 'exponentialHistogram' ? PROM_METRIC_TYPE.histogram
        : isCounter(metric) ? PROM_METRIC_TYPE.counter
        : PROM_METRIC_TYPE.gauge;
      const family: PromMetricMetadata = { type, metricFamilyName: name, help: metric.description, unit: unitSuffix(metric.unit) };
      for (const suffix of type === PROM_METRIC_TYPE.histogram || type === PROM_METRIC_TYPE.summary ? ['', '_bucket', '_sum', '_count'] : ['']) metadata.set(`${name}${suffix}`, family);
    }

    const prev = targets.get(resource);
    if (!prev || prev.timestamp < timestamp) targets.set(resource, { tenant, timestamp });

    switch (point.type) {
      case 'number': {
        if (metric.type === 'sum' && delta) {
          refusePoint('delta_not_converted');
          break;
        }
        out.add(tenant, labelsFor(name), sample(point.asDouble ?? Number(point.asInt ?? NaN)), exemplarsOf(point.exemplars));
        break;
      }
      case 'histogram': {
        if (delta) {
          refusePoint('delta_not_converted');
          break;
        }
        const { bucketCounts: counts, count, sum } = point;
        // Each exemplar goes on the first bucket whose bound holds its value.
        const bucketExemplars = new Map<number, PromExemplar[]>();
        for (const e of exemplarsOf(point.exemplars)) {
          let i = point.explicitBounds.findIndex((b) => e.value <= b);
          if (i < 0) i = point.explicitBounds.length;
          bucketExemplars.set(i, [...(bucketExemplars.get(i) ?? []), e]);
        }
        let cumulative = 0;
        for (let i = 0; i <= point.explicitBounds.length; i++) {
          cumulative += counts[i] ?? 0;
          const le = i < point.explicitBounds.length ? formatFloat(point.explicitBounds[i]!) : '+Inf';
          // +Inf is the count: a point may carry no bucket counts at all.
          const value = i < point.explicitBounds.length ? cumulative : count;
          out.add(tenant, labelsFor(`${name}_bucket`, ['le', le]), sample(value), bucketExemplars.get(i));
        }
        if (sum !== undefined) out.add(tenant, labelsFor(`${name}_sum`), sample(sum));
        out.add(tenant, labelsFor(`${name}_count`), sample(count));
        break;
      }
      case 'exponentialHistogram': {
        if (delta) {
          refusePoint('delta_not_converted');
          break;
        }
        if (point.scale < MIN_SCHEMA) {
          refusePoint('exponential_scale_too_small');
          break;
        }
        const exemplars = exemplarsOf(point.exemplars);
        if (opts.exponentialHistograms === 'native') {
          const downscale = Math.max(0, point.scale - MAX_SCHEMA);
          const pos = nativeBuckets(point.positive.offset, point.positive.bucketCounts, downscale);
          const neg = nativeBuckets(point.negative.offset, point.negative.bucketCounts, downscale);
          const h: PromHistogram = {
            countInt: point.count,
            sum: point.sum ?? 0,
            schema: point.scale - downscale,
            zeroThreshold: point.zeroThreshold,
            zeroCountInt: point.zeroCount,
            negativeSpans: neg.spans,
            negativeDeltas: neg.deltas,
            positiveSpans: pos.spans,
            positiveDeltas: pos.deltas,
            timestamp,
          };
          pointOf.set(h, index);
          if (stale) out.add(tenant, labelsFor(name), sample(0));
          else out.addHistogram(tenant, labelsFor(name), h, exemplars);
          break;
        }
        // Explicit buckets at the exponential bounds, from the most negative up. A bound is
        // 2^(index·2^-scale), not base^index: that is exact for every power of two, so a bucket
        // keeps its `le` text when the SDK lowers the scale (another text would be another series).
        const bound = (index: number): number => 2 ** (index * 2 ** -point.scale);
        const bounds: [number, number][] = [];
        const neg = point.negative;
        for (let k = neg.bucketCounts.length - 1; k >= 0; k--) bounds.push([-bound(neg.offset + k), neg.bucketCounts[k]!]);
        bounds.push([point.zeroThreshold, point.zeroCount]);
        const posb = point.positive;
        posb.bucketCounts.forEach((c, k) => bounds.push([bound(posb.offset + k + 1), c]));
        // Each exemplar goes on the first bucket whose bound holds its value, as for explicit histograms.
        const bucketExemplars = new Map<number, PromExemplar[]>();
        for (const e of exemplars) {
          let i = bounds.findIndex(([le]) => e.value <= le);
          if (i < 0) i = bounds.length;
          bucketExemplars.set(i, [...(bucketExemplars.get(i) ?? []), e]);
        }
        let cumulative = 0;
        bounds.forEach(([le, c], i) => {
          cumulative += c;
          out.add(tenant, labelsFor(`${name}_bucket`, ['le', formatFloat(le)]), sample(cumulative), bucketExemplars.get(i));
        });
        out.add(tenant, labelsFor(`${name}_bucket`, ['le', '+Inf']), sample(point.count), bucketExemplars.get(bounds.length));
        if (point.sum !== undefined) out.add(tenant, labelsFor(`${name}_sum`), sample(point.sum));
        out.add(tenant, labelsFor(`${name}_count`), sample(point.count));
        break;
      }
      case 'summary': {
        for (const q of point.quantileValues) out.add(tenant, labelsFor(name, ['quantile', formatFloat(q.quantile)]), sample(q.value));
        out.add(tenant, labelsFor(`${name}_sum`), sample(point.sum));
        out.add(tenant, labelsFor(`${name}_count`), sample(point.count));
        break;
      }
    }
  }

  // One target_info per resource with attributes other than those job and instance come from.
  for (const [resource, { tenant, timestamp }] of targets) {
    const map = new Map<string, string>();
    attributeLabels(resource.attributes.filter((kv) => !RESOURCE_LABEL_KEYS.has(kv.key)), map);
    // Nothing beyond job and instance: no target_info, as the Collector's exporter writes none.
    if (map.size === 0) continue;
    const { job, instance } = cachedTarget(resource);
    if (job) map.set(SOURCE_LABELS.job, job);
    if (instance) map.set(SOURCE_LABELS.instance, instance);
    map.set('__name__', 'target_info');
    out.add(tenant, sortedLabels(map), { value: 1, timestamp });
  }
  const { byTenant, samples } = out.finish(refuse);
  return { byTenant, metadata, samples, refused, refusedPoints, pointOf };
}
