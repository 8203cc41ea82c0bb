// The Elasticsearch document of a log record, both ways.
//
// Field names follow Elastic's OTel layout (`@timestamp`, `severity_number`, `body.text`,
// `attributes.*`, `resource.attributes.*`, `scope.name`, `trace_id`, …), so Kibana and other readers
// see the usual fields. A structured (non-string) body is `body.structured` as its OTLP/JSON AnyValue
// (`{"kvlistValue":{"values":[…]}}`, `{"intValue":"42"}`; NaN, ±Infinity and -0 as proto3 JSON strings:
// `{"doubleValue":"NaN"}`), not the plain value. Two teleql fields make the store exact:
// - `teleql.tenant` on every document; every query filters on it.
// - `teleql.record`: the whole record as OTLP/JSON text (not indexed), which reads decode, so a read
//   returns exactly the LogRecord that was written (bigint times, int vs double, bytes, nested values).
// `teleql.id` repeats the document `_id` as a sortable keyword (sorting on `_id` is disabled in 8.x).
import { createHash } from 'node:crypto';
import type { AnyValue, InstrumentationScope, KeyValue, LogRecord, Resource } from '../../model/telemetry.ts';
import { anyValueToFilterString, anyValueToOtlpJson, type PlainJson } from '../../model/values.ts';
import { anyValue } from '../../otlp/convert-common.ts';
import type { StoredLogRecord } from '../types.ts';
import { INT64_MAX } from '../../model/int64.ts';

/** The largest instant a `date_nanos` field holds (2262-04-11T23:47:16.854775807Z). */
export const DATE_NANOS_MAX = INT64_MAX;
const NS_PER_MS = 1_000_000n;

const NS_PER_S = 1_000_000_000n;
// The date-and-seconds part of the last instant formatted: a batch's records mostly share it, and
// building a Date and its ISO text for each was a tenth of a record's document (bench:fanout).
let lastSecond = -1n;
let lastSecondText = '';

/** Nanoseconds since the epoch → `2099-11-15T14:12:12.000000001Z` (nine fraction digits), clamped to date_nanos. */
export function nsToIso(ns: bigint): string {
  const v = ns < 0n ? 0n : ns > DATE_NANOS_MAX ? DATE_NANOS_MAX : ns;
  const second = v / NS_PER_S;
  if (second !== lastSecond) {
    lastSecondText = new Date(Number(v / NS_PER_MS)).toISOString().slice(0, 19); // …T14:12:12
    lastSecond = second;
  }
  const frac = (v % NS_PER_S).toString().padStart(9, '0');
  return `${lastSecondText}.${frac}Z`;
}

const ISO = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** An ISO date (any fraction up to ns; no zone means UTC) or epoch milliseconds → ns; null otherwise. */
export function isoToNs(value: unknown): bigint | null {
  if (typeof value === 'number' && Number.isFinite(value)) return BigInt(Math.trunc(value)) * NS_PER_MS;
  if (typeof value !== 'string') return null;
  const m = ISO.exec(value.trim());
  if (!m) return null;
  const [, date, time = '00:00:00', frac = '', zone = 'Z'] = m;
  const seconds = Date.parse(`${date}T${time.length === 5 ? `${time}:00` : time}${zone === 'Z' ? 'Z' : normaliseZone(zone)}`);
  if (!Number.isFinite(seconds)) return null;
  return BigInt(seconds) * NS_PER_MS + BigInt(frac.padEnd(9, '0'));
}

const normaliseZone = (z: string) => (z.length === 3 ? `${z}:00` : z.includes(':') ? z : `${z.slice(0, 3)}:${z.slice(3)}`);

// ---- teleql.record: lossless OTLP/JSON text -------------------------------------------------

// JSON.stringify throws on bigints and writes NaN/±Infinity as null and -0 as 0: those become strings.
function replacer(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) return Object.is(v, -0) ? '-0' : String(v);
  return v;
}

function reviver(key: string, v: unknown): unknown {
  if (typeof v !== 'string') return v;
  if (key === 'doubleValue') return Number(v);
  if (key === 'timeUnixNano' || key === 'observedTimeUnixNano') return BigInt(v);
  return v;
}

type RecordBody = Omit<LogRecord, 'tenant'>;

// A request's records share their resource and scope objects: each is encoded once. (JSON.stringify
// with a replacer is slow, and the resource was most of a record's text.)
const partText = new WeakMap<object, string>();
const partJson = (part: object): string => {
  let text = partText.get(part);
  if (text === undefined) partText.set(part, (text = JSON.stringify(part, replacer)));
  return text;
};

/**
 * The record without its tenant (kept in `teleql.tenant`), times as decimal strings. Byte for byte
 * `JSON.stringify` of the record in this key order with `replacer`: document IDs hash this text, so
 * a batch resent after an upgrade (from the spill) must give the same IDs.
 */
export function encodeRecord(l: LogRecord): string {
  const rest = JSON.stringify(
    {
      severityNumber: l.severityNumber,
      severityText: l.severityText,
      body: l.body,
      attributes: l.attributes,
      droppedAttributesCount: l.droppedAttributesCount,
      flags: l.flags,
      traceId: l.traceId,
      spanId: l.spanId,
      eventName: l.eventName,
    },
    replacer,
  );
  const head = `{"resource":${partJson(l.resource)},"scope":${partJson(l.scope)},"timeUnixNano":"${l.timeUnixNano}","observedTimeUnixNano":"${l.observedTimeUnixNano}"`;
  return rest === '{}' ? `${head}}` : `${head},${rest.slice(1)}`;
}

export function decodeRecord(text: string): RecordBody {
  return JSON.parse(text, reviver) as RecordBody;
}

// ---- indexed fields ---------------------------------------------------------------------------

/**
 * Attribute keys that can be a field name under `attributes` (an object with `subobjects: false`):
 * ES refuses empty names and names with empty path parts, and `*` would read as a pattern in queries.
 * Other keys are kept in `teleql.record` only, so a filter on them matches nothing.
 */
export function indexableKey(key: string): boolean {
  return key.trim() !== '' && !key.startsWith('.') && !key.endsWith('.') && !key.includes('..') && !key.includes('*');
}

/**
 * The indexed form of a value: scalars as plain JSON (ints as numbers when they are safe integers, else their
 * decimal text; bytes as base64), lists and maps as their compact JSON text, which is the string form
 * filters compare against (`anyValueToFilterString`), as a keyword shows a number.
 */
export function indexedValue(v: AnyValue): string | number | boolean | null {
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) {
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : v.intValue;
  }
  if ('doubleValue' in v) return Number.isFinite(v.doubleValue) ? v.doubleValue : String(v.doubleValue);
  return anyValueToFilterString(v);
}

/** Flat `{ "http.method": "GET", … }`; later keys win, empty values and unindexable keys are left out. */
export function indexedAttributes(attrs: readonly KeyValue[]): Record<string, string | number | boolean> | undefined {
  let out: Record<string, string | number | boolean> | undefined;
  for (const kv of attrs) {
    if (!indexableKey(kv.key)) continue;
    const v = indexedValue(kv.value);
    if (v === null) continue;
    out ??= Object.create(null) as Record<string, string | number | boolean>;
    out[kv.key] = v;
  }
  return out;
}

/** `data_stream.*` for a name that follows the `type-dataset-namespace` scheme. */
export function dataStreamFields(name: string): { type: string; dataset: string; namespace: string } | undefined {
  const m = /^([^-]+)-(.+)-([^-]+)$/.exec(name);
  return m ? { type: m[1]!, dataset: m[2]!, namespace: m[3]! } : undefined;
}

export interface LogDocument {
  '@timestamp': string;
  observed_timestamp: string;
  severity_number: number;
  severity_text?: string;
  /** `structured`: the OTLP/JSON AnyValue (`anyValueToOtlpJson`). */
  body?: { text: string } | { structured: unknown };
  attributes?: Record<string, string | number | boolean>;
  resource?: { attributes?: Record<string, string | number | boolean>; schema_url?: string };
  scope?: { name?: string; version?: string };
  trace_id?: string;
  span_id?: string;
  event_name?: string;
  data_stream?: { type: string; dataset: string; namespace: string };
  teleql: { tenant: string; id: string; record: string; body_text?: string };
}

/** Per-batch cache: a batch's records share a few Resource objects, indexed once each. */
export type ResourceCache = Map<Resource, LogDocument['resource']>;

function resourceFields(r: Resource, cache: ResourceCache): LogDocument['resource'] {
  if (cache.has(r)) return cache.get(r);
  const attributes = indexedAttributes(r.attributes);
  const out = attributes || r.schemaUrl ? { ...(attributes && { attributes }), ...(r.schemaUrl && { schema_url: r.schemaUrl }) } : undefined;
  cache.set(r, out);
  return out;
}

function scopeFields(s: InstrumentationScope): LogDocument['scope'] {
  if (!s.name && !s.version) return undefined;
  return { ...(s.name && { name: s.name }), ...(s.version && { version: s.version }) };
}

/**
 * The document for one record. `@timestamp` is the event time, or the observed time when the event
 * time is unset (as the DuckDB store's `time_ns`), so time ranges and ordering agree across stores.
 */
export function logToDocument(
  l: LogRecord,
  id: string,
  record: string,
  dataStream: LogDocument['data_stream'],
  cache: ResourceCache,
): LogDocument {
  const time = l.timeUnixNano === 0n ? l.observedTimeUnixNano : l.timeUnixNano;
  const doc: LogDocument = {
    '@timestamp': nsToIso(time),
    observed_timestamp: nsToIso(l.observedTimeUnixNano),
    severity_number: l.severityNumber,
    teleql: { tenant: l.tenant, id, record },
  };
  if (l.severityText) doc.severity_text = l.severityText;
  if ('stringValue' in l.body) doc.body = { text: l.body.stringValue };
  else if (Object.keys(l.body).length > 0) {
    // As proto3 JSON writes it: the client's JSON.stringify would write NaN and ±Infinity as null, -0 as 0.
    doc.body = { structured: anyValueToOtlpJson(l.body) };
    // Searchable text of a structured body (what bodyContains matches, as in the DuckDB store).
    const text = anyValueToFilterString(l.body);
    if (text !== null) doc.teleql.body_text = text;
  }
  const attributes = indexedAttributes(l.attributes);
  if (attributes) doc.attributes = attributes;
  const resource = resourceFields(l.resource, cache);
  if (resource) doc.resource = resource;
  const scope = scopeFields(l.scope);
  if (scope) doc.scope = scope;
  if (l.traceId) doc.trace_id = l.traceId.toLowerCase();
  if (l.spanId) doc.span_id = l.spanId.toLowerCase();
  if (l.eventName) doc.event_name = l.eventName;
  if (dataStream) doc.data_stream = dataStream;
  return doc;
}

/**
 * A stable document ID for a record: a hash of its tenant, its OTLP/JSON and its occurrence number
 * among equal records of the batch. Resending the same batch gives the same IDs, so a `create` that
 * already succeeded answers 409 instead of writing a duplicate.
 */
export function recordId(tenant: string, record: string, occurrence: number): string {
  return createHash('sha256').update(tenant).update('\0').update(record).update('\0').update(String(occurrence)).digest('base64url').slice(0, 22);
}

// ---- reading ----------------------------------------------------------------------------------

type Source = Record<string, unknown>;

const isObject = (v: unknown): v is Source => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A hit's `_source` → the record. Documents written by teleql decode `teleql.record`; others are rebuilt. */
export function documentToLog(source: unknown, id: string, tenant: string): StoredLogRecord {
  const src = isObject(source) ? source : {};
  const teleql = isObject(src.teleql) ? src.teleql : {};
  const owner = typeof teleql.tenant === 'string' ? teleql.tenant : tenant;
  if (typeof teleql.record === 'string') {
    try {
      return { id, tenant: owner, ...decodeRecord(teleql.record) };
    } catch {
      // Unreadable (edited by hand, truncated by a pipeline): the indexed fields still describe the record.
    }
  }
  return { id, tenant: owner, ...rebuildRecord(src) };
}

const AT = (src: Source, path: string): unknown => {
  if (path in src) return src[path];
  let v: unknown = src;
  for (const part of path.split('.')) v = isObject(v) ? v[part] : undefined;
  return v;
};

/** Plain JSON → AnyValue: integers as intValue, other numbers as doubleValue, objects as kvlists. */
export function plainToAnyValue(v: PlainJson | undefined): AnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(plainToAnyValue) } };
  if (isObject(v)) return { kvlistValue: { values: Object.entries(v).map(([key, value]) => ({ key, value: plainToAnyValue(value as PlainJson) })) } };
  return {};
}

/** Nested objects become dotted keys (`{http:{method:"get"}}` → `http.method`), as ES reads them. */
function flatten(obj: Source, prefix: string, out: KeyValue[], skip?: ReadonlySet<string>): KeyValue[] {
  for (const [k, v] of Object.entries(obj)) {
    if (!prefix && skip?.has(k)) continue;
    const key = prefix ? `${prefix}.${k}` : k;
    if (isObject(v)) flatten(v, key, out);
    else out.push({ key, value: plainToAnyValue(v as PlainJson) });
  }
  return out;
}

// Top-level fields of the OTel layout; any other top-level field (an ECS document's `http.*`,
// `user.id`, …) is read as a record attribute.
const LAYOUT_FIELDS = new Set([
  '@timestamp', 'observed_timestamp', 'severity_number', 'severity_text', 'body', 'message', 'attributes', 'resource', 'scope',
  'trace_id', 'span_id', 'event_name', 'data_stream', 'teleql', 'dropped_attributes_count', 'flags',
]);

const ANY_VALUE_KEYS = new Set(['stringValue', 'boolValue', 'intValue', 'doubleValue', 'bytesValue', 'arrayValue', 'kvlistValue']);
const isAnyValue = (v: unknown): v is AnyValue => {
  if (!isObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && ANY_VALUE_KEYS.has(keys[0]!);
};

function rebuildBody(src: Source): AnyValue {
  const text = AT(src, 'body.text');
  if (typeof text === 'string') return { stringValue: text };
  const structured = AT(src, 'body.structured');
  if (isAnyValue(structured)) {
    // teleql's layout keeps the OTLP/JSON AnyValue ("NaN" and "-0" doubles as strings, ints as strings or numbers).
    try {
      return anyValue(structured);
    } catch {
      // Not OTLP/JSON after all (another tool's object with one such key): read as plain JSON.
    }
  }
  if (structured !== undefined) return plainToAnyValue(structured as PlainJson);
  if (typeof src.body === 'string') return { stringValue: src.body };
  if (typeof src.message === 'string') return { stringValue: src.message }; // ECS
  return {};
}

/** A document without `teleql.record` (written by another tool): the record its fields describe. */
function rebuildRecord(src: Source): RecordBody {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  const attrsAt = (v: unknown) => (isObject(v) ? flatten(v, '', []) : []);
  const attributes = [...attrsAt(src.attributes), ...flatten(src, '', [], LAYOUT_FIELDS)];
  const resource = isObject(src.resource) ? src.resource : {};
  const scope = isObject(src.scope) ? src.scope : {};
  return {
    resource: { attributes: attrsAt(resource.attributes), droppedAttributesCount: num(resource.dropped_attributes_count), schemaUrl: text(resource.schema_url) },
    scope: { name: text(scope.name), version: text(scope.version), attributes: attrsAt(scope.attributes), droppedAttributesCount: 0, schemaUrl: '' },
    timeUnixNano: isoToNs(src['@timestamp']) ?? 0n,
    observedTimeUnixNano: isoToNs(src.observed_timestamp) ?? 0n,
    severityNumber: num(src.severity_number),
    severityText: text(src.severity_text),
    body: rebuildBody(src),
    attributes,
    droppedAttributesCount: num(src.dropped_attributes_count),
    flags: num(src.flags),
    traceId: text(src.trace_id),
    spanId: text(src.span_id),
    eventName: text(src.event_name),
  };
}
