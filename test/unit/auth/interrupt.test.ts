// The DuckDB interrupt hook: a statement running when the request's signal fires is stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';
import { interruptible } from '../../../src/stores/duckdb/interrupt.ts';
import { withQuerySignal } from '../../../src/stores/query-signal.ts';

test('a long DuckDB statement is interrupted when the request signal aborts, and the connection stays usable', async () => {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const abort = new AbortController();
    // Minutes of work if not interrupted.
    const slow = withQuerySignal(abort.signal, () => interruptible(conn, () => conn.runAndReadAll('SELECT sum(hash(a.range * b.range)) FROM range(100000000) a, range(1000) b')));
    setTimeout(() => abort.abort(new Error('deadline for the test')), 200);
    await assert.rejects(slow, /query interrupted: deadline for the test/);
    const after = await conn.runAndReadAll('SELECT 42 AS answer');
    assert.deepEqual(after.getRowObjectsJS(), [{ answer: 42 }]);
    await assert.rejects(
      withQuerySignal(abort.signal, () => interruptible(conn, () => conn.runAndReadAll('SELECT 1'))),
      /query interrupted/,
      'an already-aborted request does not start another statement',
    );
    assert.deepEqual((await interruptible(conn, () => conn.runAndReadAll('SELECT 1 AS one'))).getRowObjectsJS(), [{ one: 1 }], 'no signal: runs normally');
  } finally {
    conn.closeSync();
    db.closeSync();
  }
});
