// GraphQL over SSE (distinct connections mode, Accept: text/event-stream): a document refused by the
// query limits (depth, aliases, tokens, text size) is answered as graphql-sse's protocol wants a
// validation error answered, and as Yoga answers its own: an accepted stream (200) with a `next`
// event carrying the errors, then `complete`. It was a 400 or 413, which an EventSource reports as a
// failed connection without the reason. Over application/json the statuses stay.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';

const REFUSED: [string, string, number, RegExp][] = [
  ['depth', 'subscription { tailSpans { span { trace { spans { name } } } } }', 400, /limits\.graphql\.maxDepth/],
  ['aliases', 'subscription { tailSpans { a: dropped b: dropped c: dropped } }', 400, /limits\.graphql\.maxAliases/],
  ['tokens', `subscription { tailSpans { ${'dropped '.repeat(120)}} }`, 400, /limits\.graphql\.maxTokens/],
  ['text size', `subscription { tailSpans { dropped ${' '.repeat(4000)}} }`, 413, /limits\.graphql\.maxQueryBytes/],
];

/** The events of a finished SSE body, as [event, data] pairs (comments, Yoga's pings, skipped). */
function events(body: string): [string, string][] {
  return body
    .split('\n\n')
    .filter((block) => block.startsWith('event:'))
    .map((block) => {
      const [event, ...data] = block.split('\n');
      return [event!.slice('event:'.length).trim(), data.map((d) => d.replace(/^data: ?/, '')).join('\n')];
    });
}

describe('query-limit refusals over GraphQL-over-SSE', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { graphql: { maxDepth: 3, maxAliases: 2, maxTokens: 100, maxQueryBytes: 4000 } } });
  });
  after(() => gw.stop());

  const post = (query: string, accept: string) =>
    fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept, 'x-scope-orgid': 'sse-limits' }, body: JSON.stringify({ query }), signal: AbortSignal.timeout(10_000) });

  for (const [limit, query, status, message] of REFUSED) {
    test(`a subscription over SSE refused for its ${limit} is a 200 stream: next with the error, then complete`, async () => {
      const res = await post(query, 'text/event-stream');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      const got = events(await res.text());
      assert.deepEqual(got.map(([event]) => event), ['next', 'complete']);
      const payload = JSON.parse(got[0]![1]) as { data?: unknown; errors: { message: string; extensions: { code: string } }[] };
      assert.equal(payload.data, undefined);
      assert.equal(payload.errors[0]!.extensions.code, 'GW_QUERY_TOO_LARGE');
      assert.match(payload.errors[0]!.message, message);
      assert.deepEqual(Object.keys(payload.errors[0]!.extensions), ['code'], 'no http extension in the event');

      const json = await post(query, 'application/json');
      assert.equal(json.status, status, 'over JSON the refusal keeps its status');
      assert.match(((await json.json()) as { errors: { message: string }[] }).errors[0]!.message, message);
    });
  }
});
