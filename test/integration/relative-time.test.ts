// Relative Timestamps (`now-1h`) over the real server: one request reads one now, and the pages of a
// search keep its first page's (the cursor carries it), over HTTP and over graphql-ws alike.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { spansJson } from '../helpers/otlp-bodies.ts';
import { postOtlp, wsClient } from '../helpers/tail-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const PAGE = 'query($after: String) { spans(filter: { from: "now-1h", to: "now" }, first: 2, after: $after) { edges { node { name } } pageInfo { hasNextPage endCursor } } }';
interface Page {
  spans: { edges: { node: { name: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}
const cursorNow = (cursor: string | null) => (JSON.parse(Buffer.from(cursor ?? '', 'base64url').toString('utf8')) as { n?: string }).n;

describe('relative Timestamps', () => {
  let gw: TestGateway;
  const tenant = 'relative';
  before(async () => {
    gw = await startGateway();
    assert.equal(await postOtlp(gw, '/v1/traces', spansJson(['a', 'b', 'c'].map((name) => ({ name }))), tenant), 200);
    await waitFor(async () => (await gqlData<Page>(gw.graphqlUrl, PAGE, {}, { 'x-scope-orgid': tenant })).spans.edges.length, (n) => n === 2, 'the spans stored');
  });
  after(() => gw.stop());

  test('pages of a `now-1h` search carry its first page\'s now, over HTTP and graphql-ws', async () => {
    const first = await gqlData<Page>(gw.graphqlUrl, PAGE, {}, { 'x-scope-orgid': tenant });
    const n = cursorNow(first.spans.pageInfo.endCursor);
    assert.match(String(n), /^\d{19}$/, 'the cursor carries the instant now-1h was read against');
    const second = await gqlData<Page>(gw.graphqlUrl, PAGE, { after: first.spans.pageInfo.endCursor }, { 'x-scope-orgid': tenant });
    assert.equal(second.spans.edges.length, 1);
    assert.equal(cursorNow(second.spans.pageInfo.endCursor), n, 'the next page keeps it');

    const client = wsClient(gw, tenant);
    try {
      const overWs = await new Promise<Page>((resolve, reject) => {
        let data: Page | undefined;
        client.subscribe<Page>({ query: PAGE }, { next: (r) => void (data = r.data as Page), error: reject, complete: () => resolve(data!) });
      });
      assert.match(String(cursorNow(overWs.spans.pageInfo.endCursor)), /^\d{19}$/);
    } finally {
      await client.dispose();
    }
  });
});
