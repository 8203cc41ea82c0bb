// The cost of operations with fragments: each fragment's cost is computed once and multiplied where
// it is spread, so a document of n fragments that each spread the previous one twice costs 2ⁿ times
// its first fragment in time linear in the document (fuzz QA: walking each spread again took 2ⁿ
// walks, and a 1.7 KB document of 40 such fragments hung the gateway).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, validate } from 'graphql';
import { schema } from '../../../schema/index.ts';
import { queryCost } from '../../../src/server/query-cost.ts';
import { fanOut } from '../../helpers/fragment-fan-out.ts';

const cost = (query: string, variables?: Record<string, unknown>) => queryCost(schema, parse(query), undefined, variables, 100);

test('fragments that each spread the previous one twice cost 2ⁿ times the first, exactly while that is a safe integer', () => {
  assert.deepEqual(validate(schema, parse(fanOut(40))), [], 'a valid document');
  // `services` is a list without a size argument: defaultListSize (100).
  assert.equal(cost(fanOut(1)), 2 * 100);
  assert.equal(cost(fanOut(20)), 2 ** 20 * 100);
  assert.equal(cost(fanOut(40)), 2 ** 40 * 100);
  assert.equal(cost(fanOut(46)), 2 ** 46 * 100, 'below 2⁵³');
});

test('a cost past Number.MAX_SAFE_INTEGER is Number.MAX_SAFE_INTEGER, however far past (never Infinity or NaN)', () => {
  assert.equal(cost(fanOut(47)), Number.MAX_SAFE_INTEGER);
  assert.equal(cost(fanOut(200)), Number.MAX_SAFE_INTEGER);
  assert.equal(cost(fanOut(2000)), Number.MAX_SAFE_INTEGER, '2²⁰⁰⁰ is past what a double holds');
  // Fanned out under a list: the page multiplies the fragments' cost.
  const spanFanOut = (n: number) => fanOut(n).replaceAll('on Query', 'on Span').replace('{ services }', '{ name }').replace(/\{ \.\.\.F\d+ \}$/, `{ spans(first: 10000) { nodes { ...F${n} } } }`);
  assert.deepEqual(validate(schema, parse(spanFanOut(20))), []);
  assert.equal(cost(spanFanOut(20)), 10000 + 10000 + 10000 * 2 ** 20);
  assert.equal(cost(spanFanOut(40)), Number.MAX_SAFE_INTEGER);
});

test('a fragment costs what its selections would inline, wherever and however often it is spread', () => {
  const pairs: [string, string][] = [
    [
      '{ spans(first: 10) { ...Page } } fragment Page on SpanConnection { nodes { ...S } edges { cursor node { ...S } } } fragment S on Span { name links { traceId } events { name } }',
      '{ spans(first: 10) { nodes { name links { traceId } events { name } } edges { cursor node { name links { traceId } events { name } } } } }',
    ],
    [
      '{ trace(traceId: "0af7651916cd43dd8448eb211c80319c") { spans { ...S children { ...S } } } spans(first: 7) { nodes { ...S } } } fragment S on Span { spanId typedAttributes { key } }',
      '{ trace(traceId: "0af7651916cd43dd8448eb211c80319c") { spans { spanId typedAttributes { key } children { spanId typedAttributes { key } } } } spans(first: 7) { nodes { spanId typedAttributes { key } } } }',
    ],
    [
      'query($n: Int = 300) { alertHistory(limit: $n) { ...H ... on AlertTransition { ...H } } } fragment H on AlertTransition { at value }',
      'query($n: Int = 300) { alertHistory(limit: $n) { at value at value } }',
    ],
  ];
  for (const [withFragments, inlined] of pairs) {
    assert.deepEqual(validate(schema, parse(withFragments)), [], withFragments);
    assert.ok(cost(inlined) > 0, inlined);
    assert.equal(cost(withFragments), cost(inlined), withFragments);
  }
});
