// Jaeger api_v3's wire forms: RFC3339Nano times, Go durations, span kind names, and the
// `{"result": <OTLP/JSON>}` trace documents, which the OTLP receiver's codec maps to SpanRecords
// (one mapper for OTLP/JSON in the code base, not two).
import type { Logger } from 'pino';
import { decodeTraces, OtlpDecodeError } from '../../otlp/codec.ts';
import { SpanKind, type SpanRecord } from '../../model/telemetry.ts';
import { internal } from './errors.ts';

const NS_PER_SEC = 1_000_000_000n;
/** 9999-12-31T23:59:59.999999999Z: Go's RFC3339 has four-digit years. */
const MAX_RFC3339_NS = 253_402_300_799_999_999_999n;

/**
 * Unix nanoseconds as Go's time.RFC3339Nano in UTC: `2017-01-26T16:46:31.639875Z`, trailing zeros
 * of the fraction dropped and no fraction at all on a whole second. Clamped to years 1970..9999.
 */
export function rfc3339Nano(ns: bigint): string {
  const t = ns < 0n ? 0n : ns > MAX_RFC3339_NS ? MAX_RFC3339_NS : ns;
  const secs = t / NS_PER_SEC;
  const frac = t % NS_PER_SEC;
  const whole = new Date(Number(secs) * 1000).toISOString().slice(0, 19); // YYYY-MM-DDTHH:MM:SS
  const digits = frac === 0n ? '' : `.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${whole}${digits}Z`;
}

/** The largest time.Duration (int64 nanoseconds). */
export const MAX_GO_DURATION_NS = 9_223_372_036_854_775_807n;

function fraction(v: bigint, unit: bigint, digits: number): string {
  const whole = v / unit;
  const rest = v % unit;
  if (rest === 0n) return whole.toString();
  return `${whole}.${rest.toString().padStart(digits, '0').replace(/0+$/, '')}`;
}

/** Nanoseconds as Go's time.Duration.String(), which time.ParseDuration reads back exactly: `1.5ms`, `1m30s`. */
export function goDuration(ns: bigint): string {
  if (ns < 0n) return `-${goDuration(-ns)}`;
  if (ns === 0n) return '0s';
  if (ns < 1_000n) return `${ns}ns`;
  if (ns < 1_000_000n) return `${fraction(ns, 1_000n, 3)}µs`;
  if (ns < NS_PER_SEC) return `${fraction(ns, 1_000_000n, 6)}ms`;
  const hours = ns / (3600n * NS_PER_SEC);
  const minutes = (ns / (60n * NS_PER_SEC)) % 60n;
  const seconds = fraction(ns % (60n * NS_PER_SEC), NS_PER_SEC, 9);
  if (hours > 0n) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0n) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

const SPAN_KINDS: Record<string, SpanKind> = {
  unspecified: SpanKind.UNSPECIFIED,
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
};

/** api_v3's operation kind (`server`, `client`, …; also accepts `SPAN_KIND_SERVER`) as the OTLP number; unknown → UNSPECIFIED. */
export function spanKindFromJaeger(kind: unknown): SpanKind {
  if (typeof kind !== 'string') return SpanKind.UNSPECIFIED;
  return SPAN_KINDS[kind.toLowerCase().replace(/^span_kind_/, '')] ?? SpanKind.UNSPECIFIED;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The spans of a GetTrace/FindTraces answer, `{"result": {"resourceSpans": […]}}`. A missing or
 * empty `result` (`{"result":{}}`, proposed upstream for "nothing found") is no spans. Spans the
 * codec rejects (bad IDs) are left out and logged once per document; a document that is not OTLP
 * at all is an INTERNAL error.
 */
export function spansOfResult(body: unknown, tenant: string, logger: Logger): SpanRecord[] {
  if (!isObject(body)) throw internal('jaeger answered with JSON that is not an object');
  const result = body.result;
  if (result === undefined || result === null) return [];
  if (!isObject(result)) throw internal('jaeger answered with a result that is not an object');
  if (result.resourceSpans === undefined) return [];
  try {
    const decoded = decodeTraces(Buffer.from(JSON.stringify(result)), 'json', tenant);
    if (decoded.rejected.length > 0) {
      const first = decoded.rejected[0]!;
      logger.warn({ rejected: decoded.rejected.length, first: `${first.item}: ${first.reason}` }, 'jaeger sent spans that are not valid OTLP; they were left out');
    }
    return decoded.items;
  } catch (err) {
    if (err instanceof OtlpDecodeError) throw internal(`jaeger answered with a trace that is not OTLP/JSON: ${err.message}`, err);
    throw err;
  }
}
