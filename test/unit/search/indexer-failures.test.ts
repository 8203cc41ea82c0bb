// What one record, a changed model or a config typo can do to the search index (QA round 33, embed),
// with the real store and the small offline model: huge records are indexed and the worker goes
// on; a record whose text cannot be built is skipped, counted and logged while the rest of its
// batch is indexed; vectors are keyed by the model actually loaded, so other weights under the same
// name are embedded again; during that pass a tenant is told only what it may see, and `similar`
// says its item has no vector yet; and search.dtype is checked at start.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { KeyValue, LogRecord, SpanRecord } from '../../../src/model/telemetry.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { openSemanticSearch, type SearchParts } from '../../../src/search/setup.ts';
import { contentHash } from '../../../src/search/hash.ts';
import { spanText } from '../../../src/search/text.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { silentLogger } from '../../../src/logger.ts';
import { attrs, log, resource, SEC, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';
import { TEST_MODEL } from '../../fixtures/search/test-model.ts';
import { waitFor } from '../../helpers/wait-for.ts';

type SearchConfig = ReturnType<typeof defaultConfig>['search'];
const config = (over: Partial<SearchConfig> = {}): SearchConfig => ({ ...defaultConfig().search, ...TEST_MODEL, ...over });

const manyRpcAttributes = (n: number): KeyValue[] => Array.from({ length: n }, (_, i) => ({ key: `rpc.a${i}`, value: { stringValue: 'ok x' } }));

function namedSpan(tenant: string, n: number, name: string): SpanRecord {
  return span({ tenant, resource: resource('ledger'), traceId: traceId(n), spanId: spanId(n), name, startTimeUnixNano: T0 + BigInt(n) * SEC });
}

/** A folder of models holding the test model with its weights file copied (its other files linked); returns the folder. */
function copyOfTestModel(dir: string): string {
  const from = join(TEST_MODEL.localModelPath, TEST_MODEL.model);
  const to = join(dir, 'models', TEST_MODEL.model);
  mkdirSync(join(to, 'onnx'), { recursive: true });
  for (const f of readdirSync(from)) if (f !== 'onnx') symlinkSync(join(from, f), join(to, f));
  copyFileSync(join(from, 'onnx', 'model_quantized.onnx'), join(to, 'onnx', 'model_quantized.onnx'));
  return join(dir, 'models');
}

describe('search indexer failures', () => {
  const opened: { store: DuckDbStore; search: SearchParts }[] = [];
  const dirs: string[] = [];
  async function open(path: string, c: SearchConfig, logger = silentLogger()) {
    const store = await openDuckDbStore({ path, logger: silentLogger() });
    const search = await openSemanticSearch(c, store.db, logger);
    const o = { store, search };
    opened.push(o);
    return o;
  }
  async function close(o: { store: DuckDbStore; search: SearchParts }) {
    opened.splice(opened.indexOf(o), 1);
    await o.search.close();
    await o.store.close();
  }
  function tempDir(): string {
    const d = mkdtempSync(join(tmpdir(), 'teleql-search-failures-'));
    dirs.push(d);
    return d;
  }
  after(async () => {
    for (const o of [...opened]) await close(o);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('indexes a span and a log with 160,000 attributes and a span with 200,000 exception events, and goes on', async () => {
    const o = await open(':memory:', config());
    const event = { timeUnixNano: T0, name: 'exception', attributes: attrs({ 'exception.type': 'Boom', 'exception.message': 'it broke' }), droppedAttributesCount: 0 };
    const huge: SpanRecord[] = [
      span({ tenant: 'big', resource: resource('gateway'), traceId: traceId(1), spanId: spanId(1), name: 'wide call', attributes: manyRpcAttributes(160_000) }),
      span({ tenant: 'big', resource: resource('gateway'), traceId: traceId(2), spanId: spanId(2), name: 'failing call', events: Array.from({ length: 200_000 }, () => event) }),
    ];
    const hugeLog: LogRecord = log({ tenant: 'big', resource: resource('gateway'), body: { stringValue: 'wide log' }, attributes: manyRpcAttributes(160_000) });
    o.search.indexer.enqueue({ signal: 'traces', items: huge });
    o.search.indexer.enqueue({ signal: 'logs', items: [hugeLog] });
    await o.search.indexer.idle();
    assert.deepEqual([o.search.indexer.status('big').indexed, o.search.indexer.status('big').skipped], [3, 0]);
    const later = namedSpan('big', 3, 'pelican landed');
    await o.store.writer.writeSpans([later]);
    o.search.indexer.enqueue({ signal: 'traces', items: [later] });
    await o.search.indexer.idle();
    const res = await o.search.service.search('big', { text: 'pelican landed', signals: ['SPAN'], filter: {}, limit: 1, exact: true });
    assert.equal(res.hits[0]?.spanId, spanId(3), 'later records are indexed');
  });

  it('skips, counts and logs a record whose text cannot be built, and indexes the rest of its batch', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const o = await open(':memory:', config(), logger);
    const bad = namedSpan('bad', 2, 'never read');
    Object.defineProperty(bad, 'name', {
      get() {
        throw new Error('a broken record');
      },
    });
    o.search.indexer.enqueue({ signal: 'traces', items: [namedSpan('bad', 1, 'post journal entry'), bad, namedSpan('bad', 3, 'close fiscal period')] });
    await o.search.indexer.idle();
    const st = o.search.indexer.status('bad');
    assert.deepEqual([st.indexed, st.skipped, st.pending], [2, 1, 0]);
    assert.equal(o.search.indexer.status().skipped, 1, 'counted gateway-wide too');
    const warned = lines.find((l) => /building the search text of a record failed/.test(String(l.msg)));
    assert.equal(warned?.err, 'a broken record');
    assert.equal(warned?.records, 1);
    o.search.indexer.enqueue({ signal: 'traces', items: [namedSpan('bad', 4, 'payment refund issued')] });
    await o.search.indexer.idle();
    assert.equal(o.search.indexer.status('bad').indexed, 3, 'the worker goes on');
  });

  it('embeds the stored texts again when the model files under the same name change, and keeps the vectors while they do not', async () => {
    const dir = tempDir();
    const models = copyOfTestModel(dir);
    const c = config({ localModelPath: models });
    const path = join(dir, 'db.duckdb');
    const texts = ['post journal entry', 'close fiscal period', 'payment refund issued'];
    const spans = texts.map((t, i) => namedSpan('switch', i + 1, t));
    {
      const o = await open(path, c);
      await o.store.writer.writeSpans(spans);
      o.search.indexer.enqueue({ signal: 'traces', items: spans });
      await o.search.indexer.idle();
      await close(o);
    }
    const identical = async (o: { search: SearchParts }) =>
      (await o.search.service.search('switch', { text: spanText(spans[2]!), signals: ['SPAN'], filter: {}, limit: 1, exact: true })).hits[0]!;
    {
      // The same files: their vectors are used, nothing is embedded again.
      const o = await open(path, c);
      await o.search.indexer.ready();
      assert.equal(o.search.indexer.status().annSize, 3);
      assert.ok((await identical(o)).vectorScore > 0.999);
      assert.equal(o.search.indexer.status().reembedding, false);
      await close(o);
    }
    // The weights file replaced in place (here only its time changes): the stored vectors may be
    // another model's, so every text is embedded again.
    utimesSync(join(models, TEST_MODEL.model, 'onnx', 'model_quantized.onnx'), new Date(2001, 0, 1), new Date(2001, 0, 1));
    const o = await open(path, c);
    await o.search.indexer.ready();
    const st = await waitFor(async () => o.search.indexer.status(), (s) => s.reembedded === 3 && !s.reembedding, 'the stored texts to be embedded again');
    assert.equal(st.annSize, 3);
    assert.ok((await identical(o)).vectorScore > 0.999);
  });

  it('during re-embedding, tells only a tenant with candidates, without a count, and similar says the item has no vector yet', async () => {
    const dir = tempDir();
    const path = join(dir, 'db.duckdb');
    // Enough texts that the pass (64 a step, a pause between steps) is seen under way; the source of
    // `similar` is the text with the highest hash, embedded again last.
    const spans = Array.from({ length: 3000 }, (_, i) => namedSpan('busy', i + 1, `ledger entry ${String.fromCharCode(97 + (i % 26), 97 + (Math.floor(i / 26) % 26), 97 + (Math.floor(i / 676) % 26))} posted`));
    const last = spans.reduce((a, b) => (contentHash(spanText(b)) > contentHash(spanText(a)) ? b : a));
    {
      const o = await open(path, config());
      await o.store.writer.writeSpans(spans);
      o.search.indexer.enqueue({ signal: 'traces', items: spans });
      await o.search.indexer.idle();
      await close(o);
    }
    // A model switch: the same files under another name.
    const models = join(dir, 'models');
    mkdirSync(models);
    symlinkSync(join(TEST_MODEL.localModelPath, TEST_MODEL.model), join(models, 'renamed-model'));
    const o = await open(path, config({ localModelPath: models, model: 'renamed-model' }));
    await o.search.indexer.ready();
    await waitFor(async () => o.search.indexer.status(), (s) => s.reembedding, 'the re-embedding pass to start');
    const busy = await o.search.service.search('busy', { text: 'ledger entry posted', signals: ['SPAN'], filter: {}, limit: 3, exact: true });
    const similar = await o.search.service.similar('busy', { to: { spanId: last.spanId }, filter: {}, limit: 3 });
    const idle = await o.search.service.search('other', { text: 'ledger entry posted', signals: ['SPAN'], filter: {}, limit: 3, exact: true });
    assert.equal(o.search.indexer.status().reembedding, true, 'still under way (else the test proves nothing)');
    const reembeddingNote = busy.notes?.find((n) => /embedded again in the background/.test(n));
    assert.ok(reembeddingNote, JSON.stringify(busy.notes));
    assert.doesNotMatch(reembeddingNote, /so far|\(\d/, 'no gateway-wide count');
    assert.equal(idle.notes, undefined, 'a tenant without candidates has nothing waiting');
    assert.deepEqual(similar.hits, []);
    assert.ok(
      similar.notes?.some((n) => /the item's text has no vector of the embedding model renamed-model yet/.test(n)),
      JSON.stringify(similar.notes),
    );
    assert.ok(!similar.notes?.some((n) => /knows no word/.test(n)), 'the model knows its words');
  });

  it('refuses an unknown search.dtype at start, naming the key and the allowed values', () => {
    assert.throws(() => loadConfig({ env: { TELEQL_SEARCH_DTYPE: 'q9' } }), /search\.dtype: expected '' \(the model's default\) or one of auto\|fp32\|fp16\|q8\|int8\|uint8\|q4\|bnb4\|q4f16\|q2\|q2f16\|q1\|q1f16 \(actual: 'q9'\)/);
    for (const dtype of ['', 'q8', 'fp32']) assert.doesNotThrow(() => loadConfig({ env: { TELEQL_SEARCH_DTYPE: dtype } }), dtype);
  });
});
