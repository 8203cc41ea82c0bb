// Prepared read statements (src/stores/duckdb/prepared-reads.ts): a statement run again with new
// parameters answers for those parameters, a failing statement is not kept, eviction past the
// per-connection bound destroys the oldest without breaking the next run, Db.query on a real
// store still sees rows written after a statement was prepared, and a statement without
// parameters reads rows written after its first run correctly (DuckDB keeps its first plan).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { openDb } from '../../../src/stores/duckdb/connection.ts';
import { preparedReads } from '../../../src/stores/duckdb/prepared-reads.ts';

async function connection() {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run(`CREATE TABLE t AS SELECT i, 'v' || i AS s FROM range(10) r(i)`);
  return {
    conn,
    close: () => {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

describe('prepared read statements', () => {
  it('the same SQL with other parameters answers for those parameters', async () => {
    const { conn, close } = await connection();
    try {
      const run = preparedReads();
      const sql = 'SELECT s FROM t WHERE i IN ($1, $2) ORDER BY i';
      assert.deepEqual(await run(conn, sql, [1, 2]), [{ s: 'v1' }, { s: 'v2' }]);
      assert.deepEqual(await run(conn, sql, [7, 3]), [{ s: 'v3' }, { s: 'v7' }]);
      assert.deepEqual(await run(conn, 'SELECT count(*)::INTEGER AS n FROM t', []), [{ n: 10 }]);
    } finally {
      close();
    }
  });

  it('a statement that fails to prepare or to run is not kept: the next run works', async () => {
    const { conn, close } = await connection();
    try {
      const run = preparedReads();
      await assert.rejects(run(conn, 'SELECT nope FROM t', []), /nope/);
      const cast = 'SELECT CAST($1 AS INTEGER) AS n';
      assert.deepEqual(await run(conn, cast, ['12']), [{ n: 12 }]);
      await assert.rejects(run(conn, cast, ['twelve']), /Could not convert|Conversion/);
      assert.deepEqual(await run(conn, cast, ['13']), [{ n: 13 }]);
    } finally {
      close();
    }
  });

  it('past the per-connection bound the oldest statements are destroyed and prepared again when used', async () => {
    const { conn, close } = await connection();
    try {
      const run = preparedReads(2);
      const statements = [0, 1, 2, 3].map((k) => `SELECT s FROM t WHERE i = $1 + ${k}`);
      for (let round = 0; round < 2; round++) {
        for (const [k, sql] of statements.entries()) assert.deepEqual(await run(conn, sql, [1]), [{ s: `v${1 + k}` }]);
      }
    } finally {
      close();
    }
  });

  it('through Db.query: a prepared statement sees rows committed after it was prepared', async () => {
    const db = await openDb({
      path: ':memory:',
      writeTables: ['t'],
      readLanes: 1,
      setup: async (conn) => {
        await conn.run('CREATE TABLE t (i INTEGER)');
      },
      setupWriteLane: async () => {},
    });
    try {
      const sql = 'SELECT count(*)::INTEGER AS n FROM t WHERE i > $1';
      assert.deepEqual(await db.query(sql, [0]), [{ n: 0 }]);
      await db.writeLane('t').use((conn) => conn.run('INSERT INTO t VALUES (1), (2), (3)'));
      assert.deepEqual(await db.query(sql, [0]), [{ n: 3 }]);
      assert.deepEqual(await db.query(sql, [2]), [{ n: 1 }]);
    } finally {
      await db.close();
    }
  });

  it('a statement without parameters is planned afresh: rows written after its first run read right', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    try {
      const run = preparedReads();
      await conn.run('CREATE TABLE s (body VARCHAR, k BIGINT)');
      // ORDER BY a column not selected: a reused plan from the empty table gave one garbage character per row.
      const sql = 'SELECT body FROM s ORDER BY k';
      assert.deepEqual(await run(conn, sql, []), []);
      await conn.run("INSERT INTO s VALUES ('{\"id\":\"first silence\"}', 2), ('{\"id\":\"second\"}', 1)");
      assert.deepEqual(await run(conn, sql, []), [{ body: '{"id":"second"}' }, { body: '{"id":"first silence"}' }]);
      // Values outside the first run's range: a reused plan crashed the process (segmentation fault).
      const wide = 'SELECT body, k + 0 AS k2 FROM s ORDER BY k';
      assert.equal((await run(conn, wide, [])).length, 2);
      await conn.run("INSERT INTO s VALUES ('a much longer string than before', 5000000000), ('zz', -7)");
      assert.deepEqual(
        (await run(conn, wide, [])).map((r) => r.k2),
        [-7n, 1n, 2n, 5_000_000_000n],
      );
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  });
});
