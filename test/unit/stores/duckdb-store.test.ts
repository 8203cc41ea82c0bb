// DuckDB-specific behaviour: persistence, lifecycle, transactions, index use, SQL safety, throughput.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { silentLogger } from '../../../src/logger.ts';
import type { SpanRecord } from '../../../src/model/telemetry.ts';
import { bindParams, runQuery } from '../../../src/stores/duckdb/connection.ts';
import { params } from '../../../src/stores/duckdb/filter-sql.ts';
import { compileFilter } from '../../../src/stores/duckdb/filter-sql.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { toStoreError } from '../../../src/stores/duckdb/errors.ts';
import { byTraceIdSql } from '../../../src/stores/duckdb/trace-store.ts';
import { StoreError, type AttributeCondition } from '../../../src/stores/types.ts';
import { rejectsWith } from '../../contract/store-under-test.ts';
import { attrs, log, metricPoint, numberPoint, resource, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';

const dirs: string[] = [];
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-duckdb-'));
  dirs.push(dir);
  return join(dir, 'a', 'b', 'store.duckdb');
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const open = (path = ':memory:') => openDuckDbStore({ path, logger: silentLogger(), threads: 2 });

/** n spans of `tenant`, ten per trace, each with ten attributes, over a few shared resources. */
function manySpans(tenant: string, n: number, firstTrace = 1): SpanRecord[] {
  const resources = Array.from({ length: 10 }, (_, i) => resource(`svc-${i}`, { 'host.name': `host-${i}` }));
  return Array.from({ length: n }, (_, i) =>
    span({
      tenant,
      traceId: traceId(firstTrace + Math.floor(i / 10)),
      spanId: spanId(i + 1),
      parentSpanId: i % 10 ? spanId(i - (i % 10) + 1) : '',
      name: `op-${i % 50}`,
      startTimeUnixNano: T0 + BigInt(i) * 1000n,
      endTimeUnixNano: T0 + BigInt(i) * 1000n + 5000n,
      resource: resources[i % 10]!,
      attributes: attrs({
        'http.method': 'GET', 'http.route': `/r/${i % 100}`, 'http.status_code': BigInt(200 + (i % 5)), 'user.id': `u${i}`,
        a4: 'x', a5: true, a6: 1.5, a7: `y${i % 7}`, a8: 'z', a9: `w${i}`,
      }),
    }),
  );
}

describe('DuckDB store', () => {
  it('creates the parent directory of its file and keeps all data across close and reopen', async () => {
    const path = tempPath();
    const first = await open(path);
    assert.ok(existsSync(path));
    await first.writer.writeSpans([span({ tenant: 'p' })]);
    await first.writer.writeLogs([log({ tenant: 'p', body: { stringValue: 'before' } })]);
    await first.writer.writeMetrics([metricPoint(numberPoint({ asDouble: 3 }), {}, { tenant: 'p' })]);
    const [before] = (await first.logs.searchLogs('p', {}, { first: 1 })).items;
    await first.close();

    const second = await open(path);
    assert.equal((await second.traces.getTraces('p', [traceId(1)]))[0]!.length, 1);
    assert.equal((await second.metrics.points('p', 'http.server.requests', {}, 10)).length, 1);
    await second.writer.writeLogs([log({ tenant: 'p', body: { stringValue: 'after' }, timeUnixNano: T0 + 1n })]);
    const logs = (await second.logs.searchLogs('p', {}, { first: 10 })).items.map((i) => i.node);
    assert.deepEqual(logs.map((l) => l.body), [{ stringValue: 'after' }, { stringValue: 'before' }]);
    assert.equal(logs[1]!.id, before!.node.id);
    assert.ok(BigInt(logs[0]!.id) > BigInt(logs[1]!.id), 'log IDs keep increasing after a reopen');
    await second.close();
  });

  it('closes twice without error and then answers every call with UNAVAILABLE', async () => {
    const store = await open();
    await store.close();
    await store.close();
    await rejectsWith(store.writer.writeSpans([span()]), 'UNAVAILABLE');
    await rejectsWith(store.traces.getTraces('default', [traceId(1)]), 'UNAVAILABLE');
    await rejectsWith(store.logs.searchLogs('default', {}, { first: 1 }), 'UNAVAILABLE');
    await rejectsWith(store.metrics.metricNames('default'), 'UNAVAILABLE');
    await rejectsWith(store.catalog.attributeKeys('default', 'RESOURCE'), 'UNAVAILABLE');
  });

  it('finishes queued writes before closing', async () => {
    const path = tempPath();
    const store = await open(path);
    const writing = store.writer.writeSpans(manySpans('q', 3000));
    await store.close();
    await writing;
    const reopened = await open(path);
    assert.equal((await reopened.traces.searchTraces('q', {}, 1000)).length, 300);
    await reopened.close();
  });

  it('appends a batch in steps of at most one writeStepRows chunk, the flushes in steps of their own, and keeps every row', async () => {
    const stepsFor = async (writeStepRows: number, writeStepMs: number) => {
      const store = await openDuckDbStore({ path: ':memory:', logger: silentLogger(), threads: 2, writeStepRows, writeStepMs });
      await store.writer.writeSpans(manySpans('steps', 5000));
      assert.equal((await store.traces.searchTraces('steps', {}, 1000)).length, 500);
      const { appendSteps, rowsWritten, longestStepMs } = store.stats();
      assert.equal(rowsWritten.spans, 5000);
      assert.ok(longestStepMs.spans > 0 && Number.isFinite(longestStepMs.spans), `longest step ${longestStepMs.spans} ms`);
      await store.close();
      return appendSteps.spans;
    };
    // One step per chunk at least, plus one per flush (every 2,048 rows and at the end: 3); a step
    // also ends early once writeStepMs has passed, so these are lower bounds.
    const flushes = Math.ceil(5000 / 2048);
    assert.ok((await stepsFor(64, 100)) >= Math.ceil(5000 / 64) + flushes);
    assert.ok((await stepsFor(512, 100)) >= Math.ceil(5000 / 512) + flushes);
    assert.ok((await stepsFor(2048, 1)) >= Math.ceil(5000 / 2048) + flushes);
  });

  it('keeps every row of batches written at once to two tables and read meanwhile, with 1 ms steps that end inside chunks', async () => {
    const store = await openDuckDbStore({ path: ':memory:', logger: silentLogger(), threads: 2, writeStepRows: 2048, writeStepMs: 1 });
    const spans = manySpans('mid', 9000);
    const logs = spans.map((s, i) => log({ tenant: 'mid', body: { stringValue: `line ${i}` }, traceId: s.traceId, spanId: s.spanId }));
    const reads: Promise<number>[] = [];
    const writing = Promise.all([store.writer.writeSpans(spans), store.writer.writeLogs(logs), store.writer.writeSpans(manySpans('mid2', 3000))]);
    for (let i = 0; i < 5; i++) reads.push(store.traces.searchTraces('mid', {}, 2000).then((t) => t.length));
    await writing;
    for (const n of await Promise.all(reads)) assert.ok(n === 0 || n === 900, `a read sees a whole batch or none of it (${n} traces)`);
    assert.equal((await store.traces.searchTraces('mid', {}, 2000)).length, 900);
    assert.equal((await store.traces.searchTraces('mid2', {}, 2000)).length, 300);
    const { rowsWritten } = store.stats();
    assert.deepEqual([rowsWritten.spans, rowsWritten.logs], [12000, 9000]);
    await store.close();
  });

  describe('writes', () => {
    let store: DuckDbStore;
    it('rolls back a whole batch that fails part-way, and keeps writing afterwards', async () => {
      store = await open();
      // Batches are loaded in slices; these failures come after the first slices were inserted.
      const brokenInJs = manySpans('rb', 40_000);
      brokenInJs[39_000] = { ...brokenInJs[39_000]!, attributes: null as unknown as [] };
      await rejectsWith(store.writer.writeSpans(brokenInJs), 'INTERNAL');
      const brokenInDuckDb = manySpans('rb', 40_000);
      brokenInDuckDb[39_000] = { ...brokenInDuckDb[39_000]!, tenant: null as unknown as string };
      await rejectsWith(store.writer.writeSpans(brokenInDuckDb), 'INTERNAL');
      assert.deepEqual(await store.traces.searchTraces('rb', {}, 10), []);
      assert.equal(store.stats().writeErrors, 2);
      assert.deepEqual(store.stats().failingTables, ['spans']);
      assert.equal(store.stats().lastWriteError?.table, 'spans');

      await store.writer.writeSpans(manySpans('rb', 20));
      assert.deepEqual(store.stats().failingTables, [], 'a write that succeeds clears the failing state');
      assert.equal((await store.traces.searchTraces('rb', {}, 10)).length, 2);
      assert.deepEqual(store.stats().rowsWritten, { spans: 20, logs: 0, metric_points: 0 });
    });

    it('serialises concurrent batches for one table and writes all of them', async () => {
      await Promise.all([0, 1, 2, 3, 4].map((k) => store.writer.writeSpans(manySpans('conc', 1000, 1 + k * 100))));
      await Promise.all([store.writer.writeLogs([log({ tenant: 'conc' })]), store.writer.writeMetrics([metricPoint(numberPoint(), {}, { tenant: 'conc' })])]);
      assert.equal((await store.traces.searchTraces('conc', {}, 10_000)).length, 500);
      assert.deepEqual(store.stats().rowsWritten, { spans: 5020, logs: 1, metric_points: 1 });
      await store.close();
    });
  });

  it('filters on keys and values holding the attrs_flat separator and escape characters', async () => {
    const store = await open();
    const nasty = 'a\x1eb\x1fc\x1d1d\x1d';
    await store.writer.writeSpans([
      span({ tenant: 'ctl', spanId: spanId(1), attributes: attrs({ [nasty]: nasty, plain: '7', empty: {} }) }),
      span({ tenant: 'ctl', spanId: spanId(2), attributes: attrs({ plain: `x\x1e${nasty}`, [`${nasty}\x1e`]: 'v' }) }),
    ]);
    const ids = async (c: Parameters<typeof store.traces.searchSpans>[1]['attributes']) =>
      (await store.traces.searchSpans('ctl', { attributes: c }, { first: 10 })).items.map((s) => s.node.spanId).sort();
    assert.deepEqual(await ids([{ key: nasty, op: 'eq', value: nasty }]), [spanId(1)]);
    assert.deepEqual(await ids([{ key: nasty, op: 'regex', value: 'a\x1eb\x1fc\x1d1d\x1d' }]), [spanId(1)]);
    assert.deepEqual(await ids([{ key: 'plain', op: 'regex', value: 'x\x1ea.*' }]), [spanId(2)]);
    assert.deepEqual(await ids([{ key: 'plain', op: 'neq', value: '7' }]), [spanId(2)]);
    assert.deepEqual(await ids([{ key: 'plain', op: 'gt', number: 6 }]), [spanId(1)]);
    assert.deepEqual(await ids([{ key: 'empty', op: 'exists' }]), [spanId(1)]);
    assert.deepEqual(await ids([{ key: 'empty', op: 'eq', value: '' }]), []);
    assert.deepEqual(await ids([{ key: `${nasty}\x1e`, op: 'in', values: ['w', 'v'] }]), [spanId(2)]);
    assert.deepEqual(await ids([{ key: 'b', op: 'exists' }]), [], 'a separator inside a key does not start a new key');
    assert.deepEqual(await store.catalog.attributeValues('ctl', 'SPAN', 'plain'), [`x\x1e${nasty}`, '7'].sort((a, b) => (a < b ? -1 : 1)));
    await store.close();
  });

  it('keeps doubles that JSON cannot hold, and duplicate attribute keys', async () => {
    const store = await open();
    const odd = span({
      tenant: 'odd',
      attributes: [
        { key: 'nan', value: { doubleValue: NaN } },
        { key: 'inf', value: { doubleValue: Infinity } },
        { key: 'ninf', value: { doubleValue: -Infinity } },
        { key: 'negzero', value: { doubleValue: -0 } },
        { key: 'dup', value: { stringValue: 'first' } },
        { key: 'dup', value: { stringValue: 'second' } },
        { key: '__proto__', value: { stringValue: 'not a prototype' } },
        { key: 'text', value: { stringValue: 'NaN' } },
      ],
      events: [{ timeUnixNano: T0, name: 'e', attributes: [{ key: 'x', value: { doubleValue: NaN } }], droppedAttributesCount: 0 }],
    });
    await store.writer.writeSpans([odd]);
    const [[stored]] = (await store.traces.getTraces('odd', [odd.traceId])) as [[SpanRecord]];
    assert.deepEqual(stored, odd);
    assert.ok(Object.is((stored.attributes[3]!.value as { doubleValue: number }).doubleValue, -0));
    const match = (key: string, value: string) => store.traces.searchSpans('odd', { attributes: [{ key, op: 'eq', value }] }, { first: 1 });
    assert.equal((await match('dup', 'second')).items.length, 1, 'the last duplicate wins in filters');
    assert.equal((await match('__proto__', 'not a prototype')).items.length, 1);
    await store.close();
  });

  it('reads spans an earlier version stored with a negative duration as lasting 0, in filters and quantiles too', async () => {
    // Before 41f8790 a span that ends before it starts was stored with end − start (< 0).
    const path = tempPath();
    const first = await open(path);
    await first.writer.writeSpans([
      span({ tenant: 'neg', spanId: spanId(1), startTimeUnixNano: T0 + 2_000_000_000n, endTimeUnixNano: T0 + 1_000_000_000n }),
      span({ tenant: 'neg', spanId: spanId(2), startTimeUnixNano: T0, endTimeUnixNano: T0 + 4_000_000n }),
    ]);
    await first.close();
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    await conn.run(`UPDATE spans SET duration_ns = -1000000000 WHERE tenant = 'neg' AND duration_ns = 0`);
    assert.equal((await runQuery(conn, 'SELECT count(*) AS n FROM spans WHERE duration_ns < 0'))[0]!.n, 1n, 'the file holds what the earlier version wrote');
    conn.closeSync();
    instance.closeSync();

    const second = await open(path);
    const found = await second.traces.searchSpans('neg', { minDuration: 0n }, { first: 10 });
    assert.equal(found.items.length, 2, 'minDuration 0 takes every span, as each reads a duration of at least 0');
    // Every aggregate over duration_ns (RED latency quantiles, alert latency rules, the service graph's p95) reads the column.
    const [row] = await second.db.query("SELECT min(duration_ns) AS least, quantile_cont(duration_ns, 0.01) AS p1 FROM spans WHERE tenant = 'neg'");
    assert.equal(row!.least, 0n);
    assert.ok(Number(row!.p1) >= 0, `p1 ${String(row!.p1)}`);
    await second.close();
  });

  it('looks traces up by trace_key, filtering in the scan without an index', async () => {
    const path = tempPath();
    const store = await open(path);
    // Real trace IDs are random; the builders' all start with zeros (one trace_key for all).
    const hashed = (id: string) => createHash('md5').update(id).digest('hex');
    await store.writer.writeSpans(manySpans('idx', 30_000).map((s) => ({ ...s, traceId: hashed(s.traceId) })));
    await store.close();
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    const p = params(['idx']);
    const sql = byTraceIdSql('spans', 'tenant, trace_id, span_id', [hashed(traceId(7)), hashed(traceId(2000))], p);
    const { values, types } = bindParams(p.values);
    const plan = (await conn.runAndReadAll(`EXPLAIN ANALYZE ${sql}`, values, types)).getRows().map((r) => String(r[1])).join('\n');
    const rows = await runQuery(conn, sql, p.values);
    conn.closeSync();
    instance.closeSync();
    assert.match(plan, /Filters:[^┘]*trace_key/, 'the key filter is pushed into the scan');
    assert.equal(rows.length, 20);
    assert.deepEqual(new Set(rows.map((r) => r.trace_id)), new Set([hashed(traceId(7)), hashed(traceId(2000))]));
  });

  it('compiles filters with every user value as a parameter', () => {
    const evil = "x' OR 1=1; DROP TABLE spans; --";
    const onEvil: AttributeCondition = { key: evil, op: 'regex', value: evil };
    const onN: AttributeCondition = { key: 'n', op: 'gt', number: 5 };
    // The condition on `evil` matches resource 7, the one on `n` no resource.
    const matches = new Map<AttributeCondition, bigint[]>([
      [onEvil, [7n]],
      [onN, []],
    ]);
    const { sql, params: values } = compileFilter('spans', { service: [evil], attributes: [onEvil, onN], not: { name: [evil] } }, matches, 2);
    assert.doesNotMatch(sql, /DROP|OR 1=1/);
    assert.match(sql, /^\(service_name IN \(\$2\)/);
    // Equal values share a parameter; a condition some resource matches names its key as
    // present-with-value and present-without (record attributes shadow the resource's, filter-sql.ts).
    assert.deepEqual(values, [evil, `\x1e${evil}\x1f`, `\x1e${evil}\x1e`, 7n, '\x1en\x1f', 5]);
  });

  it('rejects a filter field that does not apply to the signal, naming it', () => {
    assert.throws(() => compileFilter('logs', { kind: [1] }, new Map()), (e: unknown) => e instanceof StoreError && e.code === 'BAD_QUERY' && /kind/.test(e.message));
    assert.throws(() => compileFilter('spans', { bodyContains: 'x' }, new Map()), (e: unknown) => e instanceof StoreError && /bodyContains/.test(e.message));
    assert.throws(() => compileFilter('spans', { colour: ['red'] } as never, new Map()), (e: unknown) => e instanceof StoreError && /colour/.test(e.message));
  });

  it('maps DuckDB errors to StoreError codes', () => {
    assert.equal(toStoreError(new Error('Conversion Error: Could not convert string')).code, 'BAD_QUERY');
    assert.equal(toStoreError(new Error('Invalid Input Error: missing ): (')).code, 'BAD_QUERY');
    assert.equal(toStoreError(new Error('Failed to query: connection disconnected')).code, 'UNAVAILABLE');
    assert.equal(toStoreError(new Error('IO Error: Could not set lock on file')).code, 'UNAVAILABLE');
    assert.equal(toStoreError(new Error('Binder Error: Referenced column "x" not found')).code, 'INTERNAL');
    // A full buffer pool and a write-write conflict may pass: the ingest exporter retries UNAVAILABLE.
    const full = toStoreError(new Error('Failed to append: could not allocate block of size 256.0 KiB (3.6 MiB/3.8 MiB used)'));
    assert.equal(full.code, 'UNAVAILABLE');
    assert.match(full.message, /storage\.duckdb\.memoryLimit, was full; raise it if this goes on\)$/, 'the write failure names the setting');
    // DuckDB's words (a page of 15 KB attributes, session 24): the message says which setting to raise.
    const oom = toStoreError(new Error('Out of Memory Error: failed to allocate data of size 16.0 MiB (56.1 MiB/61.0 MiB used)\n\nPossible solutions:\n* Reducing the number of threads'));
    assert.equal(oom.code, 'UNAVAILABLE');
    assert.match(oom.message, /^Out of Memory Error: failed to allocate data of size 16\.0 MiB \(56\.1 MiB\/61\.0 MiB used\)\. The embedded store's memory limit \(storage\.duckdb\.memoryLimit, TELEQL_DUCKDB_MEMORY_LIMIT\) was reached by this statement/);
    assert.equal(toStoreError(new Error('TransactionContext Error: Catalog write-write conflict on create with "x"')).code, 'UNAVAILABLE');
    const err = toStoreError(new Error('Catalog Error: Table with name nosuch does not exist!\nDid you mean…'));
    assert.equal(err.message, 'Catalog Error: Table with name nosuch does not exist!');
    assert.equal(err.backend, 'duckdb');
  });

  it('refuses a second store on a file this process has open', async () => {
    const path = tempPath();
    const store = await open(path);
    await rejectsWith(open(path), 'UNAVAILABLE', 'already open');
    await store.close();
    await (await open(path)).close();
  });

  it('appends 100k spans with ten attributes each', async () => {
    const store = await open();
    const spans = manySpans('bench', 100_000);
    const started = performance.now();
    await store.writer.writeSpans(spans);
    const ms = performance.now() - started;
    console.log(`DuckDB append: 100000 spans with 10 attributes in ${ms.toFixed(0)} ms = ${Math.round(100_000 / (ms / 1000))} spans/s`);
    assert.equal(store.stats().rowsWritten.spans, 100_000);
    const lookup = performance.now();
    const [trace] = await store.traces.getTraces('bench', [traceId(5000)]);
    console.log(`DuckDB getTraces on 100k spans: ${(performance.now() - lookup).toFixed(1)} ms`);
    assert.equal(trace!.length, 10);
    await store.close();
  });
});
