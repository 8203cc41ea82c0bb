// long-values.ts: what one DuckDB column value may hold. A text over the limit is rebuilt with its
// longest strings cut to one length (water-filling), so that JSON stays JSON and short values stay whole.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KeyValue } from '../../../src/model/telemetry.ts';
import { wellFormed } from '../../../src/model/values.ts';
import { MAX_STORED_CHARS, storedAttributes, storedList, storedString, storedStringsCut, storedText } from '../../../src/stores/duckdb/long-values.ts';

const PREFIX = 'k8s.pod.label.app.kubernetes.io.component.instance.'; // 51 characters
/** `n` attributes with 54-character keys sharing PREFIX, each value 60 'v's and its index. */
const labels = (n: number): KeyValue[] =>
  Array.from({ length: n }, (_, i) => ({ key: `${PREFIX}${String(i).padStart(3, '0')}`, value: { stringValue: `${'v'.repeat(60)}${i}` } }));

describe('long values kept out of DuckDB', () => {
  it('passes texts within the limit through as they are', () => {
    const value = [{ key: 'a', value: { stringValue: 'x'.repeat(100) } }];
    const text = JSON.stringify(value);
    assert.equal(storedText(value, JSON.stringify), text);
    assert.equal(storedString('short'), 'short');
    assert.equal(storedString(null), null);
  });

  it('cuts only the longest strings, to one length, so that the text fits and stays JSON', () => {
    const before = storedStringsCut();
    const value = [
      { key: 'prompt', value: { stringValue: 'p'.repeat(40_000) } },
      { key: 'completion', value: { stringValue: 'c'.repeat(20_000) } },
      { key: 'model', value: { stringValue: 'claude' } },
      { key: 'blob', value: { bytesValue: 'QUJD'.repeat(5_000) } },
    ];
    const text = storedText(value, JSON.stringify);
    assert.ok(text.length <= MAX_STORED_CHARS, String(text.length));
    const back = JSON.parse(text) as typeof value;
    assert.equal(back[2]!.value.stringValue, 'claude');
    const prompt = back[0]!.value.stringValue!;
    const completion = back[1]!.value.stringValue!;
    assert.equal(prompt.length, completion.length, 'cut to the same length');
    assert.ok(prompt.endsWith('…') && prompt.length > 4_000);
    const bytes = back[3]!.value.bytesValue!;
    assert.equal(bytes.length % 4, 0, 'base64 keeps whole groups');
    assert.ok(!bytes.endsWith('…'));
    assert.equal(storedStringsCut() - before, 3);
  });

  it('a plain string is cut to the limit with a mark', () => {
    const s = storedString('z'.repeat(MAX_STORED_CHARS + 1));
    assert.equal(s.length, MAX_STORED_CHARS);
    assert.ok(s.endsWith('…'));
  });

  // Code review, session 32 (round 2): a cut between the halves of an emoji left a lone surrogate,
  // stored as U+FFFD, so the stored copy of a record no longer started its live one (a since replay
  // sent it twice). A pair is kept whole or left out whole.
  it('never cuts a surrogate pair in two', () => {
    for (const at of [MAX_STORED_CHARS - 2, MAX_STORED_CHARS - 1]) {
      const text = `${'a'.repeat(at)}😀${'b'.repeat(100)}`;
      const stored = storedString(text, false);
      assert.equal(wellFormed(stored), stored, `emoji at ${at}`);
      assert.ok(text.startsWith(stored.slice(0, -1)), 'the stored text starts the whole one');
      const attrs = storedAttributes([{ key: 'k', value: { stringValue: text } }, { key: 'j', value: { stringValue: text } }]);
      assert.equal(wellFormed(attrs.flat), attrs.flat);
    }
  });

  it('keeps bigints and the structure of events', () => {
    const events = [{ timeUnixNano: 5n, name: 'exception', attributes: [{ key: 'exception.stacktrace', value: { stringValue: 's'.repeat(50_000) } }] }];
    const encode = (e: typeof events) => JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    const back = JSON.parse(storedText(events, encode)) as { timeUnixNano: string; name: string; attributes: { value: { stringValue: string } }[] }[];
    assert.equal(back[0]!.timeUnixNano, '5');
    assert.equal(back[0]!.name, 'exception');
    assert.ok(back[0]!.attributes[0]!.value.stringValue.length < MAX_STORED_CHARS);
  });
});

// Keys are never cut (test/unit/stores/duckdb-long-attributes.test.ts has the store's side).
describe('long values: attribute lists', () => {
  it('passes a list that fits through as it is (the same array, nothing dropped)', () => {
    const attrs = labels(20);
    const kept = storedAttributes(attrs);
    assert.equal(kept.items, attrs);
    assert.equal(kept.dropped, 0);
  });

  it('keeps every column within the limit and the columns in agreement, with typed values and duplicate keys', () => {
    const typed: KeyValue[] = labels(900).map((a, i) =>
      i % 3 === 0 ? { key: a.key, value: { arrayValue: { values: [{ stringValue: 'a'.repeat(90) }, { intValue: String(i) }] } } } : i % 3 === 1 ? { key: a.key, value: { intValue: String(i) } } : a,
    );
    for (const attrs of [typed, [...labels(300), ...labels(300)]]) {
      const kept = storedAttributes(attrs);
      assert.ok(kept.dropped > 0);
      assert.equal(kept.items.length + kept.dropped, new Set(attrs.map((a) => a.key)).size, 'of duplicate keys the last is kept, the others superseded, not dropped');
      for (const text of [kept.flat, kept.types]) assert.ok(text === null || text.length <= MAX_STORED_CHARS, String(text?.length));
      for (const [i, a] of kept.items.entries()) assert.equal(a.key, attrs[i]!.key);
      for (const [i, a] of kept.items.entries()) if ('intValue' in a.value) assert.equal(a.value.intValue, (attrs[i]!.value as { intValue: string }).intValue, 'ints are not cut');
    }
  });

  it("storedText never cuts keys (a metric point's labels: a key is kept even when the text stays over)", () => {
    const text = storedText(labels(600), JSON.stringify);
    const back = JSON.parse(text) as KeyValue[];
    assert.deepEqual(back.map((a) => a.key), labels(600).map((a) => a.key));
    assert.ok(back.every((a) => (a.value as { stringValue: string }).stringValue.length <= 2));
  });

  // QA session 33: N copies of one key, measured one by one, dropped every attribute at 500 (300
  // kept all, 700 kept 376): the duplicates' JSON form was long, the attribute the row reads back short.
  it('of many copies of one key keeps the last value, dropping nothing', () => {
    for (const n of [500, 700, 1_000, 20_000]) {
      const attrs: KeyValue[] = Array.from({ length: n }, (_, i) => ({ key: 'a', value: { stringValue: `v${i}` } }));
      const kept = storedAttributes(attrs);
      assert.deepEqual(kept.items, [{ key: 'a', value: { stringValue: `v${n - 1}` } }], String(n));
      assert.equal(kept.dropped, 0, String(n));
      assert.equal(kept.flat, '\x1ea\x1fv' + (n - 1) + '\x1e');
      assert.equal(kept.types, null);
    }
    // Copies among other keys: each key once, at its last position, as attrs_flat orders them.
    const mixed: KeyValue[] = [...Array.from({ length: 2_000 }, (_, i) => ({ key: i % 2 ? 'b' : 'a', value: { intValue: String(i) } })), { key: 'c', value: { stringValue: 'x' } }];
    const kept = storedAttributes(mixed);
    assert.deepEqual(kept.items, [{ key: 'a', value: { intValue: '1998' } }, { key: 'b', value: { intValue: '1999' } }, { key: 'c', value: { stringValue: 'x' } }]);
    assert.equal(kept.dropped, 0);
  });

  // QA session 33: one span's 450,000 events were each encoded twice (~3 s) to keep 121.
  it('measures only the items it keeps and the one that did not fit, not the whole list', () => {
    const events = Array.from({ length: 100_000 }, (_, i) => ({ name: `event-${i}`, attributes: [{ key: 'i', value: { stringValue: 'x'.repeat(100) } }] }));
    let measured = 0;
    const encode = (items: readonly unknown[]): string | null => {
      if (items.length === 1) measured++;
      return items.length ? JSON.stringify(items) : null;
    };
    const kept = storedList(events, encode);
    assert.ok(kept.items.length > 50 && kept.dropped === events.length - kept.items.length, String(kept.items.length));
    assert.ok(kept.text!.length <= MAX_STORED_CHARS);
    // Each measured item is encoded twice (whole, and with its strings at their shortest).
    assert.ok(measured <= 2 * (kept.items.length + 1) + 2, `${measured} single-item encodings for ${kept.items.length} kept`);
  });
});
