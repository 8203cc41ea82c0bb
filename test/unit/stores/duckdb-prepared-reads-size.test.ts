// Prepared read statements are bounded by the size of their SQL text as well as by count
// (src/stores/duckdb/prepared-reads.ts): a statement's native plan grows with its text, which a
// client's filter sets (fuzz QA: huge `in` filters). Statements too large to keep are destroyed
// after their run; past the per-connection size, the oldest are destroyed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { PREPARED_SQL_CHARS_PER_STATEMENT, preparedReads } from '../../../src/stores/duckdb/prepared-reads.ts';

/** A connection that records which statements it prepared and which of them were destroyed. */
async function spiedConnection() {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run(`CREATE TABLE t AS SELECT i FROM range(10) r(i)`);
  const prepared: string[] = [];
  const destroyed: string[] = [];
  const spy = Object.create(conn) as DuckDBConnection;
  spy.prepare = async (sql: string) => {
    const statement = await conn.prepare(sql);
    prepared.push(sql);
    const destroy = statement.destroySync.bind(statement);
    statement.destroySync = () => {
      destroyed.push(sql);
      destroy();
    };
    return statement;
  };
  return {
    conn: spy,
    prepared,
    destroyed,
    close: () => {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

/** A statement of about `chars` characters that answers `i` for its one parameter. */
const statementOf = (chars: number, tag: number) => `SELECT i FROM t WHERE i = $1 /* ${String(tag).padEnd(chars, '.')} */`;

describe('prepared read statements, bounded by size', () => {
  it('a statement over the per-statement size is run and destroyed, not kept', async () => {
    const { conn, prepared, destroyed, close } = await spiedConnection();
    try {
      const run = preparedReads();
      const huge = statementOf(PREPARED_SQL_CHARS_PER_STATEMENT + 1, 0);
      assert.deepEqual(await run(conn, huge, [3]), [{ i: 3n }]);
      assert.deepEqual(destroyed, [huge], 'destroyed once run');
      assert.deepEqual(await run(conn, huge, [4]), [{ i: 4n }]);
      assert.equal(prepared.length, 2, 'prepared afresh each time');
      const small = statementOf(100, 1);
      await run(conn, small, [1]);
      await run(conn, small, [2]);
      assert.equal(prepared.filter((sql) => sql === small).length, 1, 'a small statement is still kept');
    } finally {
      close();
    }
  });

  it('past the per-connection size the oldest statements are destroyed, whatever the count allows', async () => {
    const { conn, prepared, destroyed, close } = await spiedConnection();
    try {
      const run = preparedReads(64, 10_000, 5_000);
      const statements = [0, 1, 2, 3].map((k) => statementOf(4_000, k));
      for (const sql of statements) assert.deepEqual(await run(conn, sql, [5]), [{ i: 5n }]);
      // Two statements of ~4,000 characters fit in 10,000; the first two were evicted.
      assert.deepEqual(destroyed, statements.slice(0, 2));
      await run(conn, statements[3]!, [6]);
      assert.equal(prepared.length, 4, 'the newest is still kept');
      await run(conn, statements[0]!, [7]);
      assert.equal(prepared.length, 5, 'an evicted one is prepared again');
    } finally {
      close();
    }
  });
});
