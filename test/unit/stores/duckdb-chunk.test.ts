// chunk.ts fills data chunks without node-api's setColumns: every value must reach the table as
// given — NULLs, repeated strings (copied string_t's, inline and on the vector's heap), non-ASCII
// text, every scalar type — and a value of the wrong type is refused with the column's name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BIGINT, BOOLEAN, DOUBLE, DuckDBInstance, INTEGER, UINTEGER, VARCHAR } from '@duckdb/node-api';
import { chunkFiller, columnwiseChunkFiller, fillChunk, type ChunkColumn } from '../../../src/stores/duckdb/chunk.ts';

interface Row {
  tag: string | null;
  text: string | null;
  big: bigint | null;
  int: number | null;
  uint: number;
  dbl: number | null;
  flag: boolean | null;
}

const TAGS = ['short', 'a string longer than twelve bytes', null, 'ünïcödé ✓ beyond the inline size', ''];

function rows(n: number): Row[] {
  return Array.from({ length: n }, (_, k) => ({
    tag: TAGS[(k * 7) % TAGS.length]!,
    // Runs of equal values (the previous-row copy), some NULL, some of 12 bytes or fewer (inlined).
    text: k % 11 === 0 ? null : k % 3 === 0 ? `s${k >> 3}` : `long value repeated in runs ${k >> 2}`,
    big: k % 13 === 0 ? null : BigInt(k) * -1_000_000_007n - 9_007_199_254_740_993n,
    int: k % 17 === 0 ? null : -k,
    uint: 4_294_967_295 - k,
    dbl: k % 19 === 0 ? null : k / 3,
    flag: k % 5 === 0 ? null : k % 2 === 0,
  }));
}

const columns: ChunkColumn<Row>[] = [
  { name: 'tag', repeats: true, get: (r) => r.tag },
  { name: 'text', get: (r) => r.text },
  { name: 'big', get: (r) => r.big },
  { name: 'int', get: (r) => r.int },
  { name: 'uint', get: (r) => r.uint },
  { name: 'dbl', get: (r) => r.dbl },
  { name: 'flag', get: (r) => r.flag },
];
const types = [VARCHAR, VARCHAR, BIGINT, INTEGER, UINTEGER, DOUBLE, BOOLEAN];

async function table() {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run('CREATE TABLE t (tag VARCHAR, text VARCHAR, big BIGINT, int INTEGER, uint UINTEGER, dbl DOUBLE, flag BOOLEAN)');
  return { instance, conn, appender: await conn.createAppender('t') };
}

/** Flushes, reads table t back row by row against `want`, and closes everything. */
async function assertAppended({ instance, conn, appender }: Awaited<ReturnType<typeof table>>, want: readonly Row[]): Promise<void> {
  appender.flushSync();
  const got = (await conn.runAndReadAll('SELECT * FROM t')).getRowObjectsJS();
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) assert.deepEqual(got[i], { ...want[i] }, `row ${i}`);
  appender.closeSync();
  conn.closeSync();
  instance.closeSync();
}

describe('data chunks filled from rows', () => {
  it('appends every value as given, over full and partial chunks', async () => {
    const { instance, conn, appender } = await table();
    const chunks = [rows(2048), rows(513), rows(1)];
    for (const part of chunks) appender.appendDataChunk(fillChunk(columns, types, part));
    await assertAppended({ instance, conn, appender }, chunks.flat());
  });

  it('a reused chunk carries nothing over from its previous fill (NULLs, strings, size)', async () => {
    const { instance, conn, appender } = await table();
    const fill = chunkFiller(columns, types);
    // Each fill moves the NULLs and repeated strings to other rows than the previous fill's, and
    // the last has no NULL at all: a validity bit or a string left from before would show.
    const noNulls = rows(300).map((r, k) => ({ ...r, tag: `t${k % 4}`, text: `x${k}`, big: 1n, int: 2, dbl: 0.5, flag: true }));
    const chunks = [rows(2048), rows(900).slice(1), rows(2048).slice(3), noNulls, rows(1)];
    for (const part of chunks) appender.appendDataChunk(fill(part));
    await assertAppended({ instance, conn, appender }, chunks.flat());
  });

  it('a chunk filled one column per call, with other appends between the calls, carries the same values', async () => {
    const { instance, conn, appender } = await table();
    const fill = columnwiseChunkFiller(columns, types);
    const other = chunkFiller(columns, types);
    const chunks = [rows(2048).slice(5), rows(700)];
    const between = rows(40).slice(20);
    const want: Row[] = [];
    for (const part of chunks) {
      const filling = fill(part);
      let calls = 1;
      // The store writer yields between columns: another table's chunk may be filled meanwhile.
      while (!filling.fillColumn()) {
        calls++;
        if (calls === 3) {
          appender.appendDataChunk(other(between));
          want.push(...between);
        }
      }
      assert.equal(calls, columns.length);
      assert.equal(filling.fillColumn(), true, 'a filled chunk stays filled');
      appender.appendDataChunk(filling.chunk());
      want.push(...part);
    }
    await assertAppended({ instance, conn, appender }, want);
  });

  it('refuses a value of the wrong type, naming the column', async () => {
    const bad: ChunkColumn<Row>[] = [{ name: 'big', get: (r) => r.int }];
    assert.throws(() => fillChunk(bad, [BIGINT], rows(3)), /column big: expected a bigint, got number/);
    const badText: ChunkColumn<Row>[] = [{ name: 'tag', get: (r) => r.uint }];
    assert.throws(() => fillChunk(badText, [VARCHAR], rows(3)), /column tag: expected a string, got number/);
  });
});
