// Search documents against the real store and the small offline model: a hit links to the log row
// as the store keeps it (a body cut to its column limit included), distinct logs stay distinct
// hits and a page is full, structured bodies keep their words, retention takes a span's exception
// documents with the span, TRACE ties keep the newest traces, and keyword terms are counted and
// lower-cased as documented (QA round 27, search).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogRecord, SpanRecord } from '../../../src/model/telemetry.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { openSemanticSearch, type SearchParts } from '../../../src/search/setup.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { silentLogger } from '../../../src/logger.ts';
import type { SearchSignal } from '../../../src/search/types.ts';
import { attrs, log, MS, resource, SEC, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';
import { TEST_MODEL } from '../../fixtures/search/test-model.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const TENANT = 'docs';

describe('search documents and the store (real model, offline)', () => {
  let store: DuckDbStore;
  let search: SearchParts;

  async function ingest(spans: SpanRecord[], logs: LogRecord[]): Promise<void> {
    if (spans.length) await store.writer.writeSpans(spans);
    if (logs.length) await store.writer.writeLogs(logs);
    if (spans.length) search.indexer.enqueue({ signal: 'traces', items: spans });
    if (logs.length) search.indexer.enqueue({ signal: 'logs', items: logs });
    await search.indexer.idle();
  }
  const run = (text: string, signals: SearchSignal[], service: string, limit = 10, exact = true) =>
    search.service.search(TENANT, { text, signals, filter: { service: [service] }, limit, exact });
  const storedLogs = async (service: string) =>
    (await store.logs.searchLogs(TENANT, { service: [service] }, { first: 100 })).items.map((i) => i.node);

  before(async () => {
    store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
    search = await openSemanticSearch({ ...defaultConfig().search, ...TEST_MODEL }, store.db, silentLogger());
  });
  after(async () => {
    await search?.close();
    await store?.close();
  });

  it('links a log hit to its row when the body is longer than the store keeps (and similar accepts it)', async () => {
    const body = 'kernel panic widget overflow detected in flux capacitor ' + 'x'.repeat(20_000);
    const l = log({ tenant: TENANT, resource: resource('reactor'), severityNumber: 17, severityText: 'ERROR', body: { stringValue: body }, timeUnixNano: T0, observedTimeUnixNano: T0 + 1n });
    await ingest([], [l]);
    const [row] = await storedLogs('reactor');
    assert.ok(row && 'stringValue' in row.body && row.body.stringValue.length < body.length, 'the store cut the body');
    const res = await run('kernel panic flux capacitor', ['LOG'], 'reactor', 1);
    assert.equal(res.hits[0]?.logId, row.id, 'the hit has its log');
    const similar = await search.service.similar(TENANT, { to: { logId: row.id }, filter: {}, limit: 5 });
    assert.ok(Array.isArray(similar.hits), 'similar knows the log');
  });

  it('keeps distinct logs of one span, time and template text apart', async () => {
    const base = { tenant: TENANT, resource: resource('importer'), traceId: traceId(0xd0), spanId: spanId(0xd0), timeUnixNano: T0 + 5n * SEC, observedTimeUnixNano: T0 + 5n * SEC };
    const logs = [1, 2, 3].map((n) => log({ ...base, body: { stringValue: `imported pelican record ${n}` } }));
    await ingest([], logs);
    const res = await run('imported pelican record', ['LOG'], 'importer');
    assert.equal(res.hits.length, 3, res.hits.map((h) => h.logId).join(', '));
    assert.equal(new Set(res.hits.map((h) => h.logId)).size, 3);
  });

  it('fills the page when a retried export stored the best log twice: one hit for it, and limit hits', async () => {
    const again = log({ tenant: TENANT, resource: resource('hangar'), timeUnixNano: T0 + 9n * SEC, observedTimeUnixNano: T0 + 9n * SEC, body: { stringValue: 'pelican landed in hangar' } });
    const others = [1, 2, 3].map((n) =>
      log({ tenant: TENANT, resource: resource('hangar'), timeUnixNano: T0 + BigInt(n) * SEC, observedTimeUnixNano: T0 + BigInt(n) * SEC, body: { stringValue: `hangar door ${'abc'[n - 1]} opened` } }),
    );
    await ingest([], [again, ...others]);
    await ingest([], [again]);
    for (const exact of [true, false]) {
      const page = await run('pelican landed in hangar', ['LOG'], 'hangar', 3, exact);
      assert.equal(page.hits.length, 3, `a full page (${exact ? 'EXACT' : 'ANN'}): ${page.hits.map((h) => h.text).join(' / ')}`);
      assert.equal(page.hits[0]!.text, 'hangar | pelican landed in hangar');
      assert.equal(page.hits.filter((h) => h.text === page.hits[0]!.text).length, 1, 'the repeated log once');
    }
  });

  it('finds structured bodies (JSON text and OTLP maps) by their words', async () => {
    const at = (n: number) => ({ timeUnixNano: T0 + BigInt(n) * MS, observedTimeUnixNano: T0 + BigInt(n) * MS });
    const logs = [
      log({ tenant: TENANT, resource: resource('intl'), severityNumber: 17, severityText: 'ERROR', ...at(1), body: { stringValue: '{"level":"error","msg":"payment failed for order"}' } }),
      log({ tenant: TENANT, resource: resource('intl'), severityNumber: 17, severityText: 'ERROR', ...at(2), body: { stringValue: '{"level":"info","msg":"user logged in"}' } }),
      log({ tenant: TENANT, resource: resource('intl'), severityNumber: 17, severityText: 'ERROR', ...at(3), body: { kvlistValue: { values: attrs({ msg: 'database connection timeout', code: 42n }) } } }),
      log({ tenant: TENANT, resource: resource('intl'), severityNumber: 9, ...at(4), body: { stringValue: 'nightly backup completed' } }),
    ];
    await ingest([], logs);
    const stored = await storedLogs('intl');
    const idOf = (n: number) => stored.find((l) => l.timeUnixNano === at(n).timeUnixNano)!.id;
    const payment = await run('payment failed', ['LOG'], 'intl', 4);
    assert.equal(payment.hits[0]!.logId, idOf(1), payment.hits.map((h) => h.text).join(' / '));
    assert.equal(payment.hits[0]!.text, 'intl | error | payment failed for order | error');
    assert.equal(payment.hits[0]!.keywordScore, 1);
    const db = await run('database connection timeout', ['LOG'], 'intl', 4);
    assert.equal(db.hits[0]!.logId, idOf(3));
    assert.equal(db.hits[0]!.text, 'intl | error | database connection timeout');
  });

  it('retention deletes a span’s exception documents with the span (by its start), not at the event’s time', async () => {
    const start = T0 + 100n * SEC;
    const s = span({
      tenant: TENANT,
      resource: resource('batch'),
      traceId: traceId(0xf1),
      spanId: spanId(0xf1),
      name: 'reconcile ledger',
      startTimeUnixNano: start,
      endTimeUnixNano: start + 600n * SEC,
      status: { code: 2, message: '' },
      events: [{ timeUnixNano: start + 600n * SEC, name: 'exception', attributes: attrs({ 'exception.type': 'LedgerMismatchError', 'exception.message': 'ledger mismatch in reconcile' }), droppedAttributesCount: 0 }],
    });
    await ingest([s], []);
    const find = () => run('ledger mismatch reconcile', ['EXCEPTION', 'TRACE', 'SPAN'], 'batch');
    assert.ok((await find()).hits.some((h) => h.kind === 'EXCEPTION'));
    // The spans' cutoff falls between the span's start and its exception event.
    const cutoff = start + 60n * SEC;
    let n = 0;
    for (let step = -1; step !== 0; ) n += step = await search.retention.deleteDocsBefore('traces', cutoff, 1);
    assert.equal(n, 2, 'the span document and its exception document');
    assert.deepEqual((await find()).hits, []);
  });

  it('TRACE hits of equal score are the newest traces, as SPAN hits are', async () => {
    const spans: SpanRecord[] = [];
    for (let t = 0; t < 5; t++) {
      for (let i = 0; i < 4; i++) {
        spans.push(
          span({
            tenant: TENANT,
            resource: resource('zoo'),
            traceId: traceId(0xc0 + t),
            spanId: spanId(0xc00 + t * 16 + i),
            parentSpanId: i === 0 ? '' : spanId(0xc00 + t * 16),
            name: i === 0 ? 'feed walrus' : `prepare bucket ${i}`,
            startTimeUnixNano: T0 + 200n * SEC + BigInt(t) * 100n * MS + BigInt(i) * MS,
          }),
        );
      }
    }
    await ingest(spans, []);
    for (const exact of [true, false]) {
      const traces = await run('feed walrus', ['TRACE'], 'zoo', 3, exact);
      const items = await run('feed walrus', ['SPAN'], 'zoo', 3, exact);
      const newest = [traceId(0xc4), traceId(0xc3), traceId(0xc2)];
      assert.deepEqual(items.hits.map((h) => h.traceId), newest);
      assert.deepEqual(traces.hits.map((h) => h.traceId), newest, exact ? 'EXACT' : 'ANN');
    }
  });

  it('counts every query word up to the documented cap, whatever their order', async () => {
    const a = await run('alpha bravo charlie delta echo foxtrot golf hotel pelican', ['LOG'], 'importer', 1);
    const b = await run('pelican alpha bravo charlie delta echo foxtrot golf hotel', ['LOG'], 'importer', 1);
    assert.equal(a.hits[0]!.keywordScore, 1 / 9);
    assert.equal(b.hits[0]!.keywordScore, 1 / 9);
  });

  it('matches a query copied from an upper-case Greek text (a word-final sigma)', async () => {
    await ingest([], [log({ tenant: TENANT, resource: resource('greek'), timeUnixNano: T0 + 7n * SEC, observedTimeUnixNano: T0 + 7n * SEC, body: { stringValue: 'ΣΦΑΛΜΑ ΠΛΗΡΩΜΗΣ' } })]);
    // Typed in lower case too, with the word-final ς that DuckDB's lower() does not make σ.
    for (const text of ['ΣΦΑΛΜΑ ΠΛΗΡΩΜΗΣ', 'ΠΛΗΡΩΜΗΣ', 'πληρωμης', 'σφαλμα πληρωμης']) {
      const res = await run(text, ['LOG'], 'greek', 1);
      assert.equal(res.hits[0]?.keywordScore, 1, text);
    }
  });
});

describe('a model switch (real model, offline)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-search-switch-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('re-embeds stored texts that lack a vector of the new model in the background, and counts them', async () => {
    const path = join(dir, 'db.duckdb');
    const spans = [1, 2, 3].map((n) =>
      span({ tenant: TENANT, resource: resource('ledger'), traceId: traceId(n), spanId: spanId(n), name: ['post journal entry', 'close fiscal period', 'payment refund issued'][n - 1]!, startTimeUnixNano: T0 + BigInt(n) * SEC }),
    );
    {
      const store = await openDuckDbStore({ path, logger: silentLogger() });
      const search = await openSemanticSearch({ ...defaultConfig().search, ...TEST_MODEL }, store.db, silentLogger());
      await store.writer.writeSpans(spans);
      search.indexer.enqueue({ signal: 'traces', items: spans });
      await search.indexer.idle();
      await search.close();
      await store.close();
    }
    // The same model files under another name: vectors are kept per model name, so none fits.
    const models = join(dir, 'models');
    mkdirSync(models);
    symlinkSync(join(TEST_MODEL.localModelPath, TEST_MODEL.model), join(models, 'renamed-model'));
    const store = await openDuckDbStore({ path, logger: silentLogger() });
    const search = await openSemanticSearch({ ...defaultConfig().search, ...TEST_MODEL, localModelPath: models, model: 'renamed-model' }, store.db, silentLogger());
    try {
      await search.indexer.ready();
      const st = await waitFor(async () => search.indexer.status(), (s) => s.reembedded === 3 && !s.reembedding, 'the stored texts to be embedded again');
      assert.equal(st.annSize, 3);
      assert.equal(st.embedded, 0, 'nothing new arrived');
      const res = await search.service.search(TENANT, { text: 'payment refund', signals: ['SPAN'], filter: {}, limit: 1, exact: true });
      assert.equal(res.hits[0]?.spanId, spanId(3), 'an item indexed under the old model ranks');
      assert.equal(res.notes, undefined);
    } finally {
      await search.close();
      await store.close();
    }
  });
});
