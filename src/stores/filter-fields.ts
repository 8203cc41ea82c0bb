// What the one filter language (TelemetryFilter) allows for each signal. Every backend checks a
// filter here before translating it, so all of them refuse the same things in the same words.
import type { AttributeCondition, TelemetryFilter } from './types.ts';

export type FilterSignal = 'spans' | 'logs';

const ONLY_FOR: Partial<Record<keyof TelemetryFilter, FilterSignal>> = {
  status: 'spans',
  kind: 'spans',
  minDuration: 'spans',
  maxDuration: 'spans',
  minSeverity: 'logs',
  bodyContains: 'logs',
};

const KNOWN_FIELDS = new Set<string>([
  'timeRange', 'service', 'name', 'status', 'kind', 'minDuration', 'maxDuration', 'telemetrySource', 'traceId', 'spanId',
  'minSeverity', 'bodyContains', 'attributes', 'and', 'or', 'not',
]);

/** OTLP status code numbers by the names the filter uses. */
export const STATUS_CODES: Readonly<Record<string, number>> = { UNSET: 0, OK: 1, ERROR: 2 };

/** Throws `bad(message)` for a non-object, an unknown field, or a field of the other signal. Empty values are unset. */
export function checkFilterFields(f: TelemetryFilter, signal: FilterSignal, bad: (message: string) => Error): void {
  if (f === null || typeof f !== 'object' || Array.isArray(f)) throw bad('a filter must be an object');
  for (const [field, v] of Object.entries(f)) {
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
    if (!KNOWN_FIELDS.has(field)) throw bad(`unknown filter field ${field}`);
    const only = ONLY_FOR[field as keyof TelemetryFilter];
    if (only && only !== signal) throw bad(`filter field ${field} does not apply to ${signal}`);
  }
}

/** A time or duration in the filter, as bigint nanoseconds. */
export function filterNanos(field: string, v: unknown, bad: (message: string) => Error): bigint {
  try {
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number' || typeof v === 'string') return BigInt(v);
  } catch {
    // reported below
  }
  throw bad(`${field} must be an integer number of nanoseconds (actual: ${String(v)})`);
}

/** The threshold of a gt/gte/lt/lte attribute condition (`number`, else `value` read as one), the same for every store. */
export function conditionThreshold(c: AttributeCondition, bad: (message: string) => Error): number {
  const n = c.number ?? (c.value != null && c.value.trim() !== '' ? Number(c.value) : NaN);
  if (typeof n !== 'number' || !Number.isFinite(n)) throw bad(`attribute condition ${c.op} on "${c.key}" needs a number`);
  return n;
}
