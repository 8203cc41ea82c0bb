// Helpers over the OTLP/JSON value encoding in telemetry.ts: one place that knows how to read an
// AnyValue as plain JSON, as a filterable string, and how to find well-known resource attributes.
import type { AnyValue, KeyValue, Resource } from './telemetry.ts';

export type PlainJson = string | number | boolean | null | PlainJson[] | { [key: string]: PlainJson };

/** The plain JSON a user expects to see: ints as numbers when they are safe integers (|n| ≤ 2^53 − 1), else as strings; bytes as base64. */
export function anyValueToPlain(v: AnyValue | undefined): PlainJson {
  if (!v) return null;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) {
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : v.intValue;
  }
  if ('doubleValue' in v) return doubleToJson(v.doubleValue);
  if ('bytesValue' in v) return v.bytesValue;
  if ('arrayValue' in v) return v.arrayValue.values.map(anyValueToPlain);
  if ('kvlistValue' in v) return attributesToPlain(v.kvlistValue.values);
  return null;
}

/** A double as JSON: NaN and ±Infinity have no JSON number, so as proto3 JSON writes them ("NaN", "Infinity", "-Infinity"), not null (which reads as absent). */
export function doubleToJson(d: number): number | string {
  return Number.isFinite(d) ? d : String(d);
}

/**
 * The value as OTLP/JSON writes it: as stored, but a NaN or infinite double (nested ones too) as
 * proto3 JSON's string, and -0 as "-0" (a JSON number -0 reads back as 0 once serialised).
 */
export function anyValueToOtlpJson(v: AnyValue): unknown {
  if ('doubleValue' in v) {
    const d = v.doubleValue;
    if (Object.is(d, -0)) return { doubleValue: '-0' };
    return Number.isFinite(d) ? v : { doubleValue: String(d) };
  }
  if ('arrayValue' in v) return { arrayValue: { values: v.arrayValue.values.map(anyValueToOtlpJson) } };
  if ('kvlistValue' in v) return { kvlistValue: { values: v.kvlistValue.values.map((kv) => ({ key: kv.key, value: anyValueToOtlpJson(kv.value) })) } };
  return v;
}

/** Key → plain value; of duplicate keys the last wins (as everywhere: `findAttribute`). */
export function attributesToPlain(attrs: readonly KeyValue[]): { [key: string]: PlainJson } {
  const out: { [key: string]: PlainJson } = {};
  for (const kv of attrs) {
    const value = anyValueToPlain(kv.value);
    // Assigned, a `__proto__` key would set the object's prototype (or nothing) and be lost.
    if (kv.key === '__proto__') Object.defineProperty(out, kv.key, { value, enumerable: true, writable: true, configurable: true });
    else out[kv.key] = value;
  }
  return out;
}

/**
 * The string form a filter compares against: scalars as text, arrays and maps as compact JSON.
 * Stores index this form so that `eq`, `in`, `regex` and numeric comparisons need no JSON parsing.
 */
export function anyValueToFilterString(v: AnyValue): string | null {
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue ? 'true' : 'false';
  if ('intValue' in v) return v.intValue;
  if ('doubleValue' in v) return String(v.doubleValue);
  if ('bytesValue' in v) return v.bytesValue;
  if ('arrayValue' in v || 'kvlistValue' in v) return JSON.stringify(anyValueToPlain(v));
  return null;
}

/** The OTLP type name of a value, as shown to GraphQL clients. */
export function anyValueType(v: AnyValue): 'STRING' | 'BOOL' | 'INT' | 'DOUBLE' | 'BYTES' | 'ARRAY' | 'KVLIST' | 'EMPTY' {
  if ('stringValue' in v) return 'STRING';
  if ('boolValue' in v) return 'BOOL';
  if ('intValue' in v) return 'INT';
  if ('doubleValue' in v) return 'DOUBLE';
  if ('bytesValue' in v) return 'BYTES';
  if ('arrayValue' in v) return 'ARRAY';
  if ('kvlistValue' in v) return 'KVLIST';
  return 'EMPTY';
}

/**
 * The value of `key`. OTLP keys must be unique; of duplicates the last wins, as in `attributesToPlain`,
 * the stores and their filters (setting a key again overwrites it, as OTel attribute collections do).
 */
export function findAttribute(attrs: readonly KeyValue[], key: string): AnyValue | undefined {
  for (let i = attrs.length - 1; i >= 0; i--) if (attrs[i]!.key === key) return attrs[i]!.value;
  return undefined;
}

export function stringAttribute(attrs: readonly KeyValue[], key: string): string | undefined {
  const v = findAttribute(attrs, key);
  return v && 'stringValue' in v ? v.stringValue : undefined;
}

/** `service.name` per the semantic conventions; the SDKs' fallback when unset. */
export function serviceName(resource: Resource): string {
  return stringAttribute(resource.attributes, 'service.name') ?? 'unknown_service';
}

/** The AI assistant (or other producer) that emitted the telemetry, when it says so. */
export const TELEMETRY_SOURCE_KEY = 'telemetry.source';

/**
 * A metric point's instrumentation scope as labels, by their semantic-convention names (the
 * Prometheus exporter's otel_scope_name and otel_scope_version): stored series carry them, and
 * label filters (`metricPoints`, `tailMetrics`) match them.
 */
export const SCOPE_LABEL_KEYS = { name: 'otel.scope.name', version: 'otel.scope.version' } as const;

/** Node 20 has these (ES2024); the project's TypeScript lib is ES2023. */
type Es2024String = string & { isWellFormed(): boolean; toWellFormed(): string };

/**
 * `text` with each lone UTF-16 surrogate (OTLP/JSON can escape one: `"\ud800"`) as U+FFFD, as
 * invalid UTF-8 in a body reads and as every store keeps it.
 */
export function wellFormed(text: string): string {
  const s = text as Es2024String;
  return s.isWellFormed() ? s : s.toWellFormed();
}

/** `text`'s first `units` UTF-16 units, one fewer when the last would be half of a surrogate pair (an emoji cut in two). */
export function headOf(text: string, units: number): string {
  if (text.length <= units) return text;
  const last = text.charCodeAt(units - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? units - 1 : units);
}
