// Long strings (attribute values, bodies) in a file store with the default 64 MB memory limit.
// DuckDB 1.5.5 keeps the blocks of strings over ~16 KB in memory; before session 16, 16.4 KB
// attributes invalidated the database after ~40 MB ("checkpointing failed") and 256 KB ones after
// ~36 MB, and every statement failed after. The store now keeps no column value longer than 16,000
// characters (strings up to that go far past the limit), and reopens its instance when a statement
// finds the database invalidated anyway.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../src/logger.ts';
import { openDb } from '../../../src/stores/duckdb/connection.ts';
import { openDuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { MAX_STORED_CHARS } from '../../../src/stores/duckdb/long-values.ts';
import { attrs, log, resource, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';
import { tempStorePaths } from '../../helpers/temp-store.ts';

const tempPath = tempStorePaths('long-strings');
const open = () => openDuckDbStore({ path: tempPath(), logger: silentLogger(), threads: 2, memoryLimit: '64MB' });
const res = resource('long');

function batch(b: number, per: number, chars: number) {
  const long = 'x'.repeat(chars);
  return Array.from({ length: per }, (_, i) =>
    span({ tenant: 'a', traceId: traceId(b + 1), spanId: spanId(b * per + i + 1), resource: res, startTimeUnixNano: T0 + BigInt(b * per + i), attributes: attrs({ blob: `${b}-${i}-${long}` }) }),
  );
}

describe('DuckDB store: long strings', () => {
  it('takes 15 KB attributes (stored whole) far past its memory limit', async () => {
    const store = await open();
    const cutBefore = store.stringsCut();
    const batches = 60; // 60 × 256 spans × 15 KB = 230 MB of long strings
    for (let b = 0; b < batches; b++) await store.writer.writeSpans(batch(b, 256, 15_000));
    assert.equal(store.stringsCut() - cutBefore, 0, 'stored whole');
    for (const b of [0, batches - 1]) {
      const [trace] = await store.traces.getTraces('a', [traceId(b + 1)]);
      assert.equal(trace!.length, 256);
      assert.equal((trace![0]!.attributes[0]!.value as { stringValue: string }).stringValue.length, `${b}-0-`.length + 15_000);
    }
    await store.close();
  });

  it('stores 256 KB attributes, events and bodies cut to 16,000 characters, readable, and keeps taking them', async () => {
    const store = await open();
    const cutBefore = store.stringsCut();
    for (let b = 0; b < 40; b++) await store.writer.writeSpans(batch(b, 16, 262_144)); // 160 MB of attributes
    const [trace] = await store.traces.getTraces('a', [traceId(40)]);
    assert.equal(trace!.length, 16);
    const value = (trace![0]!.attributes[0]!.value as { stringValue: string }).stringValue;
    assert.ok(value.length < MAX_STORED_CHARS && value.length > MAX_STORED_CHARS - 200, String(value.length));
    assert.ok(value.startsWith('39-') && value.endsWith('…'));
    // One cut string per span: attrs_flat (the attributes column holds only non-string types).
    assert.equal(store.stringsCut() - cutBefore, 40 * 16);
    // Filters still see the start of a cut value.
    const found = await store.traces.searchSpans('a', { attributes: [{ key: 'blob', op: 'regex', value: '39-0-x.*' }] }, { first: 5 });
    assert.equal(found.items.length, 1);

    const stack = 'at com.example.Frame.call(Frame.java:1)\n'.repeat(2_000); // ~80 KB
    const withEvents = span({ tenant: 'a', traceId: traceId(500), spanId: spanId(5_000_000), resource: res, events: [{ timeUnixNano: T0, name: 'exception', attributes: attrs({ 'exception.stacktrace': stack, 'exception.type': 'Boom' }), droppedAttributesCount: 0 }] });
    await store.writer.writeSpans([withEvents]);
    const [withTrace] = await store.traces.getTraces('a', [traceId(500)]);
    const event = withTrace![0]!.events[0]!;
    assert.deepEqual(event.attributes.find((a) => a.key === 'exception.type')?.value, { stringValue: 'Boom' }, 'short values are kept whole');
    assert.ok(((event.attributes.find((a) => a.key === 'exception.stacktrace')?.value as { stringValue: string }).stringValue).endsWith('…'));

    await store.writer.writeLogs([log({ tenant: 'a', resource: res, body: { stringValue: 'b'.repeat(300_000) }, traceId: traceId(600) })]);
    const logs = await store.logs.searchLogs('a', {}, { first: 1 });
    assert.equal((logs.items[0]!.node.body as { stringValue: string }).stringValue.length, MAX_STORED_CHARS);
    await store.close();
  });

  it('reads a page of 1,000 spans or logs whose attributes or bodies are 15 KB each, newest or oldest first', async () => {
    // DuckDB's top-N carried every column of each 2,048-row vector it scanned: 30 MB of strings per
    // vector here, which ran out of the 64 MB limit from `first: 200` (session 24).
    const store = await open();
    for (let b = 0; b < 4; b++) {
      await store.writer.writeSpans(batch(b, 500, 15_000));
      await store.writer.writeLogs(
        Array.from({ length: 500 }, (_, i) => log({ tenant: 'a', resource: res, timeUnixNano: T0 + BigInt(b * 500 + i), body: { stringValue: `${b}-${i}-${'y'.repeat(15_000)}` } })),
      );
    }
    for (const order of ['NEWEST_FIRST', 'OLDEST_FIRST'] as const) {
      const spans = await store.traces.searchSpans('a', {}, { first: 1_000, order });
      assert.equal(spans.items.length, 1_000);
      assert.equal((spans.items[0]!.node.attributes[0]!.value as { stringValue: string }).stringValue.slice(0, 6), order === 'NEWEST_FIRST' ? '3-499-' : '0-0-xx');
      const logs = await store.logs.searchLogs('a', {}, { first: 1_000, order });
      assert.equal(logs.items.length, 1_000);
      assert.equal((logs.items[0]!.node.body as { stringValue: string }).stringValue.slice(0, 6), order === 'NEWEST_FIRST' ? '3-499-' : '0-0-yy');
    }
    await store.close();
  });

  it('pages of long values read side by side: one that runs out of DuckDB memory beside the others runs again once they are done', async () => {
    // Each read below holds ~15 MB of strings; three lanes of them at once (as a Grafana dashboard's
    // panels) did not fit 64 MB together, and some failed (session 24).
    const path = tempPath();
    const writing = await openDuckDbStore({ path, logger: silentLogger(), threads: 1, memoryLimit: '64MB' });
    for (let b = 0; b < 4; b++) {
      await writing.writer.writeSpans(batch(b, 500, 15_000));
      await writing.writer.writeLogs(
        Array.from({ length: 500 }, (_, i) => log({ tenant: 'a', resource: res, timeUnixNano: T0 + BigInt(b * 500 + i), body: { stringValue: `${b}-${i}-lazy ${'y'.repeat(15_000)}` } })),
      );
    }
    await writing.close();
    const store = await openDuckDbStore({ path, logger: silentLogger(), threads: 1, memoryLimit: '64MB' });
    const reads = Array.from({ length: 12 }, (_, i) =>
      i % 2
        ? store.logs.searchLogs('a', { bodyContains: 'lazy' }, { first: 1_000 }).then((p) => p.items.length)
        : store.traces.searchSpans('a', { attributes: [{ key: 'blob', op: 'exists' }] }, { first: 1_000 }).then((p) => p.items.length),
    );
    assert.deepEqual(await Promise.all(reads), Array.from({ length: 12 }, () => 1_000));
    assert.equal(store.db.outOfMemoryReads.failedAgain, 0);
    await store.close();
  });

  it('a statement that fails with DuckDB\'s "invalidated" error reopens the instance; statements behind it wait, then run', async () => {
    // DuckDB's own failure takes a load the guards above now prevent, so the lane's work throws
    // DuckDB's words here (taken from a real failure: bench/README.md, session 16).
    const invalidated: string[] = [];
    const db = await openDb({
      path: tempPath(),
      writeTables: ['t'],
      readLanes: 1,
      setup: async (conn) => {
        await conn.run('CREATE TABLE t (i INTEGER)');
      },
      setupWriteLane: async () => {},
      onInvalidated: (err) => invalidated.push(String(err)),
    });
    try {
      await db.writeLane('t').use((conn) => conn.run('INSERT INTO t VALUES (1)'));
      const words = 'IO Error: Database "teleql" has been invalidated because checkpointing failed. Detach and reattach it before using it again.';
      await assert.rejects(db.writeLane('t').use(() => Promise.reject(new Error(words))), /has been invalidated/);
      assert.equal(invalidated.length, 1);
      await db.writeLane('t').use((conn) => conn.run('INSERT INTO t VALUES (2)'));
      assert.deepEqual(await db.query('SELECT i FROM t ORDER BY i'), [{ i: 1 }, { i: 2 }]);
      assert.equal(db.reopens, 1);
      // Any other error reopens nothing.
      await assert.rejects(db.writeLane('t').use((conn) => conn.run('INSERT INTO t VALUES (NULL, NULL)')));
      assert.equal(db.reopens, 1);
    } finally {
      await db.close();
    }
  });
});
