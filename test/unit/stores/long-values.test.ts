// long-values.ts: what one DuckDB column value may hold. A text over the limit is rebuilt with its
// longest strings cut to one length (water-filling), so that JSON stays JSON and short values stay whole.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_STORED_CHARS, storedString, storedStringsCut, storedText } from '../../../src/stores/duckdb/long-values.ts';

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

  it('keeps bigints and the structure of events', () => {
    const events = [{ timeUnixNano: 5n, name: 'exception', attributes: [{ key: 'exception.stacktrace', value: { stringValue: 's'.repeat(50_000) } }] }];
    const encode = (e: typeof events) => JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    const back = JSON.parse(storedText(events, encode)) as { timeUnixNano: string; name: string; attributes: { value: { stringValue: string } }[] }[];
    assert.equal(back[0]!.timeUnixNano, '5');
    assert.equal(back[0]!.name, 'exception');
    assert.ok(back[0]!.attributes[0]!.value.stringValue.length < MAX_STORED_CHARS);
  });
});
