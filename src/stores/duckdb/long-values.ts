// What one string put in DuckDB may hold. DuckDB 1.5.5 keeps the blocks of strings over ~16 KB in
// its buffer pool: past its memory limit checkpoints fail and the database is invalidated
// (docs/known-gaps.md; a bare @duckdb/node-api probe shows it too), while strings of 15 KB go hundreds of MB
// past the limit. So a column value longer than MAX_STORED_CHARS is stored cut: in a JSON or
// attr-text column the longest strings inside it are shortened until the text fits (the structure
// stays readable); a plain string is cut. Cut strings end in '…' and are counted. What names or
// identifies something is never cut: attribute keys (cutting them made 200 keys sharing a prefix one
// made-up key, found by no filter), trace and span IDs, ints. A list whose items' keys alone do not
// fit (hundreds of attributes with long keys) loses whole items, last first, which the record counts
// as dropped (storedAttributes, storedList), as OpenTelemetry's attribute count limit does. Only the embedded store
// does this: exports and live tails get every value whole.

import type { KeyValue } from '../../model/telemetry.ts';
import { headOf } from '../../model/values.ts';
import { flatText } from './attr-text.ts';
import { attrTypesText } from './attr-types.ts';
import type { Column } from './ddl.ts';

/** The longest text one column value may be (characters). */
export const MAX_STORED_CHARS = 16_000;
/** What a cut string ends with. */
export const CUT_MARK = '…';

const fits = (text: string | null): boolean => text === null || text.length <= MAX_STORED_CHARS;
const size = (text: string | null): number => (text === null ? 0 : text.length);
/** Room left under the limit for what estimates miss (separators, escapes). */
const SLACK = 64;
/** The shortest a cut string gets: one character and the mark. */
const SHORTEST = CUT_MARK.length + 1;

let cut = 0;
/** Strings cut to fit MAX_STORED_CHARS since the process started (for /metrics). */
export const storedStringsCut = (): number => cut;

/**
 * `text` itself, or cut to MAX_STORED_CHARS. `counted`: whether a cut counts in storedStringsCut
 * (false for a reader that recomputes what a writer stored, such as search's link to a log row).
 */
export function storedString(text: string, counted?: boolean): string;
export function storedString(text: string | null, counted?: boolean): string | null;
export function storedString(text: string | null, counted = true): string | null {
  if (text === null || text.length <= MAX_STORED_CHARS) return text;
  if (counted) cut++;
  return headOf(text, MAX_STORED_CHARS - CUT_MARK.length) + CUT_MARK;
}

/**
 * `encode(value)` when it fits MAX_STORED_CHARS; else `encode` of a copy of `value` whose longest
 * cuttable strings (every string leaf but keys and IDs, see NEVER_CUT) are cut to one length, chosen
 * so that the text fits. A text whose keys and structure alone are over the limit stays over it
 * (storedList drops items instead where the record can say so).
 */
export function storedText<T>(value: T, encode: (v: T) => string): string;
export function storedText<T>(value: T, encode: (v: T) => string | null): string | null;
export function storedText<T>(value: T, encode: (v: T) => string | null): string | null {
  const text = encode(value);
  if (text === null || text.length <= MAX_STORED_CHARS) return text;
  const lengths: number[] = [];
  collect(value, lengths);
  const total = lengths.reduce((a, b) => a + b, 0);
  // Escapes make the text longer than its strings; aim below the limit by the excess as it is.
  const limit = capFor(lengths, MAX_STORED_CHARS - (text.length - total) - SLACK);
  return encode(cutStrings(value, limit, true) as T);
}

/** What storedList keeps of a list: the items, how many were dropped off its end, the column's text. */
export interface StoredList<T> {
  items: readonly T[];
  dropped: number;
  text: string | null;
}

/**
 * A list (a span's events or links) as its column stores it, at most MAX_STORED_CHARS. A text that
 * fits is kept as it is (`items` is the list itself, `dropped` 0). Else the items' cuttable strings
 * are cut to one length (as storedText does); and when the items, even with those strings at their
 * shortest, do not fit, items are dropped from the end first. The caller adds `dropped` to the
 * record's dropped count.
 */
export function storedList<T>(items: readonly T[], encode: (items: readonly T[]) => string | null): StoredList<T> {
  const text = encode(items);
  if (text === null || text.length <= MAX_STORED_CHARS) return { items, dropped: 0, text };
  const kept = fitList(items, [encode]);
  return { items: kept.items, dropped: kept.dropped, text: kept.texts[0]! };
}

/** What a span's or log's attrs_flat (`flat`) and attributes (`types`) columns keep of its attributes. */
export interface StoredAttributes {
  items: readonly KeyValue[];
  dropped: number;
  flat: string;
  types: string | null;
}

/**
 * A record's own attributes as its two columns store them, as storedList does for one column: from
 * the same attributes, so an attribute dropped from one is dropped from both, and a filter on
 * attrs_flat finds what the record reads back.
 */
export function storedAttributes(attrs: readonly KeyValue[]): StoredAttributes {
  const flat = flatText(attrs);
  const types = attrTypesText(attrs);
  if (flat.length <= MAX_STORED_CHARS && (types === null || types.length <= MAX_STORED_CHARS)) return { items: attrs, dropped: 0, flat, types };
  // Of a duplicate key only the last value is read; stored, the earlier ones make the attributes
  // column a JSON list of every copy. Past the limit they are left out (superseded, not dropped):
  // measured one by one, 500 copies of one key dropped every attribute (QA session 33).
  const unique = lastOfEachKey(attrs);
  if (unique.length !== attrs.length) return storedAttributes(unique);
  const kept = fitList(attrs, ATTRIBUTE_COLUMNS);
  return { items: kept.items, dropped: kept.dropped, flat: kept.texts[0]!, types: kept.texts[1]! };
}
const ATTRIBUTE_COLUMNS = [flatText, attrTypesText];

/** `attrs` with only the last of each key, in the order attrs_flat keeps them (each at its last position). */
function lastOfEachKey(attrs: readonly KeyValue[]): readonly KeyValue[] {
  const lastAt = new Map<string, number>();
  for (let i = 0; i < attrs.length; i++) lastAt.set(attrs[i]!.key, i);
  return lastAt.size === attrs.length ? attrs : attrs.filter((kv, i) => lastAt.get(kv.key) === i);
}

/**
 * Per row, what the attributes and dropped_attributes columns need of the attributes attrs_flat
 * stored (all of them unless too long), set by attrs_flat's get. The flat text itself is not kept:
 * a chunk's texts alive at once until it was appended cost writeSpans ~0.5 µs a span.
 */
export interface StoredAttributeState {
  attrTypes: string | null | undefined;
  attrsDropped: number;
}

/**
 * A span's or log's attrs_flat, attributes and dropped_attributes columns, from one
 * storedAttributes per row; attributes too many to store whole count as dropped.
 */
export function attributeColumns<P extends StoredAttributeState>(record: (p: P) => { attributes: readonly KeyValue[]; droppedAttributesCount: number }): Column<P>[] {
  const store = (p: P): StoredAttributes => {
    const a = storedAttributes(record(p).attributes);
    p.attrTypes = a.types;
    p.attrsDropped = a.dropped;
    return a;
  };
  return [
    { name: 'attrs_flat', type: 'VARCHAR NOT NULL', get: (p) => store(p).flat },
    { name: 'attributes', repeats: true, type: 'VARCHAR', get: (p) => (p.attrTypes === undefined ? store(p).types : p.attrTypes) },
    { name: 'dropped_attributes', type: 'UINTEGER', get: (p) => record(p).droppedAttributesCount + (p.attrTypes === undefined ? store(p).dropped : p.attrsDropped) },
  ];
}

/** A list kept in several columns (a resource's JSON and attr-text), every text made from the same items. */
export function storedColumns<T>(items: readonly T[], encoders: readonly ((items: readonly T[]) => string | null)[]): FittedList<T> {
  const texts = encoders.map((encode) => encode(items));
  return texts.every(fits) ? { items, dropped: 0, texts } : fitList(items, encoders);
}

interface FittedList<T> {
  items: readonly T[];
  dropped: number;
  texts: (string | null)[];
}

/** An empty list's: nothing stored, nothing dropped. */
export const NOTHING_STORED: StoredList<never> = { items: [], dropped: 0, text: null };

/**
 * The items of a list kept and each column's text from them, every text at most MAX_STORED_CHARS
 * (unless the columns' own structure, with no item, is over it): the items' cuttable strings cut to
 * one length, and the last items dropped when even their shortest strings do not fit.
 */
function fitList<T>(items: readonly T[], encoders: readonly ((items: readonly T[]) => string | null)[]): FittedList<T> {
  // Each item measured on its own in every column: whole, and with its strings at their shortest.
  // A column whose text does not change with the cut does not hold the item's strings (attrs_flat
  // holds a string value, the type-tag column only its tag). Measured as the prefix grows, so only
  // the items kept and the one that did not fit are (450,000 events measured all took ~3 s to keep 121).
  const leaves: number[][] = [];
  const leavesOf = (i: number): number[] => {
    if (leaves[i] === undefined) {
      const into: number[] = [];
      collect(items[i], into);
      leaves[i] = into;
    }
    return leaves[i]!;
  };
  const columns = encoders.map((encode) => ({ encode, base: size(encode([])), whole: [] as number[], least: [] as number[] }));
  const measure = (i: number): void => {
    for (const c of columns) {
      if (c.whole[i] !== undefined) continue;
      c.whole[i] = size(c.encode([items[i]!])) - c.base;
      c.least[i] = size(c.encode([cutStrings(items[i], SHORTEST, false) as T])) - c.base;
    }
  };
  let budget = MAX_STORED_CHARS - SLACK;
  for (let attempt = 0; ; attempt++) {
    // Keep the longest prefix that fits every column with its strings at their shortest.
    let n = 0;
    const used = columns.map((c) => c.base);
    while (n < items.length) {
      measure(n);
      if (!columns.every((c, k) => used[k]! + c.least[n]! <= budget)) break;
      columns.forEach((c, k) => (used[k]! += c.least[n]!));
      n++;
    }
    // Then the one length the kept items' strings are cut to: the largest every column has room for.
    let limit = Infinity;
    for (const c of columns) {
      let fixed = c.base;
      const lengths: number[] = [];
      for (let i = 0; i < n; i++) {
        const holds = c.whole[i] !== c.least[i];
        const sum = holds ? leavesOf(i).reduce((a, b) => a + b, 0) : 0;
        fixed += c.whole[i]! - sum;
        // A loop, not a spread: one item may hold more strings than a call takes arguments.
        if (holds) for (const length of leavesOf(i)) lengths.push(length);
      }
      limit = Math.min(limit, capFor(lengths, budget - fixed));
    }
    const kept = items.slice(0, n).map((item) => (limit === Infinity ? item : (cutStrings(item, limit, false) as T)));
    const texts = encoders.map((encode) => encode(kept));
    if (texts.every(fits) || n === 0) {
      // Count the strings cut once, for the texts stored.
      if (limit !== Infinity) for (const item of items.slice(0, n)) cutStrings(item, limit, true);
      return { items: kept, dropped: items.length - n, texts };
    }
    // An estimate missed (items measured alone leave out separators; duplicate keys change a
    // column's form): aim lower by what is over, faster after a few tries. It ends: at n = 0.
    const over = Math.max(...texts.map(size)) - MAX_STORED_CHARS;
    budget -= over + (attempt < 3 ? SLACK : Math.ceil(budget / 2));
  }
}

/**
 * Strings under these properties name or identify something: an attribute's key (a kvlist's too),
 * a link's trace and span IDs, an int's digits. They are never cut.
 */
const NEVER_CUT = new Set(['key', 'traceId', 'spanId', 'intValue']);

function collect(v: unknown, into: number[]): void {
  if (typeof v === 'string') into.push(v.length);
  else if (Array.isArray(v)) for (const x of v) collect(x, into);
  else if (isRecord(v)) for (const k in v) if (!NEVER_CUT.has(k)) collect(v[k], into);
}

/** An object whose values are walked for strings (bytes are one value, not a structure). */
const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !(v instanceof Uint8Array);

/** The largest length c such that the strings cut to c sum to at most `budget` (water-filling). */
function capFor(lengths: number[], budget: number): number {
  const sorted = [...lengths].sort((a, b) => a - b);
  let used = 0;
  for (let i = 0; i < sorted.length; i++) {
    const rest = sorted.length - i;
    // Every string from i on is cut to c: c · rest + used ≤ budget.
    const c = Math.floor((budget - used) / rest);
    if (c < sorted[i]!) return Math.max(SHORTEST, c);
    used += sorted[i]!;
  }
  return Infinity;
}

/** `v` with its cuttable strings over `limit` cut; `counted`: whether each cut counts in storedStringsCut. */
function cutStrings(v: unknown, limit: number, counted: boolean, key?: string): unknown {
  if (typeof v === 'string') {
    if (v.length <= limit || (key !== undefined && NEVER_CUT.has(key))) return v;
    if (counted) cut++;
    // base64: whole 4-character groups, no mark (it must still decode).
    if (key === 'bytesValue') return v.slice(0, limit - (limit % 4));
    return headOf(v, limit - CUT_MARK.length) + CUT_MARK;
  }
  if (Array.isArray(v)) return v.map((x) => cutStrings(x, limit, counted));
  if (isRecord(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = cutStrings(x, limit, counted, k);
    return out;
  }
  return v;
}
