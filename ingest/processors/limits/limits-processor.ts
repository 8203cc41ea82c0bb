// Attribute limits after the OpenTelemetry spec (common/README.md#attribute-limits): at most
// `maxAttributes` per record (the rest dropped and added to droppedAttributesCount), and the span
// limits (trace/sdk.md#span-limits): at most `maxEvents` / `maxLinks` per span, the first kept and
// the rest added to droppedEventsCount / droppedLinksCount, with `maxAttributesPerEvent` /
// `maxAttributesPerLink` in place of `maxAttributes` for theirs; string values
// truncated to `maxValueLength` (arrays element by element; never inside a redaction marker: see
// truncate); beyond the spec, bytes values cut to `maxValueLength` base64 characters (at a
// character and never inside a marker when they are text: truncateBytes), arrays cut to
// `maxArrayLength`, key-value lists (a map body, a map attribute) to `maxKvlistLength` entries, and
// values nested deeper than `maxDepth` dropped. Metric points (limitPoint): an exponential
// histogram over `maxBuckets` loses resolution, as Prometheus' and Mimir's bucket limits do; an
// explicit-bucket histogram over it is dropped; a summary keeps its first `maxQuantiles`, any point
// its first `maxExemplars` (the SDKs' exemplar reservoirs hold one per bucket or a few). Every
// cut stops at its limit, so a span of 450,000 events costs what one of `maxEvents` does (only a
// downscale reads every bucket, once). Or, with `action: refuse`, the batch is refused (permanent
// error, 400 / INVALID_ARGUMENT) naming the first limit broken. It runs after redaction
// (withSecurityProcessors in src/server/security.ts inserts it there and refuses a pipeline naming
// it first): a secret cut in half no longer matches its rule, and its half is kept.
import { isUtf8 } from 'node:buffer';
import type { Logger } from 'pino';
import { type Consumer, type Processor, type Signal, type SignalItems, permanentError } from '../../component.ts';
import type { AnyValue, ExponentialBuckets, ExponentialHistogramPoint, KeyValue, MetricPoint, SpanRecord } from '../../../src/model/telemetry.ts';
import type { MetricSample } from '../../../src/server/metrics.ts';
import { componentType } from '../../registry.ts';
import { type AttributeHolder, visitBatch } from '../attributes-walk.ts';

export interface LimitsProcessorConfig {
  /** Attributes per record, scope, metric point or exemplar (spec default 128; 0 = no limit); resources are exempt, as the spec says. */
  maxAttributes: number;
  /** Events per span, the first kept (the spec's EventCountLimit, default 128; 0 = no limit). */
  maxEvents: number;
  /** Links per span, the first kept (the spec's LinkCountLimit, default 128; 0 = no limit). */
  maxLinks: number;
  /** Attributes per span event (the spec's AttributePerEventCountLimit, default 128; 0 = no limit). */
  maxAttributesPerEvent: number;
  /** Attributes per span link (the spec's AttributePerLinkCountLimit, default 128; 0 = no limit). */
  maxAttributesPerLink: number;
  /** Characters per string value (0 = no limit, the spec's default). */
  maxValueLength: number;
  /** Elements per array value (0 = no limit). */
  maxArrayLength: number;
  /** Entries per key-value-list value (a map log body or attribute), the first kept (0 = no limit). */
  maxKvlistLength: number;
  /** Nesting of arrays / key-value lists inside a value (0 = no limit). */
  maxDepth: number;
  /** Buckets per histogram point (an exponential one's positive and negative together; 0 = no limit). */
  maxBuckets: number;
  /** Quantiles per summary point, the first kept (0 = no limit). */
  maxQuantiles: number;
  /** Exemplars per metric point, the first kept (0 = no limit). */
  maxExemplars: number;
  action: 'truncate' | 'refuse';
}

const COUNT_KEYS = [
  'maxAttributes', 'maxEvents', 'maxLinks', 'maxAttributesPerEvent', 'maxAttributesPerLink',
  'maxValueLength', 'maxArrayLength', 'maxKvlistLength', 'maxDepth', 'maxBuckets', 'maxQuantiles', 'maxExemplars',
] as const;

export function defaultLimitsProcessorConfig(): LimitsProcessorConfig {
  return {
    maxAttributes: 128, maxEvents: 128, maxLinks: 128, maxAttributesPerEvent: 128, maxAttributesPerLink: 128,
    maxValueLength: 0, maxArrayLength: 0, maxKvlistLength: 0, maxDepth: 0, maxBuckets: 0, maxQuantiles: 0, maxExemplars: 0,
    action: 'truncate',
  };
}

export interface LimitsStats {
  droppedAttributes: number;
  droppedEvents: number;
  droppedLinks: number;
  /** Metric points dropped whole: explicit-bucket histograms over maxBuckets, exponential ones that no resolution fits. */
  droppedPoints: number;
  droppedExemplars: number;
  truncatedValues: number;
  refusedBatches: number;
}

/** The OTel spec's lowest exponential histogram scale (data-model.md#exponentialhistogram). */
const MIN_SCALE = -10;

/** `buckets` without its zero buckets at either end (a count-preserving change: nothing is lost). */
function trimZeros(buckets: ExponentialBuckets): ExponentialBuckets {
  const counts = buckets.bucketCounts;
  let from = 0;
  let to = counts.length;
  while (from < to && counts[from] === 0) from++;
  while (to > from && counts[to - 1] === 0) to--;
  return from === 0 && to === counts.length ? buckets : { offset: buckets.offset + from, bucketCounts: counts.slice(from, to) };
}

/** Buckets `buckets` takes at `shift` scales lower (bucket i of scale s is bucket ⌊i / 2⌋ of scale s − 1). */
function bucketsAfter(buckets: ExponentialBuckets, shift: number): number {
  const n = buckets.bucketCounts.length;
  if (n === 0) return 0;
  const p = 2 ** shift;
  return Math.floor((buckets.offset + n - 1) / p) - Math.floor(buckets.offset / p) + 1;
}

function downscale(buckets: ExponentialBuckets, shift: number): ExponentialBuckets {
  const p = 2 ** shift;
  const offset = Math.floor(buckets.offset / p);
  const counts = new Array<number>(bucketsAfter(buckets, shift)).fill(0);
  buckets.bucketCounts.forEach((c, i) => (counts[Math.floor((buckets.offset + i) / p) - offset]! += c));
  return { offset, bucketCounts: counts };
}

/**
 * The point at the highest resolution whose buckets (both sides) number at most `max`: adjacent
 * buckets merged, as an SDK's exponential aggregation does at its MaxSize and Prometheus / Mimir do
 * at their native-histogram bucket limits. Count, sum, min, max and the zero bucket are unchanged,
 * so the point says the same at a coarser resolution. Undefined when even scale −10 does not fit.
 */
function fitExponential(p: ExponentialHistogramPoint, max: number): ExponentialHistogramPoint | undefined {
  const positive = trimZeros(p.positive);
  const negative = trimZeros(p.negative);
  // Past 40 halvings every side (int32 offsets, fewer than 2^33 buckets) is at most two buckets, so
  // later shifts fit nothing earlier ones did not; the bound also keeps a nonsense scale from looping.
  for (let shift = 0; shift <= 40 && p.scale - shift >= MIN_SCALE; shift++) {
    if (bucketsAfter(positive, shift) + bucketsAfter(negative, shift) <= max) {
      return shift === 0 ? { ...p, positive, negative } : { ...p, scale: p.scale - shift, positive: downscale(positive, shift), negative: downscale(negative, shift) };
    }
  }
  return undefined;
}

class LimitBroken extends Error {}

const MARKER = '<redacted:';
/** The longest marker the redaction processor writes (`<redacted:secretAssignment>`), with room for longer rule names. */
const MARKER_MAX = 40;

/**
 * `s` cut to at most `max` characters. A cut inside a redaction marker (`<redacted:rule>`, written by
 * the redaction processor, which runs first) moves before the marker, so the value is shorter than
 * the limit rather than ending in `<redacted:cre`. Not the marker kept whole past the cut: `max` is a
 * bound the spec promises and storage relies on, and `refuse` measures the same length. Not a partial
 * marker: it is neither the data nor a marker, so it reads as data that was sent and is not found
 * by a search for the rule's marker. What is lost is only the sign that something masked followed.
 */
function truncate(s: string, max: number): string {
  const from = s.lastIndexOf(MARKER, max - 1);
  if (from !== -1 && max - from < MARKER_MAX) {
    const close = s.indexOf('>', from + MARKER.length);
    if (close === -1 || close >= max) return s.slice(0, from);
  }
  // Nor half a character: a cut between a surrogate pair's halves would leave a lone high surrogate,
  // which every UTF-8 encoder (storage, exporters) turns into U+FFFD.
  const code = s.charCodeAt(max - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/**
 * A bytes value (base64) cut so its base64 is at most `max` characters: its first ⌊max / 4⌋ × 3
 * bytes, re-encoded. When those bytes are text (UTF-8, as the redaction processor reads them: it
 * scans bytes values that decode and writes its markers into them), the cut is made as truncate
 * makes it in a string: never inside a character (a partial multi-byte sequence makes the whole
 * value binary to every reader after us, and the redaction processor's `isUtf8` test with it), and
 * never inside a `<redacted:…>` marker (ASCII, so found byte by byte). Bytes that are not UTF-8
 * even so cut are binary and cut at the byte.
 */
function truncateBytes(base64: string, max: number): string {
  const bytes = Buffer.from(base64, 'base64');
  let cut = Math.min(bytes.length, Math.floor(max / 4) * 3);
  if (cut < bytes.length) {
    // Back to the start of the character the cut falls in: past at most 3 continuation bytes (10xxxxxx).
    let start = cut;
    while (start > 0 && cut - start < 3 && (bytes[start]! & 0xc0) === 0x80) start--;
    if ((bytes[start]! & 0xc0) !== 0x80 && isUtf8(bytes.subarray(0, start))) {
      cut = start;
      const from = cut > 0 ? bytes.lastIndexOf(MARKER, cut - 1) : -1; // (an offset of -1 would search from the end)
      if (from !== -1 && cut - from < MARKER_MAX) {
        const close = bytes.indexOf(0x3e, from + MARKER.length); // '>'
        if (close === -1 || close >= cut) cut = from;
      }
    }
  }
  return bytes.subarray(0, cut).toString('base64');
}

/**
 * `points` without those `limit` drops, compacted in place: the receiver's array is the one the
 * live-tail tap is given after this processor (ingest/pipeline.ts), and tails show what the store
 * will hold.
 */
function keepPoints(points: MetricPoint[], limit: (m: MetricPoint) => MetricPoint | undefined): MetricPoint[] {
  let n = 0;
  for (const m of points) {
    const kept = limit(m);
    if (kept) points[n++] = kept;
  }
  points.length = n;
  return points;
}

export function createLimitsProcessor<S extends Signal>(
  id: string,
  config: LimitsProcessorConfig,
  signal: S,
  next: Consumer<S>,
  logger: Logger,
): Processor<S> & { stats(): LimitsStats; metrics(): MetricSample[] } {
  for (const key of COUNT_KEYS) {
    if (!Number.isInteger(config[key]) || config[key] < 0) throw new Error(`processors.${id}.${key}: expected an integer of 0 or more (actual: ${config[key]})`);
  }
  if (!['truncate', 'refuse'].includes(config.action)) throw new Error(`processors.${id}.action: expected truncate|refuse (actual: ${config.action})`);
  const stats: LimitsStats = { droppedAttributes: 0, droppedEvents: 0, droppedLinks: 0, droppedPoints: 0, droppedExemplars: 0, truncatedValues: 0, refusedBatches: 0 };
  const refuse = config.action === 'refuse';
  const broken = (what: string) => {
    if (refuse) throw new LimitBroken(what);
  };
  /**
   * The first `config[key]` of `list` (the whole list when the limit is 0 or it fits); past it the
   * limit is broken (`message(length, max)` says how) and `leftOut` is told how many were not kept.
   */
  const firstOf = <T>(list: T[], key: (typeof COUNT_KEYS)[number], message: (length: number, max: number) => string, leftOut: (n: number) => void): T[] => {
    const max = config[key];
    if (!max || list.length <= max) return list;
    broken(message(list.length, max));
    leftOut(list.length - max);
    return list.slice(0, max);
  };
  const countTruncated = () => void stats.truncatedValues++;

  /** The value within the limits, or undefined to drop it. `depth` counts enclosing arrays/lists. */
  const limitValue = (v: AnyValue, depth: number): AnyValue | undefined => {
    if ('stringValue' in v) {
      if (config.maxValueLength && v.stringValue.length > config.maxValueLength) {
        broken(`a string value of ${v.stringValue.length} characters exceeds maxValueLength of ${config.maxValueLength}`);
        stats.truncatedValues++;
        return { stringValue: truncate(v.stringValue, config.maxValueLength) };
      }
      return v;
    }
    if ('bytesValue' in v && config.maxValueLength && v.bytesValue.length > config.maxValueLength) {
      broken(`a bytes value exceeds maxValueLength of ${config.maxValueLength}`);
      stats.truncatedValues++;
      return { bytesValue: truncateBytes(v.bytesValue, config.maxValueLength) };
    }
    if ('arrayValue' in v || 'kvlistValue' in v) {
      if (config.maxDepth && depth >= config.maxDepth) {
        broken(`a value nested more than maxDepth of ${config.maxDepth} levels`);
        return undefined;
      }
      if ('arrayValue' in v) {
        const values = firstOf(v.arrayValue.values ?? [], 'maxArrayLength', (n, max) => `an array of ${n} elements exceeds maxArrayLength of ${max}`, countTruncated);
        const kept: AnyValue[] = [];
        for (const x of values) {
          const limited = limitValue(x, depth + 1);
          if (limited !== undefined) kept.push(limited);
        }
        return { arrayValue: { values: kept } };
      }
      const entries = firstOf(v.kvlistValue.values ?? [], 'maxKvlistLength', (n, max) => `a key-value list of ${n} entries exceeds maxKvlistLength of ${max}`, countTruncated);
      return { kvlistValue: { values: limitList(entries, depth + 1) } };
    }
    return v;
  };

  const limitList = (list: KeyValue[], depth: number): KeyValue[] =>
    list.flatMap((kv) => {
      const value = limitValue(kv.value, depth);
      return value === undefined ? [] : [{ key: kv.key, value }];
    });

  /** Span events and links of the batch being limited: their attribute count limits are their own. */
  const countKeyOf = new WeakMap<object, 'maxAttributesPerEvent' | 'maxAttributesPerLink'>();
  /**
   * Resources are exempt from the attribute count limit, as the spec says they should be (they do not
   * grow with auto-instrumentation): kept first-N, an SDK's own resource attributes pushed
   * `service.name` out, and every record of the service read as `unknown_service`; with `refuse`, a
   * stock SDK's batches were refused under a small maxAttributes. Their values are still limited.
   */
  const resources = new WeakSet<object>();

  const limitHolder = (h: AttributeHolder) => {
    const key = countKeyOf.get(h) ?? 'maxAttributes';
    const list = resources.has(h) ? h.attributes : firstOf(h.attributes, key, (n, max) => `${n} attributes exceed ${key} of ${max}`, (dropped) => {
      stats.droppedAttributes += dropped;
      if (h.droppedAttributesCount !== undefined) h.droppedAttributesCount += dropped;
    });
    const before = list.length;
    h.attributes = limitList(list, 0);
    const droppedDeep = before - h.attributes.length;
    stats.droppedAttributes += droppedDeep;
    if (h.droppedAttributesCount !== undefined) h.droppedAttributesCount += droppedDeep;
  };

  /** Events and links past the span limits dropped and counted, before anything walks them. */
  const limitSpan = (span: SpanRecord) => {
    span.events = firstOf(span.events, 'maxEvents', (n, max) => `${n} events exceed maxEvents of ${max}`, (dropped) => {
      stats.droppedEvents += dropped;
      span.droppedEventsCount += dropped;
    });
    span.links = firstOf(span.links, 'maxLinks', (n, max) => `${n} links exceed maxLinks of ${max}`, (dropped) => {
      stats.droppedLinks += dropped;
      span.droppedLinksCount += dropped;
    });
    for (const e of span.events) countKeyOf.set(e, 'maxAttributesPerEvent');
    for (const l of span.links) countKeyOf.set(l, 'maxAttributesPerLink');
  };

  /**
   * The point within maxExemplars / maxBuckets / maxQuantiles, or undefined to drop it. Only what
   * keeps the point true: exemplars are samples, and a summary's quantiles each stand alone, so the
   * first are kept; an exponential histogram
   * loses resolution (fitExponential). An explicit-bucket histogram cut or with buckets merged would
   * claim bounds it was not measured with, and a series whose bounds change from point to point
   * breaks rate and quantile queries over buckets, so it is dropped whole and counted.
   */
  const limitPoint = (m: MetricPoint): MetricPoint | undefined => {
    const p = m.point;
    if ('exemplars' in p) {
      p.exemplars = firstOf(p.exemplars, 'maxExemplars', (n, max) => `a point of ${n} exemplars exceeds maxExemplars of ${max}`, (dropped) => {
        stats.droppedExemplars += dropped;
      });
    }
    if (p.type === 'summary') {
      p.quantileValues = firstOf(p.quantileValues, 'maxQuantiles', (n, max) => `a summary of ${n} quantiles exceeds maxQuantiles of ${max}`, countTruncated);
      return m;
    }
    if (!config.maxBuckets) return m;
    if (p.type === 'histogram' && p.bucketCounts.length > config.maxBuckets) {
      broken(`a histogram of ${p.bucketCounts.length} buckets exceeds maxBuckets of ${config.maxBuckets}`);
      stats.droppedPoints++;
      return undefined;
    }
    if (p.type === 'exponentialHistogram') {
      const buckets = p.positive.bucketCounts.length + p.negative.bucketCounts.length;
      if (buckets <= config.maxBuckets) return m;
      broken(`an exponential histogram of ${buckets} buckets exceeds maxBuckets of ${config.maxBuckets}`);
      const fitted = fitExponential(p, config.maxBuckets);
      if (!fitted) {
        stats.droppedPoints++;
        return undefined;
      }
      if (fitted.scale !== p.scale) stats.truncatedValues++;
      m.point = fitted;
    }
    return m;
  };

  return {
    start: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
    consume(items: readonly SignalItems[S][]) {
      // In place and before the first await: the live-tail tap, fed the same objects right after
      // this call starts, sees the limited records too.
      let kept = items;
      try {
        for (const item of items) if (item.resource) resources.add(item.resource);
        if (signal === 'traces') for (const span of items as readonly SpanRecord[]) limitSpan(span);
        if (signal === 'metrics' && (config.maxBuckets || config.maxQuantiles || config.maxExemplars)) kept = keepPoints(items as unknown as MetricPoint[], limitPoint) as unknown as typeof items;
        visitBatch(signal, kept, {
          attributes: limitHolder,
          value: (v, set) => {
            const limited = limitValue(v, 0);
            if (limited !== v) set(limited ?? { stringValue: '' });
          },
        });
      } catch (err) {
        if (!(err instanceof LimitBroken)) throw err;
        stats.refusedBatches++;
        logger.debug({ limit: err.message }, 'batch refused by attribute limits');
        return Promise.reject(permanentError(`attribute limits (processors.${componentType(id)}): ${err.message}`));
      }
      return kept.length > 0 ? next.consume(kept) : Promise.resolve();
    },
    stats: () => ({ ...stats }),
    metrics: () => [
      { name: 'teleql_limits_dropped_attributes_total', help: 'Attributes dropped by attribute limits', type: 'counter', value: stats.droppedAttributes, labels: { component: id } },
      { name: 'teleql_limits_dropped_events_total', help: 'Span events dropped by the span limits', type: 'counter', value: stats.droppedEvents, labels: { component: id } },
      { name: 'teleql_limits_dropped_links_total', help: 'Span links dropped by the span limits', type: 'counter', value: stats.droppedLinks, labels: { component: id } },
      { name: 'teleql_limits_dropped_points_total', help: 'Metric points dropped by the bucket limit', type: 'counter', value: stats.droppedPoints, labels: { component: id } },
      { name: 'teleql_limits_dropped_exemplars_total', help: 'Exemplars dropped by the exemplar limit', type: 'counter', value: stats.droppedExemplars, labels: { component: id } },
      { name: 'teleql_limits_truncated_values_total', help: 'Values truncated by attribute limits (strings, bytes, arrays and key-value lists cut; summaries cut; exponential histograms downscaled)', type: 'counter', value: stats.truncatedValues, labels: { component: id } },
      { name: 'teleql_limits_refused_batches_total', help: 'Batches refused by attribute limits', type: 'counter', value: stats.refusedBatches, labels: { component: id } },
    ],
  };
}
