// Keyset pagination: a page is the rows after the previous page's last sort key, so pages have no
// gaps or duplicates while rows arrive. The cursor is that key and the page's order (page-cursor.ts).
import { encodePageCursor, pageCursorKey, pageOrder, type PageOrder } from '../page-cursor.ts';
import type { Page, PageRequest } from '../types.ts';
import type { Row, SqlParam } from './connection.ts';
import { BACKEND } from './errors.ts';
import type { Params } from './filter-sql.ts';
import { INT64_MAX, INT64_MIN } from '../../model/int64.ts';

/** Sort key columns: a BIGINT time first, then VARCHAR/BIGINT tiebreaks that make it unique. */
export interface Keyset {
  columns: readonly string[];
  /** Whether each column is a BIGINT (sent as a bigint) or text. */
  bigint: readonly boolean[];
}

function encodeCursor(row: Row, keyset: Keyset, order: PageOrder): string {
  return encodePageCursor(order, keyset.columns.map((c) => String(row[c])));
}


/** The cursor's key as SQL parameters; undefined when it is not a key of this keyset (a BIGINT out of range included). */
function keyParams(key: unknown, keyset: Keyset): SqlParam[] | undefined {
  if (!Array.isArray(key) || key.length !== keyset.columns.length || !key.every((x) => typeof x === 'string')) return undefined;
  const out: SqlParam[] = [];
  for (const [i, x] of (key as string[]).entries()) {
    if (!keyset.bigint[i]) out.push(x);
    else if (!/^-?\d{1,20}$/.test(x) || BigInt(x) < INT64_MIN || BigInt(x) > INT64_MAX) return undefined;
    else out.push(BigInt(x));
  }
  return out;
}


/** ORDER BY and the "after the cursor" condition (TRUE without a cursor) for a page request. */
export function keysetSql(keyset: Keyset, page: PageRequest, p: Params): { after: string; orderBy: string } {
  const desc = pageOrder(page) === 'NEWEST_FIRST';
  const cmp = desc ? '<' : '>';
  const orderBy = keyset.columns.map((c) => `${c} ${desc ? 'DESC' : 'ASC'}`).join(', ');
  const key = pageCursorKey(page, BACKEND, (k) => keyParams(k, keyset));
  if (key === undefined) return { after: 'TRUE', orderBy };
  const refs = key.map((v) => p.add(v));
  // (a, b, c) < ($a, $b, $c) spelled out; the leading `a <= $a` lets DuckDB skip row groups by min/max.
  let cond = `${keyset.columns.at(-1)} ${cmp} ${refs.at(-1)}`;
  for (let i = keyset.columns.length - 2; i >= 0; i--) {
    cond = `${keyset.columns[i]} ${cmp} ${refs[i]} OR (${keyset.columns[i]} = ${refs[i]} AND (${cond}))`;
  }
  return { after: `${keyset.columns[0]} ${cmp}= ${refs[0]} AND (${cond})`, orderBy };
}

/**
 * The rows without those whose key repeats the row before. A keyset is unique per record, so a
 * repeat is the same record stored twice (a span exported again after a timeout: at-least-once
 * delivery); it is shown once, and the next page's cursor passes over the rest of its copies.
 */
export function withoutRepeatedKeys(rows: Row[], keyset: Keyset): Row[] {
  const out: Row[] = [];
  let previous: string | undefined;
  for (const row of rows) {
    const key = keyset.columns.map((c) => String(row[c])).join('\u0000');
    if (key !== previous) out.push(row);
    previous = key;
  }
  return out;
}

/**
 * Reads a page: `read(limit)` returns up to `limit` rows in the request's order. Reads again with
 * a larger limit while repeated keys (withoutRepeatedKeys) left the page short of `first + 1`
 * records although more rows were there, so every page size sees the same records.
 */
export async function readPage(first: number, keyset: Keyset, read: (limit: number) => Promise<Row[]>): Promise<Row[]> {
  for (let limit = first + 1; ; ) {
    const rows = await read(limit);
    const unique = withoutRepeatedKeys(rows, keyset);
    if (rows.length < limit || unique.length > first) return unique;
    limit += rows.length - unique.length;
  }
}

/** Turns `first + 1` records (readPage), in the request's order, into a page. */
export function toPage<T>(rows: Row[], first: number, keyset: Keyset, page: PageRequest, decode: (row: Row) => T): Page<T> {
  const order = pageOrder(page);
  const items = rows.slice(0, first).map((row) => ({ node: decode(row), cursor: encodeCursor(row, keyset, order) }));
  return { items, hasNextPage: rows.length > first, endCursor: items.at(-1)?.cursor ?? null };
}
