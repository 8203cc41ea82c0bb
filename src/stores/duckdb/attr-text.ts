// The filter form of span and log attributes: one flat text per row, `attrs_flat`, instead of a
// MAP(VARCHAR, VARCHAR). Measured on 32k-row inserts: storing a 13-entry MAP or LIST column costs
// DuckDB ~6 µs a row (the list storage, not the JSON parsing), one VARCHAR ~0.5 µs; ingest could not
// afford the MAP. Queries stay free of JSON parsing: a condition is one or two substring searches.
//
// Layout: RS key US value RS key US value RS …, starting and ending with RS (\x1e); a key whose
// value has no filter form (an empty AnyValue) is written `key RS`. Keys are unique (the last
// duplicate winning). A span's or log's row holds its own attributes here; its resource's are in the
// resources table's attrs_flat (parts.ts), and attr-types.ts holds what reading them back needs. Inside keys and values, the
// three control characters used here are escaped: \x1d → \x1d0, \x1e → \x1d1, \x1f → \x1d2, so a
// separator in the text is always a separator and every \x1d starts an escape.
import type { KeyValue } from '../../model/telemetry.ts';
import { anyValueToFilterString } from '../../model/values.ts';
import type { Params } from './filter-sql.ts';

const ESC = '\x1d';
const RS = '\x1e';
const US = '\x1f';
// eslint-disable-next-line no-control-regex -- these control characters are the format's separators
const CONTROL = /[\x1d-\x1f]/;
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_ALL = /[\x1d-\x1f]/g;
const ESCAPES: Record<string, string> = { [ESC]: `${ESC}0`, [RS]: `${ESC}1`, [US]: `${ESC}2` };

export function escapeAttrText(s: string): string {
  return CONTROL.test(s) ? s.replace(CONTROL_ALL, (c) => ESCAPES[c]!) : s;
}

/** One entry: `key US value RS`, or `key RS` when the value has no filter form. */
export function attrEntry(key: string, value: string | null): string {
  return value === null ? `${escapeAttrText(key)}${RS}` : `${escapeAttrText(key)}${US}${escapeAttrText(value)}${RS}`;
}

/** A resource's (or any shared list's) entries, computed once and merged into each record's text. */
export interface SharedEntries {
  keys: string[];
  entries: string[];
  /** Filter-form values by key, for columns such as telemetry_source. */
  values: Map<string, string | null>;
}

export function sharedEntries(attrs: readonly KeyValue[]): SharedEntries {
  const values = new Map<string, string | null>();
  for (const kv of attrs) values.set(kv.key, anyValueToFilterString(kv.value));
  const keys = [...values.keys()];
  return { keys, entries: keys.map((k) => attrEntry(k, values.get(k)!)), values };
}

export const NO_SHARED_ENTRIES: SharedEntries = { keys: [], entries: [], values: new Map() };

/**
 * Up to this many attributes, a record's duplicate keys are found by scanning (no allocation, the
 * usual case); past it by a map of each key's last position: the scans are quadratic, and one span
 * of 160,000 attributes held the event loop ~100 s.
 */
const SCAN_LIMIT = 32;

function hasLater(attrs: readonly KeyValue[], i: number, key: string): boolean {
  for (let j = i + 1; j < attrs.length; j++) if (attrs[j]!.key === key) return true;
  return false;
}

function hasKey(attrs: readonly KeyValue[], key: string): boolean {
  for (let j = 0; j < attrs.length; j++) if (attrs[j]!.key === key) return true;
  return false;
}

/** A record's own attributes in attr-text form (its attrs_flat column). */
export const flatText = (attrs: readonly KeyValue[]): string => attrText(attrs, NO_SHARED_ENTRIES);

/** The attrs_flat text of a record: its attributes over the shared ones (NO_SHARED_ENTRIES for its own alone). */
export function attrText(attrs: readonly KeyValue[], shared: SharedEntries): string {
  let lastAt: Map<string, number> | undefined;
  if (attrs.length > SCAN_LIMIT) {
    lastAt = new Map();
    for (let i = 0; i < attrs.length; i++) lastAt.set(attrs[i]!.key, i);
  }
  let text = RS;
  for (let i = 0; i < attrs.length; i++) {
    const kv = attrs[i]!;
    const last = lastAt ? lastAt.get(kv.key) === i : !hasLater(attrs, i, kv.key);
    if (last) text += attrEntry(kv.key, anyValueToFilterString(kv.value));
  }
  for (let i = 0; i < shared.keys.length; i++) {
    const key = shared.keys[i]!;
    if (!(lastAt ? lastAt.has(key) : hasKey(attrs, key))) text += shared.entries[i]!;
  }
  return text;
}

/** The filter-form value of `key` in a record: its own attribute, else the shared one; undefined if neither has it. */
export function attrValue(attrs: readonly KeyValue[], shared: SharedEntries, key: string): string | null | undefined {
  for (let i = attrs.length - 1; i >= 0; i--) if (attrs[i]!.key === key) return anyValueToFilterString(attrs[i]!.value);
  return shared.values.get(key);
}

// SQL over an attr-text column (`attrs_flat` unless named: a span's, a log's or a resource's). Every
// needle is built here from user input and bound as a parameter.

/** `key`'s value, NULL when absent or valueless; unescaped only when an escape is present. */
export function attrValueSql(key: string, p: Params, column = 'attrs_flat'): string {
  const needle = p.add(`${RS}${escapeAttrText(key)}${US}`);
  const raw = `split_part(split_part(${column}, ${needle}, 2), '${RS}', 1)`;
  const unescaped = `CASE WHEN contains(${raw}, '${ESC}') THEN replace(replace(replace(${raw}, '${ESC}1', '${RS}'), '${ESC}2', '${US}'), '${ESC}0', '${ESC}') ELSE ${raw} END`;
  return `(CASE WHEN contains(${column}, ${needle}) THEN ${unescaped} END)`;
}

export function attrEqualsSql(key: string, value: string, p: Params, column = 'attrs_flat'): string {
  return `contains(${column}, ${p.add(`${RS}${escapeAttrText(key)}${US}${escapeAttrText(value)}${RS}`)})`;
}

/** True when the key is present and has a value (the other conditions' notion of "set"). */
export function attrHasValueSql(key: string, p: Params, column = 'attrs_flat'): string {
  return `contains(${column}, ${p.add(`${RS}${escapeAttrText(key)}${US}`)})`;
}

export function attrExistsSql(key: string, p: Params, column = 'attrs_flat'): string {
  const k = escapeAttrText(key);
  return `(contains(${column}, ${p.add(`${RS}${k}${US}`)}) OR contains(${column}, ${p.add(`${RS}${k}${RS}`)}))`;
}

/** The list of keys in an attr-text column, unescaped. */
export function attrKeysSql(column = 'attrs_flat'): string {
  const key = `split_part(e, '${US}', 1)`;
  const unescaped = `CASE WHEN contains(${key}, '${ESC}') THEN replace(replace(replace(${key}, '${ESC}1', '${RS}'), '${ESC}2', '${US}'), '${ESC}0', '${ESC}') ELSE ${key} END`;
  return `list_transform(list_filter(string_split(${column}, '${RS}'), lambda e: e <> ''), lambda e: ${unescaped})`;
}
