// The identity of a record across the live/stored seam of a replay: which stored record is the copy
// of one published live. Spans have IDs; logs and metric points do not, so their identity is their
// content: all of it that tells two sources apart (the whole resource, as two pods of one service
// logging one line at one instant are two records, and the scope). Two identical records are told
// apart by counting (replay.ts).
// A store may keep a record cut (DuckDB: to fit 16,000 characters a column, a JSON column's strings
// all to one length, as short as one character and the mark, and attributes dropped off the end of
// a list when their keys alone do not fit, counted in its droppedAttributesCount;
// src/stores/duckdb/long-values.ts). So a record has two identities: `key`, its whole content, equal
// for a copy kept whole (one map lookup: the common case); and `cutCopy`, for the rest: a key made
// only of what no store changes (times, IDs, severity, names, attribute keys, each text's first
// character), and the check that a stored record of that key is the live one with values cut
// (a cut value matches the whole one it starts) or attributes dropped.
import type { KeyValue, LogRecord, MetricPoint, SpanRecord } from '../model/telemetry.ts';
import { CUT_MARK } from '../stores/duckdb/long-values.ts';


export interface RecordIdentity<R> {
  /** Equal for a live record and a stored copy of it the store kept whole. */
  key(record: R): string;
  /** For records a store may keep cut; absent: stores keep them whole (spans are found by ID). */
  cutCopy?: {
    /** Equal for a live record and every stored copy of it, whatever the store cut. */
    key(record: R): string;
    /** Whether `stored` (of the same cutCopy key) is `live` as a store keeps it, cut or whole. */
    matches(stored: R, live: R): boolean;
  };
}

/**
 * `value` as JSON with each string value by its first character, which any cut keeps (bytes by
 * nothing: they are cut to whole base64 groups, possibly none). Attribute keys stay whole: no store cuts them.
 */
const outline = (value: unknown): string =>
  JSON.stringify(value, (prop, v: unknown) => (typeof v !== 'string' || prop === 'key' ? v : prop === 'bytesValue' ? '' : v.slice(0, 1))) ?? '';

/** Whether `stored` is `live`, or a cut copy of it: a prefix marked as cut (bytes: a plain prefix). */
function sameText(stored: string, live: string, prop: string | undefined): boolean {
  if (stored === live) return true;
  if (prop === 'key' || stored.length > live.length) return false;
  if (prop === 'bytesValue') return live.startsWith(stored);
  return stored.endsWith(CUT_MARK) && live.startsWith(stored.slice(0, -CUT_MARK.length));
}

/** Whether the stored value (as JSON gives it) is the live one with strings possibly cut. */
function sameValue(stored: unknown, live: unknown, prop?: string): boolean {
  if (typeof stored === 'string' && typeof live === 'string') return sameText(stored, live, prop);
  if (Array.isArray(stored) || Array.isArray(live)) {
    return Array.isArray(stored) && Array.isArray(live) && stored.length === live.length && stored.every((x, i) => sameValue(x, live[i]));
  }
  if (stored !== null && live !== null && typeof stored === 'object' && typeof live === 'object') {
    const s = stored as Record<string, unknown>;
    const l = live as Record<string, unknown>;
    const keys = Object.keys(s);
    return keys.length === Object.keys(l).length && keys.every((k) => k in l && sameValue(s[k], l[k], k));
  }
  return stored === live;
}

/** A value as JSON reads it back (undefined properties gone), so both copies compare alike. */
const plain = (v: unknown): unknown => (v === undefined ? undefined : (JSON.parse(JSON.stringify(v) ?? 'null') as unknown));

const same = (stored: unknown, live: unknown): boolean => sameValue(plain(stored), plain(live));

/** An attribute list: the stored one may have lost items off its end, counted in its dropped count. */
function sameList(stored: readonly KeyValue[], storedDropped: number, live: readonly KeyValue[], liveDropped: number): boolean {
  const lost = live.length - stored.length;
  if (lost < 0 || (lost > 0 && storedDropped - liveDropped !== lost)) return false;
  return same(stored, live.slice(0, stored.length));
}

type Sourced = Pick<LogRecord, 'resource' | 'scope'>;

const sameSource = (stored: Sourced, live: Sourced): boolean =>
  sameList(stored.resource.attributes, stored.resource.droppedAttributesCount, live.resource.attributes, live.resource.droppedAttributesCount) &&
  sameText(stored.scope.name, live.scope.name, undefined) &&
  sameText(stored.scope.version, live.scope.version, undefined);

const json = (value: unknown): string => JSON.stringify(value) ?? '';

export function spanKey(s: SpanRecord): string {
  return `${s.traceId}/${s.spanId}/${s.startTimeUnixNano}`;
}

export const spanIdentity: RecordIdentity<SpanRecord> = { key: spanKey };

const source = (r: Sourced): string[] => [json(r.resource.attributes), r.scope.name, r.scope.version];
const logHead = (l: LogRecord): unknown[] => [l.timeUnixNano, l.observedTimeUnixNano, l.traceId, l.spanId, l.severityNumber, l.eventName];

export const logIdentity: RecordIdentity<LogRecord> = {
  key: (l) => [...logHead(l), json(l.body), ...source(l), json(l.attributes)].join('\u0000'),
  cutCopy: {
    key: (l) => [...logHead(l), outline(l.body)].join('\u0000'),
    matches: (stored, live) =>
      same(stored.body, live.body) &&
      sameList(stored.attributes, stored.droppedAttributesCount, live.attributes, live.droppedAttributesCount) &&
      sameSource(stored, live),
  },
};

const pointHead = (m: MetricPoint): unknown[] => [m.metric.name, m.point.startTimeUnixNano, m.point.timeUnixNano];

export const metricPointIdentity: RecordIdentity<MetricPoint> = {
  key: (m) => [...pointHead(m), ...source(m), json(m.point.attributes)].join('\u0000'),
  cutCopy: {
    // Point attributes lose no items in a store (only their values are cut): their keys are all there.
    key: (m) => [...pointHead(m), outline(m.point.attributes)].join('\u0000'),
    matches: (stored, live) => same(stored.point.attributes, live.point.attributes) && sameSource(stored, live),
  },
};
