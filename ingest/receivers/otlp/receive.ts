// What both transports do with one Export request once they hold its body: decode, hand the
// records to the next consumer, count, and turn every failure into a status the sender understands.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { type Consumer, isPermanent } from '../../component.ts';
import { DEFAULT_TENANT, type Signal } from '../../../src/model/telemetry.ts';
import { isValidTenant } from '../../../src/tenant.ts';
import type { Reservation } from './guard.ts';
import { type OtlpFormat, type PartialSuccess, type RequestLimits, RequestTooLargeError, decodeRequest, partialSuccessOf } from '../../../src/otlp/codec.ts';

/** A request we refuse, with the answer for each transport. */
export class ReceiveError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly grpcCode: GrpcStatus,
    message: string,
    /** Sent as Retry-After (HTTP) / retry-after metadata (gRPC). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ReceiveError';
  }
}

export const badRequest = (message: string) => new ReceiveError(400, GrpcStatus.INVALID_ARGUMENT, message);
export const tooLarge = (message: string) => new ReceiveError(413, GrpcStatus.RESOURCE_EXHAUSTED, message);
/** A Content-Type or Content-Encoding (or an encoding's variant) the receiver does not take. */
export const unsupportedMedia = (message: string) => new ReceiveError(415, GrpcStatus.INVALID_ARGUMENT, message);

/**
 * Why a request was refused: the `reason` label of teleql_otlp_failed_requests_total. A fixed set,
 * one per answer we give (gRPC answers the same refusals, so both transports share it), so the
 * label's cardinality stays bounded whatever clients send.
 */
export const FAILURE_REASONS = [
  'bad_request',
  'unauthenticated',
  'permission_denied',
  'not_found',
  'method_not_allowed',
  'too_large',
  'unsupported_media_type',
  'rate_limited',
  'unavailable',
  'internal',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

const REASON_BY_HTTP_STATUS: Readonly<Record<number, FailureReason>> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'unavailable',
};

/** The reason a refusal is counted under; anything but a ReceiveError is our own failure. */
export function failureReason(err: unknown): FailureReason {
  return (err instanceof ReceiveError && REASON_BY_HTTP_STATUS[err.httpStatus]) || 'internal';
}

/** Counters for a /metrics endpoint; items are spans, log records or data points. */
export interface OtlpReceiverStats {
  httpRequests: number;
  grpcRequests: number;
  /** Requests answered with an error status, by reason (bad input, credentials, over a limit, refused downstream). */
  failedRequests: Record<FailureReason, number>;
  /** HTTP rate-limit refusals answered by closing the connection with the body unread (limits.ingest.closeAfterRefusals). */
  closedUnread: number;
  /** Delivered to the next consumer. */
  acceptedSpans: number;
  acceptedLogRecords: number;
  acceptedDataPoints: number;
  /** Invalid items dropped from otherwise good requests (reported as partial success). */
  rejectedSpans: number;
  rejectedLogRecords: number;
  rejectedDataPoints: number;
  /** Valid items the next consumer failed to take. */
  refusedSpans: number;
  refusedLogRecords: number;
  refusedDataPoints: number;
}

const ITEM_KEY = { traces: 'Spans', logs: 'LogRecords', metrics: 'DataPoints' } as const;

export function emptyStats(): OtlpReceiverStats {
  return {
    httpRequests: 0,
    grpcRequests: 0,
    failedRequests: Object.fromEntries(FAILURE_REASONS.map((r) => [r, 0])) as Record<FailureReason, number>,
    closedUnread: 0,
    acceptedSpans: 0,
    acceptedLogRecords: 0,
    acceptedDataPoints: 0,
    rejectedSpans: 0,
    rejectedLogRecords: 0,
    rejectedDataPoints: 0,
    refusedSpans: 0,
    refusedLogRecords: 0,
    refusedDataPoints: 0,
  };
}

/** The tenant named by the header; missing or empty means the default tenant (as on the GraphQL side). */
export function tenantOf(value: string | undefined, header: string): string {
  if (value === undefined || value === '') return DEFAULT_TENANT;
  if (!isValidTenant(value)) {
    throw badRequest(
      `invalid tenant in ${header}: ${JSON.stringify(value.slice(0, 160))}; use 1-150 characters of A-Z a-z 0-9 ! - _ . * ' ( )`,
    );
  }
  return value;
}

/** A listening transport. close() stops accepting, lets in-flight requests finish (up to 5 s), then closes. */
export interface RunningServer {
  address: string;
  close(): Promise<void>;
}

export interface ReceiveContext {
  stats: OtlpReceiverStats;
  /** What one request may decode into (maxRequestItems / maxRequestMessages); past it, 413 / RESOURCE_EXHAUSTED before decoding. */
  limits: RequestLimits;
  /** Per-tenant ingest limits, settled once a request is decoded against what was reserved before (none when absent). */
  settle?: (tenant: string, format: OtlpFormat, reserved: Reservation | undefined, items: number, bytes: number) => Promise<void>;
}

/** Decodes and delivers one request; resolves to the partial success to report, if any. */
export async function receive<S extends Signal>(
  ctx: ReceiveContext,
  next: Consumer<S>,
  signal: S,
  body: Buffer,
  format: OtlpFormat,
  tenant: string,
  reserved?: Reservation,
): Promise<PartialSuccess | undefined> {
  let decoded;
  // Once per request: a log record without times is observed now, and a second decode (another
  // replica's live tails) must observe it at the same moment.
  const receivedAt = BigInt(Date.now()) * 1_000_000n;
  try {
    decoded = decodeRequest(signal, body, format, tenant, ctx.limits, receivedAt);
  } catch (err) {
    if (err instanceof RequestTooLargeError) throw tooLarge(err.message);
    throw badRequest(err instanceof Error ? err.message : String(err));
  }
  const key = ITEM_KEY[signal];
  await ctx.settle?.(tenant, format, reserved, decoded.items.length + decoded.rejected.length, body.length);
  ctx.stats[`rejected${key}`] += decoded.rejected.length;
  // Counted before the pipeline runs: a processor may drop items from the array in place (limits'
  // metric points), and those were accepted too (its own counter says what it dropped).
  const handed = decoded.items.length;
  if (handed > 0) {
    try {
      await next.consume(decoded.items, { body, format, receivedAt });
    } catch (err) {
      ctx.stats[`refused${key}`] += handed;
      const why = err instanceof Error ? err.message : String(err);
      // As the Collector does: only a permanent error is the sender's fault; anything else may pass.
      if (isPermanent(err)) throw badRequest(`the pipeline refused the data: ${why}`);
      throw new ReceiveError(503, GrpcStatus.UNAVAILABLE, `the pipeline cannot take data right now, retry later: ${why}`);
    }
    ctx.stats[`accepted${key}`] += handed;
  }
  return partialSuccessOf(signal, decoded.rejected);
}
