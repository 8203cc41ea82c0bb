// OTLP request bodies → model records, and the bodies we answer with. Shared by HTTP and gRPC.
import { parse as parseLossless } from 'lossless-json';
import protobuf from 'protobufjs';
import type { LogRecord, MetricPoint, Signal, SignalItems, SpanRecord } from '../model/telemetry.ts';
import { wellFormed } from '../model/values.ts';
import { type Decoded, JSON_KEY_DEPTH, type Msg, OtlpDecodeError, type Rejection, roundedIntegerCount } from './convert-common.ts';
import { logsFromOtlp } from './convert-logs.ts';
import { metricPointsFromOtlp } from './convert-metrics.ts';
import { spansFromOtlp } from './convert-traces.ts';
import { otlpProto } from './proto.ts';
import { type RequestLimits, RequestTooLargeError, countJsonContainers, countJsonItems, countProtobuf, tooLargeMessage } from './request-count.ts';

export { OtlpDecodeError, RequestTooLargeError, type Decoded, type Rejection, type RequestLimits };

export type OtlpFormat = 'protobuf' | 'json';

/**
 * One Export request as the receiver took it (decompressed), with what decoding it again needs to
 * give the same records: `receivedAt` (Unix nanoseconds) is the observed time of a log record that
 * has neither time.
 */
export interface OtlpRequest {
  body: Buffer;
  format: OtlpFormat;
  receivedAt: bigint;
}

const REQUEST_NAME: Record<Signal, string> = {
  traces: 'ExportTraceServiceRequest',
  logs: 'ExportLogsServiceRequest',
  metrics: 'ExportMetricsServiceRequest',
};

const CONVERT: { [S in Signal]: (request: Msg, tenant: string, receivedAt?: bigint) => Decoded<SignalItems[S]> } = {
  traces: spansFromOtlp,
  logs: logsFromOtlp,
  metrics: metricPointsFromOtlp,
};

/**
 * Decodes one Export*ServiceRequest body into model records. Throws OtlpDecodeError when the body
 * as a whole is not OTLP; items that are individually invalid come back in `rejected` instead.
 * This is all the receiver does besides I/O, so benchmarks use it as the bare-receiver baseline.
 * With `limits`, a body that would decode into more than they allow throws RequestTooLargeError
 * first (request-count.ts); a body too small to hold that many (two bytes each at least) is not counted.
 */
export function decodeRequest<S extends Signal>(
  signal: S,
  body: Buffer,
  format: OtlpFormat,
  tenant: string,
  limits?: RequestLimits,
  receivedAt?: bigint,
): Decoded<SignalItems[S]> {
  const counted = limits !== undefined && body.length > 2 * Math.min(limits.maxItems, limits.maxMessages);
  if (format === 'protobuf') {
    if (counted) {
      const n = countProtobuf(signal, body, limits);
      if (n.items > limits.maxItems) throw new RequestTooLargeError(tooLargeMessage(signal, 'items', limits));
      if (n.messages > limits.maxMessages) throw new RequestTooLargeError(tooLargeMessage(signal, 'messages', limits));
    }
    return CONVERT[signal](parseProtobuf(signal, body), tenant, receivedAt);
  }
  if (counted && countJsonContainers(body, limits.maxMessages) > limits.maxMessages) throw new RequestTooLargeError(tooLargeMessage(signal, 'containers', limits));
  const rounded = roundedIntegerCount();
  const request = parseJson(body);
  if (counted && countJsonItems(signal, request) > limits.maxItems) throw new RequestTooLargeError(tooLargeMessage(signal, 'items', limits));
  // proto3 JSON allows 64-bit values as numbers, which JSON.parse rounds past 2^53 (nanosecond
  // times are past it). Rare (SDKs send strings), so only such a request pays the exact parser (~4× the decode).
  // A resource or scope is converted outside any item, so a value rounded out of range there
  // (2^63 − 1 read as 2^63) refuses the whole request: that refusal, too, is decided on the exact values.
  let decoded: Decoded<SignalItems[S]>;
  try {
    decoded = CONVERT[signal](request, tenant, receivedAt);
  } catch (err) {
    if (roundedIntegerCount() === rounded) throw err;
    return CONVERT[signal](parseJson(body, true), tenant, receivedAt);
  }
  return roundedIntegerCount() === rounded ? decoded : CONVERT[signal](parseJson(body, true), tenant, receivedAt);
}

export function decodeTraces(body: Buffer, format: OtlpFormat, tenant: string): Decoded<SpanRecord> {
  return decodeRequest('traces', body, format, tenant);
}

export function decodeLogs(body: Buffer, format: OtlpFormat, tenant: string): Decoded<LogRecord> {
  return decodeRequest('logs', body, format, tenant);
}

export function decodeMetrics(body: Buffer, format: OtlpFormat, tenant: string): Decoded<MetricPoint> {
  return decodeRequest('metrics', body, format, tenant);
}

/**
 * Reads strings as OTLP/JSON bodies are read: an invalid UTF-8 sequence becomes U+FFFD. protobufjs
 * checks proto3 strings and refused the whole request over one bad byte, naming no field. The OTel
 * Collector's receiver does not check them (open-telemetry/opentelemetry-collector#11449), and
 * opentelemetry-proto recommends U+FFFD for an invalid string (its PR #845), so the item is kept.
 */
class ReplacingReader extends protobuf.BufferReader {}
// protobufjs's own reader, not BufferReader's: it decodes short strings in JS, cheaper than a call into Buffer.
ReplacingReader.prototype.stringVerify = protobuf.Reader.prototype.string;

function parseProtobuf(signal: Signal, body: Buffer): Msg {
  try {
    // The generated decoder yields message instances; converting them directly skips toObject.
    return otlpProto().request[signal].decode(new ReplacingReader(body)) as unknown as Msg;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new OtlpDecodeError(`request body is not a valid protobuf ${REQUEST_NAME[signal]}: ${why}`);
  }
}

/** Integers past 2^53 as their digits, which the converters read as 64-bit values exactly. */
const exactNumber = (digits: string): number | string => {
  const n = Number(digits);
  return Number.isSafeInteger(n) || !/^-?\d+$/.test(digits) ? n : digits;
};

/**
 * A JSON string may escape a lone UTF-16 surrogate (`"\ud800"`), which JSON.parse keeps: stored,
 * exported (protobufjs writes it as invalid UTF-8) and filtered, it read differently in each place.
 * It becomes U+FFFD, as invalid UTF-8 in a JSON or protobuf body does and as Go's encoding/json reads it.
 */
const wellFormedStrings = (_key: string, value: unknown): unknown => (typeof value === 'string' ? wellFormed(value) : value);

/**
 * Whether the text escapes a surrogate (`\uD800`–`\uDFFF`, paired or not); only then are its strings
 * checked. A raw surrogate cannot be in the text (UTF-8 decoding made it U+FFFD), and most requests
 * have no `\u` at all, so the common one pays one indexOf over the text. A false positive (`\\ud8`, an
 * escaped backslash) only costs the check.
 */
function escapesSurrogate(text: string): boolean {
  for (let i = text.indexOf('\\u'); i !== -1; i = text.indexOf('\\u', i + 2)) {
    SURROGATE_DIGITS.lastIndex = i + 2;
    if (SURROGATE_DIGITS.test(text)) return true;
  }
  return false;
}
/** The first two hex digits of D800–DFFF, matched where lastIndex says. */
const SURROGATE_DIGITS = /[dD][89a-fA-F]/y;

function parseJson(body: Buffer, exact = false): Msg {
  const text = body.toString('utf8');
  const reviver = escapesSurrogate(text) ? wellFormedStrings : undefined;
  let parsed: unknown;
  try {
    parsed = exact ? parseLossless(text, reviver ?? null, exactNumber) : JSON.parse(text, reviver);
  } catch (err) {
    throw new OtlpDecodeError(`request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new OtlpDecodeError('request body must be a JSON object');
  }
  // proto3 JSON lets senders use the proto field names; only walk the tree when a key looks like one.
  if (hasSnakeCaseKey(text)) camelizeKeys(parsed, 0);
  return parsed as Msg;
}

/**
 * Whether some `"…_…":` looks like an object key (a proto field name such as `trace_id`). A scan
 * from each underscore to the next quote: a regex over the whole body (`/"[A-Za-z0-9]+_…"\s*:/`)
 * took ~0.5 s on a 768 KB request full of long hex IDs, on the event loop. A false positive (an
 * underscore in a value just before an escaped quote and a colon) only costs the key walk.
 */
function hasSnakeCaseKey(text: string): boolean {
  for (let i = text.indexOf('_'); i !== -1; i = text.indexOf('_', i + 1)) {
    const close = text.indexOf('"', i);
    if (close === -1) return false;
    let j = close + 1;
    while (j < text.length && JSON_SPACE.has(text.charCodeAt(j))) j++;
    if (text.charCodeAt(j) === COLON) return true;
    i = close;
  }
  return false;
}
const COLON = 58;
const JSON_SPACE = new Set([9, 10, 13, 32]);

function camelizeKeys(v: unknown, depth: number): void {
  if (depth > JSON_KEY_DEPTH || typeof v !== 'object' || v === null) return;
  if (Array.isArray(v)) {
    for (const e of v) camelizeKeys(e, depth + 1);
    return;
  }
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    const value = o[key];
    if (key.includes('_')) {
      const camel = key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
      if (!(camel in o)) o[camel] = value;
      delete o[key];
    }
    camelizeKeys(value, depth + 1);
  }
}

const REJECTED_FIELD: Record<Signal, string> = {
  traces: 'rejectedSpans',
  logs: 'rejectedLogRecords',
  metrics: 'rejectedDataPoints',
};

const ITEM_NAME: Record<Signal, [string, string]> = {
  traces: ['span', 'spans'],
  logs: ['log record', 'log records'],
  metrics: ['data point', 'data points'],
};

export interface PartialSuccess {
  rejected: number;
  errorMessage: string;
}

/** How many rejections a partial success's error_message quotes, with their place and reason. */
const QUOTED_REJECTIONS = 3;

/**
 * The partial_success to report for these rejections, or undefined when nothing was rejected: the
 * count and the first few, e.g. `5 spans rejected: resourceSpans[0].scopeSpans[0].spans[0]: trace_id
 * is missing; …spans[3]: …; …spans[4]: …; and 2 more`.
 */
export function partialSuccessOf(signal: Signal, rejected: readonly Rejection[]): PartialSuccess | undefined {
  if (rejected.length === 0) return undefined;
  const described = rejected.slice(0, QUOTED_REJECTIONS).map((r) => `${r.item}: ${r.reason}`);
  const more = rejected.length - described.length;
  return {
    rejected: rejected.length,
    errorMessage: `${rejected.length} ${ITEM_NAME[signal][rejected.length === 1 ? 0 : 1]} rejected: ${described.join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
  };
}

/** An Export*ServiceResponse body; empty (success) unless some items were rejected. */
export function encodeExportResponse(signal: Signal, format: OtlpFormat, partial?: PartialSuccess): Buffer {
  if (format === 'json') {
    if (!partial) return Buffer.from('{}');
    // int64 goes out as a string, as proto3 JSON (and the Collector) write it.
    const body = { partialSuccess: { [REJECTED_FIELD[signal]]: String(partial.rejected), errorMessage: partial.errorMessage } };
    return Buffer.from(JSON.stringify(body));
  }
  const type = otlpProto().response[signal];
  const message = partial ? { partialSuccess: { [REJECTED_FIELD[signal]]: partial.rejected, errorMessage: partial.errorMessage } } : {};
  return Buffer.from(type.encode(type.fromObject(message)).finish());
}

/** A google.rpc.Status body, the OTLP/HTTP error response; `code` is the gRPC status code. */
export function encodeStatus(format: OtlpFormat, code: number, message: string): Buffer {
  if (format === 'json') return Buffer.from(JSON.stringify({ code, message }));
  const type = otlpProto().status;
  return Buffer.from(type.encode(type.fromObject({ code, message })).finish());
}

/**
 * The google.rpc.Status a gRPC error carries in its `grpc-status-details-bin` trailer, with a
 * google.rpc.RetryInfo detail: OTLP clients (the Collector's exporters) retry RESOURCE_EXHAUSTED
 * only when it carries one, after its `retry_delay`.
 */
export function encodeRetryStatus(code: number, message: string, retryAfterSeconds: number): Buffer {
  const { status, retryInfo } = otlpProto();
  const seconds = Math.max(0, Math.ceil(retryAfterSeconds));
  const detail = retryInfo.encode(retryInfo.fromObject({ retryDelay: { seconds } })).finish();
  const body = status.fromObject({ code, message, details: [{ type_url: RETRY_INFO_TYPE_URL, value: detail }] });
  return Buffer.from(status.encode(body).finish());
}
const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

/**
 * The google.rpc.RetryInfo of a `grpc-status-details-bin` trailer (encodeRetryStatus' reverse):
 * null without one (or when the trailer is unreadable), else its retry_delay in whole ms (undefined
 * when it sets none).
 */
export function decodeRetryInfo(details: Buffer): { delayMs: number | undefined } | null {
  try {
    const { status, retryInfo } = otlpProto();
    const s = status.toObject(status.decode(details)) as { details?: { type_url?: string; value?: Uint8Array }[] };
    const detail = s.details?.find((d) => d.type_url === RETRY_INFO_TYPE_URL);
    if (!detail?.value) return null;
    const { retryDelay } = retryInfo.toObject(retryInfo.decode(detail.value), { longs: Number }) as { retryDelay?: { seconds?: number; nanos?: number } };
    if (!retryDelay) return { delayMs: undefined };
    const ms = (retryDelay.seconds ?? 0) * 1000 + (retryDelay.nanos ?? 0) / 1e6;
    return { delayMs: Number.isFinite(ms) && ms > 0 ? Math.ceil(ms) : undefined };
  } catch {
    return null;
  }
}

/**
 * The google.rpc.Status of an OTLP/HTTP error answer (protobuf or JSON, by its Content-Type); null
 * when the body is not one (a proxy's HTML page, plain text, nothing).
 */
export function decodeStatus(body: Buffer, contentType: string | undefined): { code: number; message: string } | null {
  if (body.length === 0) return null;
  try {
    const raw: unknown = /json/i.test(contentType ?? '') ? JSON.parse(body.toString('utf8')) : /protobuf/i.test(contentType ?? '') ? otlpProto().status.toObject(otlpProto().status.decode(body)) : null;
    if (!raw || typeof raw !== 'object') return null;
    const { code, message } = raw as { code?: unknown; message?: unknown };
    if (code !== undefined && typeof code !== 'number') return null;
    if (message !== undefined && typeof message !== 'string') return null;
    return code === undefined && message === undefined ? null : { code: code ?? 0, message: message ?? '' };
  } catch {
    return null;
  }
}
