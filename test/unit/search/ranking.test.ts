// Semantic search ranking with the real small model (offline) over DuckDB: traces whose best spans
// come in bulk (one trace with many identical spans, one with many near-identical ones) still leave
// room for `limit` distinct traces, through the exact scan and through the ANN index; and a query
// of words the model does not know is matched by its words alone, not ranked against everything.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LogRecord, SpanRecord } from '../../../src/model/telemetry.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { openSemanticSearch, type SearchParts } from '../../../src/search/setup.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { silentLogger } from '../../../src/logger.ts';
import type { SearchSignal } from '../../../src/search/types.ts';
import { attrs, log, MS, resource, SEC, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';
import { TEST_MODEL } from '../../fixtures/search/test-model.ts';

const TENANT = 'ranking';
const QUERY = 'payment card declined by the bank';
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'mike', 'november', 'oscar', 'papa', 'quebec', 'romeo', 'sierra', 'tango'];
const COLOURS = ['red', 'green', 'blue'];

/** Trace 1: 150 identical spans (one text). Trace 2: 60 spans of near-identical texts. Traces 3–10: one or two spans each. */
function corpus(): SpanRecord[] {
  const spans: SpanRecord[] = [];
  let n = 0;
  const add = (trace: number, service: string, name: string, extra: Record<string, string> = {}) => {
    const start = T0 + BigInt(n) * SEC;
    spans.push(
      span({
        tenant: TENANT,
        resource: resource(service),
        traceId: traceId(trace),
        spanId: spanId(++n),
        parentSpanId: '',
        name,
        startTimeUnixNano: start,
        endTimeUnixNano: start + 20n * MS,
        attributes: attrs(extra),
      }),
    );
  };
  for (let i = 0; i < 150; i++) add(1, 'payments', 'charge card: payment declined by bank');
  for (let i = 0; i < 60; i++) add(2, 'billing', `payment card declined by bank ${WORDS[i % 20]} ${COLOURS[Math.floor(i / 20)]}`);
  add(3, 'checkout', 'card payment declined');
  add(4, 'checkout', 'bank declined the card payment', { 'http.route': '/pay' });
  add(5, 'wallet', 'payment refused by card issuer');
  add(5, 'wallet', 'load wallet balance');
  add(6, 'fraud', 'card flagged by bank fraud check');
  add(7, 'orders', 'create order');
  add(8, 'auth', 'login user');
  add(9, 'search', 'search products');
  add(10, 'inventory', 'reserve stock');
  return spans;
}

describe('semantic search ranking (real model, offline)', () => {
  let store: DuckDbStore;
  let search: SearchParts;
  let logs: LogRecord[];

  before(async () => {
    store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
    // exactThreshold 0: without `exact: true` a query goes through the ANN index.
    search = await openSemanticSearch({ ...defaultConfig().search, ...TEST_MODEL, exactThreshold: 0 }, store.db, silentLogger());
    const spans = corpus();
    logs = [
      log({ tenant: TENANT, resource: resource('legacy'), timeUnixNano: T0 + 1n, observedTimeUnixNano: T0 + 2n, body: { stringValue: 'ꙮꙮꙮ marker seen in the legacy feed' } }),
      log({ tenant: TENANT, resource: resource('legacy'), timeUnixNano: T0 + 3n, observedTimeUnixNano: T0 + 4n, body: { stringValue: 'nightly export finished' } }),
    ];
    await store.writer.writeSpans(spans);
    await store.writer.writeLogs(logs);
    search.indexer.enqueue({ signal: 'traces', items: spans });
    search.indexer.enqueue({ signal: 'logs', items: logs });
    await search.indexer.idle();
  });
  after(async () => {
    await search?.close();
    await store?.close();
  });

  const run = (text: string, signals: SearchSignal[], limit: number, exact: boolean) =>
    search.service.search(TENANT, { text, signals, filter: {}, limit, exact });

  for (const exact of [true, false]) {
    it(`returns limit distinct traces when the best traces have many similar spans (${exact ? 'EXACT' : 'ANN'})`, async () => {
      for (const limit of [3, 5, 8]) {
        const res = await run(QUERY, ['TRACE'], limit, exact);
        assert.equal(res.method, exact ? 'EXACT' : 'ANN');
        const ids = res.hits.map((h) => h.traceId);
        assert.equal(ids.length, limit, `limit ${limit}: ${ids.join(', ')}`);
        assert.equal(new Set(ids).size, limit, 'each trace once');
        assert.ok(res.hits.every((h) => h.kind === 'TRACE'));
        assert.deepEqual([...res.hits].sort((a, b) => b.score - a.score), res.hits, 'best first');
      }
      const top = await run(QUERY, ['TRACE'], 3, exact);
      assert.ok(top.hits.some((h) => h.traceId === traceId(2)) && top.hits.some((h) => h.traceId === traceId(1)), 'the bulk traces are still found, once each');
    });
  }

  it('returns every matching trace and no more when fewer than limit exist', async () => {
    const res = await run(QUERY, ['TRACE'], 50, true);
    assert.equal(res.hits.length, 10, 'the ten traces, each once');
    assert.equal(new Set(res.hits.map((h) => h.traceId)).size, 10);
  });

  it('mixes TRACE with SPAN hits by score, each trace once', async () => {
    const res = await run(QUERY, ['SPAN', 'TRACE'], 40, true);
    assert.equal(res.hits.length, 40);
    const traces = res.hits.filter((h) => h.kind === 'TRACE').map((h) => h.traceId);
    assert.equal(new Set(traces).size, traces.length);
    assert.ok(traces.length > 0 && res.hits[0]!.kind === 'TRACE', 'a trace comes before its own spans of the same score');
    assert.deepEqual([...res.hits].sort((a, b) => b.score - a.score), res.hits, 'best first');
  });

  it('similar(to: trace) finds limit other traces', async () => {
    const res = await search.service.similar(TENANT, { to: { traceId: traceId(2) }, filter: {}, limit: 4 });
    const ids = res.hits.map((h) => h.traceId);
    assert.equal(ids.length, 4, ids.join(', '));
    assert.equal(new Set(ids).size, 4);
    assert.ok(!ids.includes(traceId(2)), 'not the trace itself');
  });

  it('a query of words the model does not know finds nothing, and says why', async () => {
    for (const exact of [true, false]) {
      const res = await run('🙂🙃 ☃☃☃', ['SPAN', 'LOG', 'TRACE'], 10, exact);
      assert.deepEqual(res.hits, [], 'not every item ranked alike');
      assert.deepEqual(res.notes, [
        "the embedding model use-lite-static-en-128 knows none of the query's words, and it has no word of 3 or more letters to match as text: nothing can match it",
      ]);
      assert.ok(res.candidates > 0, 'there was something to rank');
    }
  });

  it('a query of unknown words is matched by its words alone: only texts that contain them', async () => {
    const res = await run('ꙮꙮꙮ', ['SPAN', 'LOG'], 10, false);
    assert.equal(res.method, 'EXACT', 'no nearest neighbours for a vector without meaning');
    assert.deepEqual(
      res.hits.map((h) => [h.kind, h.text, h.vectorScore, h.keywordScore]),
      [['LOG', 'legacy | ꙮꙮꙮ marker seen in the legacy feed', 0, 1]],
    );
    assert.match(res.notes![0]!, /knows none of the query's words, so it was matched by its words alone/);
    const known = await run('nightly export', ['LOG'], 10, true);
    assert.equal(known.notes, undefined, 'a query with known words is ranked as usual');
    assert.equal(known.hits.length, 2);
  });
});
