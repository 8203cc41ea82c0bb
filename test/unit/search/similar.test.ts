// `similar` against the real store and the small offline model, through the exact scan and the ANN
// index: the source's own items (a trace of many identical spans, a span with many logs of one
// template) are left out without taking the places of the real neighbours, what is left out is the
// source's own telemetry, and a log ID names one log however it is written (QA round 31, search).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LogRecord, SpanRecord } from '../../../src/model/telemetry.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { openSemanticSearch, type SearchParts } from '../../../src/search/setup.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { silentLogger } from '../../../src/logger.ts';
import type { SearchSignal, SimilarRequest } from '../../../src/search/types.ts';
import { log, MS, resource, SEC, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';
import { TEST_MODEL } from '../../fixtures/search/test-model.ts';

const TENANT = 'similar';
const BIG = traceId(100);
const SOURCE_SPAN = spanId(300);
const SOURCE_TRACE = traceId(300);
/** `similar` has no query words: an identical text scores 1 − keywordWeight. */
const IDENTICAL = 0.7;

function spanAt(trace: number, id: number, name: string, start: bigint, service = 'billing'): SpanRecord {
  return span({ tenant: TENANT, resource: resource(service), traceId: traceId(trace), spanId: spanId(id), parentSpanId: '', name, startTimeUnixNano: start, endTimeUnixNano: start + 5n * MS });
}

function logAt(time: bigint, body: string, ids: { traceId: string; spanId: string } = { traceId: '', spanId: '' }): LogRecord {
  return log({ tenant: TENANT, resource: resource('payments'), timeUnixNano: time, observedTimeUnixNano: time + 1n, body: { stringValue: body }, ...ids });
}

/**
 * Five older traces of one `charge credit card` span each; a newer trace BIG of 30 such spans; an
 * unrelated span. The span SOURCE_SPAN `payment gateway error` with 30 newer logs of that text, and
 * five older logs of the text without a span.
 */
function corpus(): { spans: SpanRecord[]; logs: LogRecord[] } {
  const spans: SpanRecord[] = [];
  for (let t = 1; t <= 5; t++) spans.push(spanAt(t, t, 'charge credit card', T0 + BigInt(t) * SEC));
  for (let i = 0; i < 30; i++) spans.push(spanAt(100, 1000 + i, 'charge credit card', T0 + 1000n * SEC + BigInt(i) * MS));
  spans.push(spanAt(200, 200, 'render homepage banner', T0 + 10n * SEC, 'web'));
  spans.push(spanAt(300, 300, 'payment gateway error', T0 + 2000n * SEC, 'payments'));
  const logs: LogRecord[] = [];
  for (let i = 0; i < 5; i++) logs.push(logAt(T0 + 100n * SEC + BigInt(i) * SEC, 'payment gateway error'));
  for (let i = 0; i < 30; i++) logs.push(logAt(T0 + 2000n * SEC + BigInt(i) * MS, 'payment gateway error', { traceId: SOURCE_TRACE, spanId: SOURCE_SPAN }));
  return { spans, logs };
}

describe('similar (real model, offline)', () => {
  let store: DuckDbStore;
  let exact: SearchParts;
  let ann: SearchParts;
  /** The stored IDs of the five logs without a span. */
  let looseLogIds: string[];

  before(async () => {
    store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
    exact = await openSemanticSearch({ ...defaultConfig().search, ...TEST_MODEL }, store.db, silentLogger());
    const { spans, logs } = corpus();
    await store.writer.writeSpans(spans);
    await store.writer.writeLogs(logs);
    exact.indexer.enqueue({ signal: 'traces', items: spans });
    exact.indexer.enqueue({ signal: 'logs', items: logs });
    await exact.indexer.idle();
    // exactThreshold 0: every query through the ANN index, rebuilt from what the first indexed.
    ann = await openSemanticSearch({ ...defaultConfig().search, ...TEST_MODEL, exactThreshold: 0 }, store.db, silentLogger());
    const stored = (await store.logs.searchLogs(TENANT, {}, { first: 100 })).items.map((i) => i.node);
    looseLogIds = stored.filter((l) => l.spanId === '').map((l) => l.id);
    assert.equal(looseLogIds.length, 5);
  });
  after(async () => {
    await ann?.close();
    await exact?.close();
    await store?.close();
  });

  const similar = (parts: SearchParts, to: SimilarRequest['to'], signals: SearchSignal[], limit: number) =>
    parts.service.similar(TENANT, { to, signals, filter: {}, limit });

  for (const [name, parts] of [
    ['EXACT', () => exact],
    ['ANN', () => ann],
  ] as const) {
    it(`to a trace of 30 identical spans: limit spans of the other traces (${name})`, async () => {
      for (const limit of [1, 5]) {
        const res = await similar(parts(), { traceId: BIG }, ['SPAN'], limit);
        assert.equal(res.method, name);
        assert.equal(res.hits.length, limit, JSON.stringify(res.hits.map((h) => h.traceId)));
        for (const h of res.hits) {
          assert.notEqual(h.traceId, BIG);
          assert.ok(Math.abs(h.score - IDENTICAL) < 1e-4, `score ${h.score}`);
        }
      }
      // More than exist: every other span of the text, and then the less similar ones.
      const all = await similar(parts(), { traceId: BIG }, ['SPAN'], 100);
      assert.equal(all.hits.filter((h) => h.text === 'billing | charge credit card').length, 5);
      assert.ok(all.hits.every((h) => h.traceId !== BIG));
    });

    it(`to a span with 30 logs of its text: limit logs of other spans (${name})`, async () => {
      const res = await similar(parts(), { spanId: SOURCE_SPAN }, ['LOG'], 5);
      assert.equal(res.hits.length, 5, JSON.stringify(res.hits.map((h) => h.logId)));
      assert.deepEqual(new Set(res.hits.map((h) => h.logId)), new Set(looseLogIds));
      assert.ok(res.hits.every((h) => h.spanId === null && Math.abs(h.score - IDENTICAL) < 1e-4));
    });
  }

  it("leaves out the source's own telemetry: a span's logs, a trace's spans and logs", async () => {
    const fromSpan = await similar(exact, { spanId: SOURCE_SPAN }, ['LOG', 'SPAN'], 100);
    assert.ok(fromSpan.hits.every((h) => h.spanId !== SOURCE_SPAN), 'neither the span nor its logs');
    assert.equal(fromSpan.hits.filter((h) => h.kind === 'LOG').length, 5, 'the logs of no span are hits');
    const fromTrace = await similar(exact, { traceId: SOURCE_TRACE }, ['LOG', 'SPAN', 'TRACE'], 100);
    assert.ok(fromTrace.hits.every((h) => h.traceId !== SOURCE_TRACE), 'not the trace, its span or its logs');
    assert.equal(fromTrace.hits.filter((h) => h.kind === 'LOG').length, 5);
  });

  it('a log ID with leading zeros names the same log, which is left out', async () => {
    const id = looseLogIds[0]!;
    const plain = await similar(exact, { logId: id }, ['LOG'], 100);
    const padded = await similar(exact, { logId: `00${id}` }, ['LOG'], 100);
    assert.ok(!padded.hits.some((h) => h.logId === id), 'not the log itself');
    assert.deepEqual(
      padded.hits.map((h) => h.logId),
      plain.hits.map((h) => h.logId),
    );
    assert.equal(plain.hits.filter((h) => h.text === 'payments | payment gateway error').length, 34, 'the other 4 loose logs and the 30 of the span');
  });
});
