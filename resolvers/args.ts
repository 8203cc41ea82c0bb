// Argument checks shared by the query resolvers. Each failure names the argument and the code.
import { GatewayError } from '../src/errors.ts';
import type { TimeRange } from '../src/stores/types.ts';
import { requestNow } from '../src/server/request-clock.ts';

export const MAX_PAGE = 1000;

const TRACE_ID = /^[0-9a-f]{32}$/i;
const SPAN_ID = /^[0-9a-f]{16}$/i;

export function argumentError(message: string): GatewayError {
  return new GatewayError('GW_BAD_ARGUMENT', `${message} (GW_BAD_ARGUMENT)`);
}

/** A trace ID as stored: 32 lowercase hex characters. */
export function traceIdArg(value: string, name = 'traceId'): string {
  if (!TRACE_ID.test(value)) throw argumentError(`${name} ${JSON.stringify(value)} is not a trace ID: expected 32 hex characters`);
  return value.toLowerCase();
}

export function spanIdArg(value: string, name = 'spanId'): string {
  if (!SPAN_ID.test(value)) throw argumentError(`${name} ${JSON.stringify(value)} is not a span ID: expected 16 hex characters`);
  return value.toLowerCase();
}

export function limitArg(name: string, value: number | null | undefined, fallback: number, max = MAX_PAGE): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > max) throw argumentError(`${name} must be between 1 and ${max}, got ${n}`);
  return n;
}

export function checkTimeRange(range: TimeRange, where = 'from/to'): TimeRange {
  if (range.from !== undefined && range.to !== undefined && range.from > range.to) {
    throw new GatewayError('GW_BAD_TIME_RANGE', `${where}: from is after to (GW_BAD_TIME_RANGE)`);
  }
  return range;
}

/** An optional from/to pair; an open end stays open. */
export function optionalRange(from: bigint | null | undefined, to: bigint | null | undefined): TimeRange | undefined {
  if (from == null && to == null) return undefined;
  return checkTimeRange({ ...(from != null && { from }), ...(to != null && { to }) });
}

/** Now, as the request sees it: one instant for all its fields and relative Timestamps (request-clock.ts). */
export function nowNs(): bigint {
  return requestNow();
}
