// Keyset pages over spans fetched from Jaeger: the sort key is (start ns, trace ID, span ID), the
// DuckDB store's span keyset, and the cursor is that key and the page's order (page-cursor.ts).
import type { SpanRecord } from '../../model/telemetry.ts';
import { encodePageCursor, pageCursorKey, pageOrder } from '../page-cursor.ts';
import type { Page, PageRequest } from '../types.ts';
import { BACKEND } from './errors.ts';

export interface SpanKey {
  start: bigint;
  traceId: string;
  spanId: string;
}

export const keyOf = (s: SpanRecord): SpanKey => ({ start: s.startTimeUnixNano, traceId: s.traceId, spanId: s.spanId });

const keyJson = (k: SpanKey): string[] => [k.start.toString(), k.traceId, k.spanId];

function parseKey(parts: unknown): SpanKey | undefined {
  if (Array.isArray(parts) && parts.length === 3 && parts.every((x) => typeof x === 'string') && /^-?\d+$/.test(parts[0] as string)) {
    const [start, traceId, spanId] = parts as [string, string, string];
    return { start: BigInt(start), traceId, spanId };
  }
  return undefined;
}

/** The key of the request's cursor, undefined without one; BAD_QUERY for a cursor of another store or order. */
export function cursorKey(page: PageRequest): SpanKey | undefined {
  return pageCursorKey(page, BACKEND, parseKey);
}

export function compareKeys(a: SpanKey, b: SpanKey): number {
  if (a.start !== b.start) return a.start < b.start ? -1 : 1;
  if (a.traceId !== b.traceId) return a.traceId < b.traceId ? -1 : 1;
  return a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0;
}


/** One page of `spans` (already filtered, any order) after the request's cursor, in its order. */
export function pageOf(spans: readonly SpanRecord[], page: PageRequest, first: number): Page<SpanRecord> {
  const order = pageOrder(page);
  const sign = order === 'NEWEST_FIRST' ? -1 : 1;
  const after = cursorKey(page);
  const keyed = spans.map((s) => ({ s, k: keyOf(s) }));
  const rest = after ? keyed.filter(({ k }) => sign * compareKeys(k, after) > 0) : keyed;
  rest.sort((a, b) => sign * compareKeys(a.k, b.k));
  const items = rest.slice(0, first).map(({ s, k }) => ({ node: s, cursor: encodePageCursor(order, keyJson(k)) }));
  return { items, hasNextPage: rest.length > first, endCursor: items.at(-1)?.cursor ?? null };
}
