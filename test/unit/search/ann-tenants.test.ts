// The ANN path answers what the exact path answers for a tenant, whatever other tenants' texts fill
// the shared index (QA round 28, isolation defect 3): the real small model (offline) over DuckDB,
// with exactThreshold 1 so that tenant A's two texts go through the index, as a tenant with more
// than 20,000 distinct texts does by default. Tenant B's 400 texts are nearer to A's query than
// A's best hit (which wins by its keywords), so the 200 nearest neighbours hold none of it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LogRecord } from '../../../src/model/telemetry.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { openSemanticSearch, type SearchParts } from '../../../src/search/setup.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { silentLogger } from '../../../src/logger.ts';
import type { SearchResult, SearchSignal } from '../../../src/search/types.ts';
import { log, resource, T0 } from '../../helpers/telemetry-builders.ts';
import { TEST_MODEL } from '../../fixtures/search/test-model.ts';

const A_TEXTS = ['refunding the payment did not work', 'failed payment refund lorem ipsum dolor sit', 'invoice sent to the customer', 'payment page loaded slowly'];
const WORDS = ['apple', 'river', 'stone', 'cloud', 'tiger', 'lemon', 'piano', 'ocean', 'forest', 'candle', 'rocket', 'garden', 'silver', 'winter', 'summer', 'castle', 'dragon', 'planet', 'mirror', 'pencil'];
const B_TEXTS = WORDS.flatMap((w1) => WORDS.map((w2) => `payment refund ${w1} ${w2} lorem`));
const QUERIES = ['payment refund failed', 'refund did not work', 'payment slow'];

let n = 0;
const logsOf = (tenant: string, service: string, bodies: readonly string[]): LogRecord[] =>
  bodies.map((body) => {
    const t = T0 + BigInt(++n) * 1000n;
    return log({ tenant, resource: resource(service), timeUnixNano: t, observedTimeUnixNano: t + 1n, body: { stringValue: body } });
  });

/** What a client compares: the hits in order, with their scores. */
const shown = (r: SearchResult) => r.hits.map((h) => `${h.kind} ${h.score.toFixed(6)} ${h.text}`);

describe('semantic search through the ANN index: a tenant’s answer does not depend on other tenants (real model, offline)', () => {
  let store: DuckDbStore;
  let search: SearchParts;

  const ingest = async (logs: LogRecord[]) => {
    await store.writer.writeLogs(logs);
    search.indexer.enqueue({ signal: 'logs', items: logs });
    await search.indexer.idle();
  };
  const run = (tenant: string, text: string, signals: SearchSignal[], limit: number, exact: boolean) =>
    search.service.search(tenant, { text, signals, filter: {}, limit, exact });
  /** A's ANN answer for each query and limit, checked equal to its exact answer. */
  const annEqualsExact = async (): Promise<string[][]> => {
    const answers: string[][] = [];
    for (const text of QUERIES) {
      for (const limit of [1, 2]) {
        const ann = await run('tenant-a', text, ['LOG'], limit, false);
        const exact = await run('tenant-a', text, ['LOG'], limit, true);
        assert.equal(ann.method, 'ANN', `${text}, limit ${limit}`);
        assert.equal(exact.method, 'EXACT');
        assert.deepEqual(shown(ann), shown(exact), `"${text}", limit ${limit}: the ANN answer is the exact one`);
        answers.push(shown(ann));
      }
    }
    return answers;
  };

  before(async () => {
    store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
    search = await openSemanticSearch({ ...defaultConfig().search, ...TEST_MODEL, exactThreshold: 1 }, store.db, silentLogger());
  });
  after(async () => {
    await search?.close();
    await store?.close();
  });

  it('answers tenant A the same before and after tenant B fills the index near A’s query, and each answer is the exact one', async () => {
    await ingest(logsOf('tenant-a', 'svc-a', A_TEXTS));
    const before = await annEqualsExact();
    assert.match(before[0]![0]!, /failed payment refund lorem ipsum/, 'A’s best hit for the repro query: all three words, not the nearest vector');

    await ingest(logsOf('tenant-b', 'svc-b', B_TEXTS));
    const bTop = await run('tenant-b', QUERIES[0]!, ['LOG'], 1, true);
    const aBest = await run('tenant-a', QUERIES[0]!, ['LOG'], 1, true);
    assert.ok(bTop.hits[0]!.vectorScore > aBest.hits[0]!.vectorScore, 'B’s texts are nearer to the query than A’s best hit: the case the index must widen for');

    assert.deepEqual(await annEqualsExact(), before, 'A’s answers did not move with B’s texts');
  });

  it('fetches more neighbours only while something not fetched could still score higher', async () => {
    const { ann } = await search.indexer.ready();
    const asked: number[] = [];
    const search0 = ann.search.bind(ann);
    ann.search = (query, k) => {
      asked.push(k);
      return search0(query, k);
    };
    try {
      // A's own text, word for word: the nearest of all 404 and every word found; no other text can beat it.
      const same = await run('tenant-a', 'invoice sent to the customer', ['LOG'], 1, false);
      assert.equal(same.hits[0]!.text, 'svc-a | invoice sent to the customer');
      assert.deepEqual(asked, [200], 'one round: the first 200 neighbours bound everything else below the hit');
      asked.length = 0;
      // B's 400 texts are nearer than A's best hit, which wins by its words: the first round cannot rule out what it did not fetch.
      await run('tenant-a', QUERIES[0]!, ['LOG'], 1, false);
      assert.deepEqual(asked, [200, 800], 'a wider second round (800 > 404 texts: all of them)');
    } finally {
      ann.search = search0;
    }
  });
});
