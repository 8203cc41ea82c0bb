// The cost limit on a real gateway with documents whose fragments fan out: n fragments that each
// spread the previous one twice are refused naming maxCost with their exact cost (2ⁿ·100, or "at
// least" Number.MAX_SAFE_INTEGER past it), over HTTP and graphql-ws, and the gateway goes on
// answering. Found by fuzz QA: the cost check walked each spread again (2ⁿ walks), so a 1.7 KB
// document of 40 such fragments blocked the event loop and no request was answered again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { fanOut } from '../helpers/fragment-fan-out.ts';
import { gql } from '../helpers/graphql-client.ts';
import { tail, wsClient } from '../helpers/tail-client.ts';

const messageOf = (r: { errors?: { message: string }[] }) => r.errors?.[0]?.message ?? '';

describe('query cost of fragments (fuzz QA)', () => {
  let gw: TestGateway;
  before(async () => {
    // The defaults: maxCost 200,000, defaultListSize 100, maxTokens 2,000.
    gw = await startGateway();
  });
  after(() => gw.stop());

  test("the QA report's document (40 fragments, each spreading the previous twice) and its depth 20 and 60 variants are refused naming maxCost", async () => {
    for (const [n, cost] of [
      [20, String(2 ** 20 * 100)],
      [40, String(2 ** 40 * 100)],
      [60, `at least ${Number.MAX_SAFE_INTEGER}`],
    ] as const) {
      const r = await gql(gw.graphqlUrl, fanOut(n));
      assert.equal(r.status, 400, `fan-out ${n}`);
      assert.equal(r.errors?.[0]?.extensions?.['code'], 'GW_QUERY_TOO_LARGE', `fan-out ${n}`);
      assert.equal(messageOf(r).split(' (')[0], `query cost of ${cost} exceeds limits.graphql.maxCost of 200000`, `fan-out ${n}`);
    }
    const health = await fetch(gw.graphqlUrl.replace(/\/graphql$/, '/healthz'));
    assert.equal(health.status, 200);
  });

  test('over graphql-ws too, and the connection goes on', async () => {
    const client = wsClient(gw, 'fan-out');
    try {
      const refused = tail(client, fanOut(40));
      await refused.done;
      assert.match(refused.errors[0]?.message ?? '', new RegExp(`^query cost of ${2 ** 40 * 100} exceeds limits\\.graphql\\.maxCost of 200000`));
      const answered = tail<{ services: string[] }>(client, '{ ...F0 } fragment F0 on Query { services }');
      await answered.done;
      assert.deepEqual(answered.errors, []);
      assert.deepEqual(answered.events, [{ services: [] }]);
    } finally {
      await client.dispose();
    }
  });

  test('a query with fragments costs what it costs inlined: answered within maxCost, refused past it with the same cost', async () => {
    const within = '{ spans(first: 1000) { ...Page } } fragment Page on SpanConnection { nodes { ...S } } fragment S on Span { name spanId }';
    const r = await gql(gw.graphqlUrl, within);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const past = '{ spans(first: 10000) { ...Page } } fragment Page on SpanConnection { nodes { ...S } } fragment S on Span { name spanId links { traceId } }';
    const inlined = '{ spans(first: 10000) { nodes { name spanId links { traceId } } } }';
    // spans, nodes, name, spanId: 10,000 each; links (no size argument: 100 each) and traceId: 10,000·100 each.
    const expected = 4 * 10_000 + 2 * 10_000 * 100;
    for (const q of [past, inlined]) {
      const refused = await gql(gw.graphqlUrl, q);
      assert.equal(refused.status, 400);
      assert.match(messageOf(refused), new RegExp(`^query cost of ${expected} exceeds limits\\.graphql\\.maxCost of 200000`), q);
    }
  });
});
