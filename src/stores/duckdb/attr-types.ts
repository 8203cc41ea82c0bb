// The `attributes` column of spans and logs: what attrs_flat (attr-text.ts) needs to give a record's
// attributes back losslessly. attrs_flat holds each key once with its value's filter form, in order;
// this column adds the value types. Measured before (bench:ingest-stages): the attributes'
// JSON.stringify was ~15 % of ingest CPU, and its ~600 B of JSON a row the widest column read back.
//
// Forms:
// - NULL: every value is a string (attrs_flat alone is lossless).
// - Type tags, one character per attrs_flat entry: s string, i int, b bool, d double, y bytes,
//   j "the next value of the JSON list that follows": `tags` or `tags RS [AnyValue, …]`. Arrays,
//   key-value lists, empty values and -0 (whose filter form "0" would lose the sign) go in the list.
// - A JSON array of KeyValues (starts with '['): duplicate keys, which attrs_flat keeps only once.
import type { AnyValue, KeyValue } from '../../model/telemetry.ts';
import { decodeJson, encodeJson } from './json.ts';

const RS = '\x1e';
const US = '\x1f';
const ESC = '\x1d';

function tagOf(v: AnyValue): string {
  if ('stringValue' in v) return 's';
  if ('intValue' in v) return 'i';
  if ('boolValue' in v) return 'b';
  if ('doubleValue' in v) return Object.is(v.doubleValue, -0) ? 'j' : 'd';
  if ('bytesValue' in v) return 'y';
  return 'j';
}

function hasDuplicateKeys(attrs: readonly KeyValue[]): boolean {
  if (attrs.length < 2) return false;
  if (attrs.length < 16) {
    for (let i = 1; i < attrs.length; i++) for (let j = 0; j < i; j++) if (attrs[i]!.key === attrs[j]!.key) return true;
    return false;
  }
  return new Set(attrs.map((a) => a.key)).size !== attrs.length;
}

/** The column's value for `attrs` (see the forms above). */
export function attrTypesText(attrs: readonly KeyValue[]): string | null {
  if (attrs.length === 0) return null;
  if (hasDuplicateKeys(attrs)) return encodeJson(attrs);
  let tags = '';
  let allStrings = true;
  let json: AnyValue[] | null = null;
  for (let i = 0; i < attrs.length; i++) {
    const v = attrs[i]!.value;
    const t = tagOf(v);
    if (t !== 's') allStrings = false;
    if (t === 'j') (json ??= []).push(v);
    tags += t;
  }
  if (allStrings) return null;
  return json ? `${tags}${RS}${encodeJson(json)}` : tags;
}

const unescape = (s: string) =>
  s.includes(ESC) ? s.replace(/\x1d[012]/g, (e) => (e === `${ESC}0` ? ESC : e === `${ESC}1` ? RS : US)) : s; // eslint-disable-line no-control-regex -- the format's escape

function typed(tag: string, text: string): AnyValue {
  switch (tag) {
    case 'i':
      return { intValue: text };
    case 'b':
      return { boolValue: text === 'true' };
    case 'd':
      return { doubleValue: Number(text) };
    case 'y':
      return { bytesValue: text };
    default:
      return { stringValue: text };
  }
}

/** The record's attributes from its attrs_flat and attributes columns. */
export function decodeAttrs(flat: string, types: string | null): KeyValue[] {
  if (types !== null && types.startsWith('[')) return decodeJson<KeyValue[]>(types);
  if (flat.length <= 1) return [];
  const sep = types === null ? -1 : types.indexOf(RS);
  const tags = types === null ? '' : sep === -1 ? types : types.slice(0, sep);
  const json = sep === -1 ? [] : decodeJson<AnyValue[]>(types!.slice(sep + 1));
  const out: KeyValue[] = [];
  let j = 0;
  // flat is RS entry RS entry … RS; an entry is `key US value` or a valueless `key`.
  let start = 1;
  for (let i = 0; start < flat.length; i++) {
    const end = flat.indexOf(RS, start);
    const entry = flat.slice(start, end);
    start = end + 1;
    const tag = tags[i] ?? 's';
    if (tag === 'j') {
      const us = entry.indexOf(US);
      out.push({ key: unescape(us === -1 ? entry : entry.slice(0, us)), value: json[j++]! });
      continue;
    }
    const us = entry.indexOf(US);
    out.push({ key: unescape(entry.slice(0, us)), value: typed(tag, unescape(entry.slice(us + 1))) });
  }
  return out;
}
