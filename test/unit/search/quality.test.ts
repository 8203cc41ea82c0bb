// Search quality with the real small model (use-lite-static-en-128, offline): the labelled corpus
// in test/fixtures/search is stored and indexed, then every labelled query is run and scored.
// recall@10 = relevant items in the top 10 / min(10, relevant items of the searched kinds).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { LogRecord, SpanRecord } from '../../../src/model/telemetry.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { openSemanticSearch, type SearchParts } from '../../../src/search/setup.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { silentLogger } from '../../../src/logger.ts';
import type { SearchHit, SearchSignal } from '../../../src/search/types.ts';
import { attrs, log, MS, resource, SEC, span, T0 } from '../../helpers/telemetry-builders.ts';
import { TEST_MODEL } from '../../fixtures/search/test-model.ts';
import type { CorpusLog, CorpusSpan } from '../../fixtures/search/generate.ts';

const corpus = JSON.parse(readFileSync(new URL('../../fixtures/search/corpus.json', import.meta.url), 'utf8')) as { spans: CorpusSpan[]; logs: CorpusLog[] };
const { queries } = JSON.parse(readFileSync(new URL('../../fixtures/search/queries.json', import.meta.url), 'utf8')) as {
  queries: { text: string; relevant: string[]; signals?: SearchSignal[] }[];
};
const TENANT = 'quality';

function toSpan(c: CorpusSpan, i: number): SpanRecord {
  const start = T0 + BigInt(i) * SEC;
  return span({
    tenant: TENANT,
    resource: resource(c.service),
    traceId: c.traceId,
    spanId: c.id,
    name: c.name,
    kind: c.kind as SpanRecord['kind'],
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(c.durationMs) * MS,
    status: { code: c.status.code, message: c.status.message },
    attributes: attrs(c.attributes),
    events: c.exception ? [{ timeUnixNano: start, name: 'exception', attributes: attrs({ 'exception.type': c.exception.type, 'exception.message': c.exception.message }), droppedAttributesCount: 0 }] : [],
  });
}

function toLog(c: CorpusLog, i: number): LogRecord {
  return log({
    tenant: TENANT,
    resource: resource(c.service),
    timeUnixNano: T0 + BigInt(i) * SEC + 1n,
    observedTimeUnixNano: T0 + BigInt(i) * SEC + 2n,
    severityNumber: c.severityNumber,
    severityText: c.severityText,
    body: { stringValue: c.body },
    attributes: attrs({ ...c.attributes, 'fixture.id': c.id }),
    traceId: c.traceId,
    spanId: c.spanId,
  });
}

describe('search quality on the labelled corpus (real model, offline)', () => {
  let store: DuckDbStore;
  let search: SearchParts;
  const categoryOfSpan = new Map(corpus.spans.map((s) => [s.id, s.category]));
  const categoryOfTrace = new Map(corpus.spans.map((s) => [s.traceId, s.category]));
  const categoryOfFixtureLog = new Map(corpus.logs.map((l) => [l.id, l.category]));
  const categoryOfLogId = new Map<string, string>();

  before(async () => {
    store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
    // exactThreshold 0: without `exact: true` a query goes through the ANN index, however few candidates.
    search = await openSemanticSearch({ ...defaultConfig().search, ...TEST_MODEL, exactThreshold: 0 }, store.db, silentLogger());
    const spans = corpus.spans.map(toSpan);
    const logs = corpus.logs.map(toLog);
    await store.writer.writeSpans(spans);
    await store.writer.writeLogs(logs);
    search.indexer.enqueue({ signal: 'traces', items: spans });
    search.indexer.enqueue({ signal: 'logs', items: logs });
    await search.indexer.idle();
    const stored = await store.logs.searchLogs(TENANT, {}, { first: 1000 });
    for (const { node } of stored.items) {
      const fid = node.attributes.find((a) => a.key === 'fixture.id')?.value;
      if (fid && 'stringValue' in fid) categoryOfLogId.set(node.id, categoryOfFixtureLog.get(fid.stringValue)!);
    }
  });
  after(async () => {
    await search?.close();
    await store?.close();
  });

  function categoryOf(h: SearchHit): string | undefined {
    if (h.kind === 'TRACE') return categoryOfTrace.get(h.traceId!);
    if (h.logId) return categoryOfLogId.get(h.logId);
    return categoryOfSpan.get(h.spanId!);
  }

  function relevantCount(relevant: string[], signals: readonly SearchSignal[]): number {
    let n = 0;
    const rel = (c: string) => relevant.includes(c);
    if (signals.includes('SPAN')) n += corpus.spans.filter((s) => rel(s.category)).length;
    if (signals.includes('LOG')) n += corpus.logs.filter((l) => rel(l.category)).length;
    if (signals.includes('TRACE')) n += new Set(corpus.spans.filter((s) => rel(s.category)).map((s) => s.traceId)).size;
    if (signals.includes('EXCEPTION')) n += corpus.spans.filter((s) => rel(s.category) && s.exception).length;
    return n;
  }

  it('indexes every span and log, embedding each distinct text once', () => {
    const st = search.indexer.status();
    assert.equal(st.pending, 0);
    assert.equal(st.indexed, corpus.spans.length + corpus.logs.length);
    assert.equal(st.skipped, 0);
    assert.equal(st.dimensions, 128);
    // Masked templates and stripped SQL make many items share a text.
    assert.ok(st.embedded < (corpus.spans.length + corpus.logs.length) * 0.9, `embedded ${st.embedded} texts`);
  });

  it('has at least 40 labelled queries over at least 500 items', () => {
    assert.ok(queries.length >= 40);
    assert.ok(corpus.spans.length + corpus.logs.length >= 500);
  });

  it('reaches mean recall@10 ≥ 0.7 and puts a relevant item first for ≥ 80% of the queries', async () => {
    let recallSum = 0;
    let firstRelevant = 0;
    const report: string[] = [];
    for (const q of queries) {
      const signals = q.signals ?? (['SPAN', 'LOG'] as SearchSignal[]);
      const res = await search.service.search(TENANT, { text: q.text, signals, filter: {}, limit: 10, exact: true });
      const cats = res.hits.map(categoryOf);
      const good = cats.filter((c) => c !== undefined && q.relevant.includes(c)).length;
      const recall = good / Math.min(10, relevantCount(q.relevant, signals));
      recallSum += recall;
      if (cats[0] !== undefined && q.relevant.includes(cats[0])) firstRelevant++;
      report.push(`${recall.toFixed(2)} ${JSON.stringify(q.text)} → ${cats.slice(0, 5).join(', ')}`);
    }
    const meanRecall = recallSum / queries.length;
    const msg = `mean recall@10 ${meanRecall.toFixed(3)}, relevant first ${firstRelevant}/${queries.length}\n${report.join('\n')}`;
    if (process.env.SEARCH_QUALITY_REPORT) console.log(msg);
    assert.ok(meanRecall >= 0.7, msg);
    assert.ok(firstRelevant >= queries.length * 0.8, msg);
  });

  it('ranks database timeout spans above unrelated items for a paraphrase ("database took too long")', async () => {
    const res = await search.service.search(TENANT, { text: 'database took too long', signals: ['SPAN'], filter: {}, limit: 50, exact: true });
    const cats = res.hits.map(categoryOf);
    const firstTimeout = cats.indexOf('db_timeout');
    const firstUnrelated = cats.findIndex((c) => c !== 'db_timeout' && c !== 'slow_sql');
    assert.ok(firstTimeout >= 0 && firstTimeout < 10, `a db_timeout span in the top 10: ${cats.slice(0, 10).join(', ')}`);
    assert.ok(firstUnrelated === -1 || firstTimeout < firstUnrelated, `db_timeout before anything unrelated: ${cats.slice(0, 20).join(', ')}`);
  });

  it('finds the same top hit through the ANN index as by the exact scan', async () => {
    let same = 0;
    for (const q of queries.slice(0, 20)) {
      const exact = await search.service.search(TENANT, { text: q.text, signals: ['SPAN', 'LOG'], filter: {}, limit: 5, exact: true });
      const ann = await search.service.search(TENANT, { text: q.text, signals: ['SPAN', 'LOG'], filter: {}, limit: 5, exact: false });
      assert.equal(exact.method, 'EXACT');
      assert.equal(ann.method, 'ANN');
      if (exact.hits[0]?.text === ann.hits[0]?.text) same++;
    }
    assert.ok(same >= 18, `${same}/20 top hits agree`);
  });
});
