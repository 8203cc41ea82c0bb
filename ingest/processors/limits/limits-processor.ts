// Attribute limits after the OpenTelemetry spec (common/README.md#attribute-limits): at most
// `maxAttributes` per record (the rest dropped and added to droppedAttributesCount), string values
// truncated to `maxValueLength` (arrays element by element; never inside a redaction marker: see
// truncate); beyond the spec, bytes values cut to `maxValueLength` base64 characters (at a
// character and never inside a marker when they are text: truncateBytes), arrays cut to
// `maxArrayLength` and values nested deeper than `maxDepth` dropped. Or, with `action: refuse`, the
// batch is refused (permanent error, 400 / INVALID_ARGUMENT) naming the first limit broken. It runs
// after redaction (withSecurityProcessors in src/server/security.ts inserts it there and refuses a
// pipeline naming it first): a secret cut in half no longer matches its rule, and its half is kept.
import { isUtf8 } from 'node:buffer';
import type { Logger } from 'pino';
import { type Consumer, type Processor, type Signal, type SignalItems, permanentError } from '../../component.ts';
import type { AnyValue, KeyValue } from '../../../src/model/telemetry.ts';
import type { MetricSample } from '../../../src/server/metrics.ts';
import { componentType } from '../../registry.ts';
import { type AttributeHolder, visitBatch } from '../attributes-walk.ts';

export interface LimitsProcessorConfig {
  /** Attributes per record, resource, scope, event or link (spec default 128; 0 = no limit). */
  maxAttributes: number;
  /** Characters per string value (0 = no limit, the spec's default). */
  maxValueLength: number;
  /** Elements per array value (0 = no limit). */
  maxArrayLength: number;
  /** Nesting of arrays / key-value lists inside a value (0 = no limit). */
  maxDepth: number;
  action: 'truncate' | 'refuse';
}

export function defaultLimitsProcessorConfig(): LimitsProcessorConfig {
  return { maxAttributes: 128, maxValueLength: 0, maxArrayLength: 0, maxDepth: 0, action: 'truncate' };
}

export interface LimitsStats {
  droppedAttributes: number;
  truncatedValues: number;
  refusedBatches: number;
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

export function createLimitsProcessor<S extends Signal>(
  id: string,
  config: LimitsProcessorConfig,
  signal: S,
  next: Consumer<S>,
  logger: Logger,
): Processor<S> & { stats(): LimitsStats; metrics(): MetricSample[] } {
  for (const key of ['maxAttributes', 'maxValueLength', 'maxArrayLength', 'maxDepth'] as const) {
    if (!Number.isInteger(config[key]) || config[key] < 0) throw new Error(`processors.${id}.${key}: expected an integer of 0 or more (actual: ${config[key]})`);
  }
  if (!['truncate', 'refuse'].includes(config.action)) throw new Error(`processors.${id}.action: expected truncate|refuse (actual: ${config.action})`);
  const stats: LimitsStats = { droppedAttributes: 0, truncatedValues: 0, refusedBatches: 0 };
  const refuse = config.action === 'refuse';
  const broken = (what: string) => {
    if (refuse) throw new LimitBroken(what);
  };

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
        let values = v.arrayValue.values ?? [];
        if (config.maxArrayLength && values.length > config.maxArrayLength) {
          broken(`an array of ${values.length} elements exceeds maxArrayLength of ${config.maxArrayLength}`);
          stats.truncatedValues++;
          values = values.slice(0, config.maxArrayLength);
        }
        const kept: AnyValue[] = [];
        for (const x of values) {
          const limited = limitValue(x, depth + 1);
          if (limited !== undefined) kept.push(limited);
        }
        return { arrayValue: { values: kept } };
      }
      return { kvlistValue: { values: limitList(v.kvlistValue.values ?? [], depth + 1) } };
    }
    return v;
  };

  const limitList = (list: KeyValue[], depth: number): KeyValue[] =>
    list.flatMap((kv) => {
      const value = limitValue(kv.value, depth);
      return value === undefined ? [] : [{ key: kv.key, value }];
    });

  const limitHolder = (h: AttributeHolder) => {
    let list = h.attributes;
    if (config.maxAttributes && list.length > config.maxAttributes) {
      broken(`${list.length} attributes exceed maxAttributes of ${config.maxAttributes}`);
      const dropped = list.length - config.maxAttributes;
      stats.droppedAttributes += dropped;
      if (h.droppedAttributesCount !== undefined) h.droppedAttributesCount += dropped;
      list = list.slice(0, config.maxAttributes);
    }
    const before = list.length;
    h.attributes = limitList(list, 0);
    const droppedDeep = before - h.attributes.length;
    stats.droppedAttributes += droppedDeep;
    if (h.droppedAttributesCount !== undefined) h.droppedAttributesCount += droppedDeep;
  };

  return {
    start: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
    consume(items: readonly SignalItems[S][]) {
      // In place and before the first await: the live-tail tap, fed the same objects right after
      // this call starts, sees the limited records too.
      try {
        visitBatch(signal, items, {
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
      return next.consume(items);
    },
    stats: () => ({ ...stats }),
    metrics: () => [
      { name: 'teleql_limits_dropped_attributes_total', help: 'Attributes dropped by attribute limits', type: 'counter', value: stats.droppedAttributes, labels: { component: id } },
      { name: 'teleql_limits_truncated_values_total', help: 'Values truncated by attribute limits', type: 'counter', value: stats.truncatedValues, labels: { component: id } },
      { name: 'teleql_limits_refused_batches_total', help: 'Batches refused by attribute limits', type: 'counter', value: stats.refusedBatches, labels: { component: id } },
    ],
  };
}
