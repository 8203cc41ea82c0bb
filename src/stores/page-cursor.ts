// Page requests, read the same way by every store that pages: the page size, and cursors (the
// store's own sort key of the page's last item and the order the page was read in, as base64url
// JSON, opaque to clients). A key means
// "after this item" only in the order it came from: read in the other order it would give a wrong
// page without a word, so a cursor passed with another order is refused. The cursors of a search
// over the hour up to now also carry that now (`n`, written by the resolvers; stores read only `o`
// and `k`), so the pages of one search cover one hour.
import { StoreError, type PageRequest } from './types.ts';

export type PageOrder = NonNullable<PageRequest['order']>;

const ORDER_TAG: Record<PageOrder, 'n' | 'o'> = { NEWEST_FIRST: 'n', OLDEST_FIRST: 'o' };
const orderOfTag = (tag: unknown): PageOrder | undefined => (tag === 'n' ? 'NEWEST_FIRST' : tag === 'o' ? 'OLDEST_FIRST' : undefined);

/** Items per page at most, in every store. */
export const MAX_PAGE_SIZE = 10_000;

/** The request's page size; BAD_ARGUMENT from `backend` outside 0…MAX_PAGE_SIZE. */
export function pageSize(page: PageRequest, backend: string): number {
  const first = page?.first;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw new StoreError('BAD_ARGUMENT', backend, `first must be an integer from 0 to ${MAX_PAGE_SIZE} (actual: ${String(first)})`);
  }
  return first;
}

/** The order a page request reads in: newest first unless it says otherwise. */
export function pageOrder(page: PageRequest): PageOrder {
  return page.order ?? 'NEWEST_FIRST';
}

/** A cursor's fields (base64url JSON of an object); undefined for anything else. */
function cursorFields(cursor: string): Record<string, unknown> | undefined {
  try {
    const c: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return c !== null && typeof c === 'object' && !Array.isArray(c) ? (c as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The cursor of an item of a page read in `order`; `key` is the store's sort key, JSON-serialisable. */
export function encodePageCursor(order: PageOrder, key: unknown): string {
  return Buffer.from(JSON.stringify({ o: ORDER_TAG[order], k: key })).toString('base64url');
}

/**
 * The sort key of `page.after` (undefined without one), checked by `parseKey`, which returns
 * undefined (or throws) for a key this store would not have written. BAD_ARGUMENT from `backend` when
 * the cursor is not one of this store's, or was issued for the other order (GW_BAD_ARGUMENT, as the
 * README's table has it for a cursor; QA round 38h: it was GW_BAD_FILTER).
 */
export function pageCursorKey<K>(page: PageRequest, backend: string, parseKey: (key: unknown) => K | undefined): K | undefined {
  if (page.after == null) return undefined;
  const fields = cursorFields(String(page.after));
  const issued = orderOfTag(fields?.['o']);
  let key: K | undefined;
  try {
    if (issued) key = parseKey(fields!['k']);
  } catch {
    // reported below, as any cursor this store did not write
  }
  if (!issued || key === undefined) throw new StoreError('BAD_ARGUMENT', backend, 'after: the cursor is not one this store issued');
  const order = pageOrder(page);
  if (issued !== order) {
    throw new StoreError(
      'BAD_ARGUMENT',
      backend,
      `after: the cursor was issued for order ${issued}, not ${order}: page on with order ${issued}, or start ${order} from the first page`,
    );
  }
  return key;
}

/**
 * `cursor` (a store's) carrying `now`, the instant its search resolved its range against: a page
 * asked for after it resolves its range against the same instant (searchNowOf), not the time of its
 * own request. Resolved anew on every page, "the last hour" moved on between pages, and records that
 * were in it when a page said hasNextPage were skipped.
 */
export function searchCursor(cursor: string, now: bigint): string {
  return Buffer.from(JSON.stringify({ ...cursorFields(cursor), n: now.toString() })).toString('base64url');
}

/**
 * The instant `after` carries (searchCursor); undefined without a cursor, for a cursor issued before
 * cursors carried one (it pages on as it did: against the time of the request), and for one that is
 * no JSON (the store refuses it). BAD_ARGUMENT from `backend` when the instant is not one searchCursor wrote.
 */
export function searchNowOf(after: string | null | undefined, backend: string): bigint | undefined {
  if (!after) return undefined;
  const n = cursorFields(after)?.['n'];
  if (n === undefined) return undefined;
  // Nanoseconds as the stores keep them: a signed 64-bit count, never negative.
  if (typeof n !== 'string' || !/^\d{1,19}$/.test(n) || BigInt.asIntN(64, BigInt(n)) !== BigInt(n)) {
    throw new StoreError('BAD_ARGUMENT', backend, 'after: the cursor is not one this store issued');
  }
  return BigInt(n);
}
