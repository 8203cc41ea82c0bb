// Limits on what a client sends as input values, over real sockets (fuzz QA D4, D5). A filter
// nested deeper than MAX_INPUT_DEPTH is refused before graphql-js coerces it (1,500 levels
// overflowed its stack: "Unexpected error.", HTTP 500), over HTTP and graphql-ws, for queries and
// subscriptions. A filter list longer than MAX_FILTER_LIST_VALUES, or a filter of more than
// MAX_FILTER_TERMS terms or MAX_FILTER_REGEXES regexes, is refused with GW_BAD_FILTER naming its
// place (100,000 `in` values outlived the deadline and left ~1.2 GB of native memory behind).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql } from '../helpers/graphql-client.ts';
import { tail, wsClient } from '../helpers/tail-client.ts';
import { MAX_INPUT_DEPTH } from '../../src/server/input-depth.ts';
import { MAX_FILTER_LIST_VALUES, MAX_FILTER_REGEXES, MAX_FILTER_TERMS } from '../../resolvers/filter.ts';

const SPANS = 'query($f: TelemetryFilter) { spans(first: 1, filter: $f) { nodes { name } } }';
const TAIL = 'subscription($f: TelemetryFilter) { tailSpans(filter: $f) { span { name } } }';

/** A filter of `levels` nested `and`s: each is two levels of input (the list, then the object). */
function nested(levels: number): Record<string, unknown> {
  let f: Record<string, unknown> = { service: ['x'] };
  for (let i = 0; i < levels; i++) f = { and: [f] };
  return f;
}

/** POSTs `{ query, variables: { f: nested(levels) } }` written as text: JSON.stringify overflows first. */
async function postNested(url: string, levels: number): Promise<{ status: number; errors?: { message: string; extensions?: Record<string, unknown> }[] }> {
  const f = '{"and":['.repeat(levels) + '{"service":["x"]}' + ']}'.repeat(levels);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: `{"query":${JSON.stringify(SPANS)},"variables":{"f":${f}}}`,
  });
  return { status: res.status, ...((await res.json()) as object) };
}

describe('input limits', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(() => gw.stop());

  test('a filter nested past the input depth limit is refused with 400 GW_QUERY_TOO_LARGE over HTTP, not masked as a 500', async () => {
    for (const levels of [MAX_INPUT_DEPTH, 1_500, 20_000]) {
      const r = await postNested(gw.graphqlUrl, levels);
      assert.equal(r.status, 400, `${levels} levels: ${JSON.stringify(r.errors)}`);
      assert.equal(r.errors?.[0]?.extensions?.['code'], 'GW_QUERY_TOO_LARGE');
      assert.match(r.errors![0]!.message, new RegExp(`variable \\$f nests objects and lists more than ${MAX_INPUT_DEPTH} levels`));
    }
    const fits = await gql(gw.graphqlUrl, SPANS, { f: nested(MAX_INPUT_DEPTH / 2 - 1) });
    assert.equal(fits.status, 200, JSON.stringify(fits.errors));
    assert.deepEqual(fits.errors, undefined);
  });

  test('too deep an inline argument value is refused too', async () => {
    const literal = (levels: number) => 'and: [{ '.repeat(levels) + 'service: ["x"]' + ' }]'.repeat(levels);
    const r = await gql(gw.graphqlUrl, `{ spans(first: 1, filter: { ${literal(MAX_INPUT_DEPTH / 2)} }) { nodes { name } } }`);
    assert.equal(r.status, 400, JSON.stringify(r.errors));
    assert.equal(r.errors?.[0]?.extensions?.['code'], 'GW_QUERY_TOO_LARGE');
    assert.match(r.errors![0]!.message, /an argument value in the query text nests/);
    const fits = await gql(gw.graphqlUrl, `{ spans(first: 1, filter: { ${literal(MAX_INPUT_DEPTH / 2 - 1)} }) { nodes { name } } }`);
    assert.deepEqual(fits.errors, undefined);
  });

  test('over graphql-ws, a query or a subscription with too deep a filter gets GW_QUERY_TOO_LARGE and the connection stays usable', async () => {
    const client = wsClient(gw, 'input-limits');
    try {
      for (const query of [SPANS, TAIL]) {
        const refused = tail(client, query, { f: nested(1_500) });
        await refused.done;
        assert.equal(refused.errors[0]?.extensions?.code, 'GW_QUERY_TOO_LARGE', `${query}: ${JSON.stringify(refused.errors)}`);
        assert.match(refused.errors[0]!.message, new RegExp(`more than ${MAX_INPUT_DEPTH} levels`));
      }
      const fine = tail<{ spans: unknown }>(client, SPANS, { f: nested(3) });
      await fine.done;
      assert.deepEqual(fine.errors, []);
      assert.equal(fine.events.length, 1);
    } finally {
      await client.dispose();
    }
  });

  test('a filter list past its limit, or a filter past its terms or regexes, is refused with GW_BAD_FILTER naming the place', async () => {
    const values = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);
    const atLimit = await gql(gw.graphqlUrl, SPANS, { f: { attributes: [{ key: 'k', in: values(MAX_FILTER_LIST_VALUES) }] } });
    assert.deepEqual(atLimit.errors, undefined);
    const overList = await gql(gw.graphqlUrl, SPANS, { f: { attributes: [{ key: 'k', in: values(MAX_FILTER_LIST_VALUES + 1) }] } });
    assert.equal(overList.errors?.[0]?.extensions?.['code'], 'GW_BAD_FILTER');
    assert.match(
      overList.errors![0]!.message,
      new RegExp(`^filter\\.attributes\\[0\\] \\(key "k"\\)\\.in: has ${MAX_FILTER_LIST_VALUES + 1} values; a filter list may have at most ${MAX_FILTER_LIST_VALUES}`),
    );
    const overService = await gql(gw.graphqlUrl, SPANS, { f: { or: [{ service: values(MAX_FILTER_LIST_VALUES + 1) }] } });
    assert.match(overService.errors?.[0]?.message ?? '', /^filter\.or\[0\]\.service: has 1001 values/);
    const lists = Math.ceil(MAX_FILTER_TERMS / MAX_FILTER_LIST_VALUES) + 1;
    const overTerms = await gql(gw.graphqlUrl, SPANS, { f: { or: Array.from({ length: lists }, () => ({ service: values(MAX_FILTER_LIST_VALUES) })) } });
    assert.equal(overTerms.errors?.[0]?.extensions?.['code'], 'GW_BAD_FILTER');
    assert.match(overTerms.errors![0]!.message, new RegExp(`^filter\\.or\\[\\d+\\]\\.service: the filter has more than ${MAX_FILTER_TERMS} terms`));
    const regexes = Array.from({ length: MAX_FILTER_REGEXES + 1 }, (_, i) => ({ attributes: [{ key: 'k', regex: `a${i}(b|c)*` }] }));
    const overRegexes = await gql(gw.graphqlUrl, SPANS, { f: { or: regexes } });
    assert.equal(overRegexes.errors?.[0]?.extensions?.['code'], 'GW_BAD_FILTER');
    assert.match(
      overRegexes.errors![0]!.message,
      new RegExp(`^filter\\.or\\[${MAX_FILTER_REGEXES}\\]\\.attributes\\[0\\] \\(key "k"\\)\\.regex: the filter has more than ${MAX_FILTER_REGEXES} regex conditions`),
    );
  });
});
