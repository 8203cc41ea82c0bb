// Huge variables are refused after walking O(bound) of them, not all of them (bigquery QA, D4):
// the input check counts values as it walks, labelsArg counts labels as it reads them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'graphql';
import { checkInputDepth, MAX_INPUT_VALUES } from '../../../src/server/input-depth.ts';
import { labelsArg, MAX_LABELS } from '../../../resolvers/metrics.ts';

/** `target` behind a proxy that counts the values read from it. */
function countingReads<T extends object>(target: T): { value: T; reads: () => number } {
  let n = 0;
  const value = new Proxy(target, {
    get(t, prop, receiver) {
      if (typeof prop === 'string' && prop !== 'length') n++;
      return Reflect.get(t, prop, receiver) as unknown;
    },
  });
  return { value, reads: () => n };
}

const DOC = parse('query($f: TelemetryFilter) { spans(filter: $f) { nodes { name } } }');

describe('input walks stop at their bound', () => {
  it('refuses variables of more than MAX_INPUT_VALUES values after reading about that many', () => {
    const services = countingReads(Array.from({ length: 1_500_000 }, (_, i) => `s${i}`));
    const refusal = checkInputDepth(DOC, { f: { service: services.value } });
    assert.equal(refusal?.extensions['code'], 'GW_QUERY_TOO_LARGE');
    assert.match(refusal!.message, new RegExp(`at most ${MAX_INPUT_VALUES}`));
    assert.ok(services.reads() <= MAX_INPUT_VALUES + 1, `read ${services.reads()} values`);
  });

  it('counts values across all the variables and at every level', () => {
    const half = () => Array.from({ length: MAX_INPUT_VALUES / 2 }, () => 'x');
    assert.equal(checkInputDepth(DOC, { a: half(), b: half().slice(1) }), undefined);
    assert.equal(checkInputDepth(DOC, { a: half(), b: { nested: half() } })?.extensions['code'], 'GW_QUERY_TOO_LARGE');
  });

  it('labelsArg refuses more than MAX_LABELS labels after reading MAX_LABELS + 1 of them', () => {
    const labels = countingReads(Object.fromEntries(Array.from({ length: 600_000 }, (_, i) => [`k${i}`, 'v'])));
    assert.throws(() => labelsArg(labels.value), new RegExp(`more than ${MAX_LABELS} labels; at most ${MAX_LABELS}`));
    assert.ok(labels.reads() <= MAX_LABELS + 1, `read ${labels.reads()} labels`);
    assert.deepEqual(labelsArg({ a: 'x', b: 2, c: true }), { a: 'x', b: '2', c: 'true' });
  });
});
