// attrs_flat plus the attributes column (type tags) give every attribute list back exactly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KeyValue } from '../../../src/model/telemetry.ts';
import { attrEntry, attrText, NO_SHARED_ENTRIES, sharedEntries } from '../../../src/stores/duckdb/attr-text.ts';
import { attrTypesText, decodeAttrs } from '../../../src/stores/duckdb/attr-types.ts';

const roundTrip = (attrs: KeyValue[]) => decodeAttrs(attrText(attrs, NO_SHARED_ENTRIES), attrTypesText(attrs));

describe('attribute types beside attrs_flat', () => {
  it('stores nothing extra when every value is a string, and gives them back in order', () => {
    const attrs: KeyValue[] = [
      { key: 'b', value: { stringValue: 'x' } },
      { key: 'a', value: { stringValue: '' } },
      { key: '', value: { stringValue: '200' } },
      { key: 'ctl\x1e\x1f\x1d', value: { stringValue: 'v\x1d1\x1e\x1f' } },
    ];
    assert.equal(attrTypesText(attrs), null);
    assert.deepEqual(roundTrip(attrs), attrs);
    assert.deepEqual(roundTrip([]), []);
  });

  it('tags scalar types and keeps arrays, key-value lists, empty values and -0 as JSON', () => {
    const attrs: KeyValue[] = [
      { key: 'code', value: { intValue: '-9007199254740993' } },
      { key: 's', value: { stringValue: '500' } },
      { key: 'ok', value: { boolValue: false } },
      { key: 'yes', value: { boolValue: true } },
      { key: 'pi', value: { doubleValue: 3.141592653589793 } },
      { key: 'tiny', value: { doubleValue: 5e-324 } },
      { key: 'nan', value: { doubleValue: NaN } },
      { key: 'inf', value: { doubleValue: -Infinity } },
      { key: 'negzero', value: { doubleValue: -0 } },
      { key: 'raw', value: { bytesValue: 'AAEC' } },
      { key: 'list', value: { arrayValue: { values: [{ intValue: '1' }, { stringValue: 'a' }] } } },
      { key: 'kv', value: { kvlistValue: { values: [{ key: 'x', value: { doubleValue: NaN } }] } } },
      { key: 'empty', value: {} },
      { key: '__proto__', value: { intValue: '1' } },
    ];
    assert.ok(attrTypesText(attrs)!.startsWith('isbbddddjyjjji\x1e['));
    const back = roundTrip(attrs);
    assert.deepEqual(back, attrs);
    assert.ok(Object.is((back[8]!.value as { doubleValue: number }).doubleValue, -0));
    assert.equal(attrTypesText([{ key: 'n', value: { intValue: '1' } }]), 'i');
  });

  it('keeps the whole list as JSON when a key repeats', () => {
    const attrs: KeyValue[] = [
      { key: 'dup', value: { stringValue: 'first' } },
      { key: 'other', value: { intValue: '2' } },
      { key: 'dup', value: { stringValue: 'second' } },
    ];
    assert.ok(attrTypesText(attrs)!.startsWith('['));
    assert.deepEqual(roundTrip(attrs), attrs);
  });
});

describe('attrs_flat of many attributes', () => {
  // Found in review: duplicates were found by scanning the list once per attribute, so one span of
  // 160,000 attributes held the event loop ~100 s. Past 32 attributes a map of last positions does
  // it; both ways must give the same text.
  const kv = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
  const shared = sharedEntries([kv('k3', 'shared'), kv('host', 'h1')]);
  const expected = (attrs: KeyValue[]) => {
    const lastOf = new Map(attrs.map((a, i) => [a.key, i]));
    const own = attrs.filter((a, i) => lastOf.get(a.key) === i).map((a) => attrEntry(a.key, 'stringValue' in a.value ? a.value.stringValue : null));
    const fromShared = ['k3', 'host'].filter((k) => !lastOf.has(k)).map((k) => attrEntry(k, k === 'k3' ? 'shared' : 'h1'));
    return `\x1e${[...own, ...fromShared].join('')}`;
  };

  it('keeps the last of duplicate keys and the shared ones the record lacks, few or many', () => {
    for (const n of [5, 32, 33, 200]) {
      const attrs = Array.from({ length: n }, (_, i) => kv(`k${i % Math.ceil(n / 2)}`, `v${i}`));
      assert.equal(attrText(attrs, shared), expected(attrs), `${n} attributes`);
    }
    const many = Array.from({ length: 200_000 }, (_, i) => kv(`key.${i}`, 'x'));
    many.push(kv('key.7', 'last'));
    const text = attrText(many, shared);
    assert.equal(text.split('\x1e').length - 2, 200_000 + 2);
    assert.ok(text.includes('\x1ekey.7\x1flast\x1e') && !text.includes('\x1ekey.7\x1fx\x1e'));
  });
});
