// Search documents of records the store never wrote (storage QA: after a kill -9, the `embedding`
// exporter had committed a batch's documents and the `duckdb` exporter had not committed the batch;
// `search` answered 100 hits whose span was null until retention removed them). Made here for
// certain, on a real file: a gateway whose traces go to the `embedding` exporter only leaves
// documents without spans, as the crash did; the next gateway on the file stores the same texts.
// Its answers hold only hits of stored spans, and the orphans take no place of the limit.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startGateway } from '../helpers/gateway.ts';
import { gql } from '../helpers/graphql-client.ts';
import { spansJson } from '../helpers/otlp-bodies.ts';
import { tempStorePaths } from '../helpers/temp-store.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { TEST_MODEL } from '../fixtures/search/test-model.ts';

const TEXT = 'payment declined by card issuer';

const SEARCH = /* GraphQL */ `
  query ($exact: Boolean, $signals: [SearchSignal!]) {
    search(text: "payment declined", signals: $signals, limit: 5, exact: $exact) {
      hits { kind span { spanId name } trace { traceId } }
    }
  }
`;

interface Hit {
  kind: string;
  span: { spanId: string; name: string } | null;
  trace: { traceId: string } | null;
}

describe('search documents whose record was never stored', () => {
  const newPath = tempStorePaths('storage-orphans');

  test('are not answered, and leave the limit to the stored spans', async () => {
    const path = newPath();
    const sendSpans = (otlpHttp: string, name: string, n: number) =>
      fetch(`${otlpHttp}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(spansJson(Array.from({ length: n }, () => ({ name, attributes: { 'error.message': TEXT } })))),
      });

    const indexOnly = await startGateway({ search: TEST_MODEL, pipelines: { traces: { exporters: ['embedding'] } } }, path);
    try {
      assert.equal((await sendSpans(indexOnly.otlpHttp, 'lost', 20)).status, 200);
      await waitFor(async () => (await indexOnly.app.internals.store()!.db.query('SELECT count(*) AS n FROM search_docs'))[0]!.n, (n) => Number(n) >= 20, 'the documents of spans never stored');
      // Where spans are not written to DuckDB at all (stored in Jaeger), their documents are hits:
      // only the signals a pipeline writes to DuckDB are checked against it (review of round 29).
      const r = await gql<{ search: { hits: { kind: string; traceId: string }[] } }>(
        indexOnly.graphqlUrl,
        '{ search(text: "payment declined", signals: [SPAN], limit: 5, exact: true) { hits { kind traceId } } }',
      );
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      assert.equal(r.data!.search.hits.length, 5, JSON.stringify(r.data));
    } finally {
      await indexOnly.stop();
    }

    const gw = await startGateway({ search: TEST_MODEL }, path);
    try {
      assert.equal((await sendSpans(gw.otlpHttp, 'kept', 3)).status, 200);
      await waitFor(async () => (await gw.app.internals.store()!.db.query('SELECT count(*) AS n FROM search_docs'))[0]!.n, (n) => Number(n) >= 23, 'the stored spans indexed');
      await waitFor(async () => (await gw.app.internals.store()!.db.query('SELECT count(*) AS n FROM spans'))[0]!.n, (n) => Number(n) === 3, 'the stored spans written');
      for (const exact of [true, false]) {
        for (const signals of [['SPAN'], ['TRACE'], ['SPAN', 'TRACE']]) {
          const r = await gql<{ search: { hits: Hit[] } }>(gw.graphqlUrl, SEARCH, { exact, signals });
          assert.equal(r.errors, undefined, JSON.stringify(r.errors));
          const hits = r.data!.search.hits;
          const what = `exact ${exact}, ${signals.join('+')}: ${JSON.stringify(hits)}`;
          assert.ok(hits.length > 0, what);
          assert.ok(hits.every((h) => (h.kind === 'TRACE' ? h.trace !== null : h.span?.name === 'kept')), what);
          if (signals.length === 1) assert.equal(hits.length, 3, `every stored span's hit: ${what}`);
        }
      }
    } finally {
      await gw.stop();
    }
  });
});
