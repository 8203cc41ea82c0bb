// The exporter spill's DuckDB file: bodies kept in pieces of at most 16,000 bytes. Whole batch
// bodies (a blob of megabytes each) invalidated the spill's database after ~100 MB with its
// 128 MB memory limit; a spill written that way before moves over at open.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance, blobValue } from '@duckdb/node-api';
import { CHUNK_BYTES, openSpill } from '../../../ingest/exporters/helpers/spill.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'teleql-spill-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('exporter spill', () => {
  test('holds 1 MB bodies far past its memory limit (200 MB) and gives each back byte for byte, across a reopen', async () => {
    const path = join(dir, 'big.duckdb');
    let spill = await openSpill(path, 1024 * 1024 * 1024);
    const bodies = Array.from({ length: 200 }, (_, i) => {
      const b = Buffer.alloc(1024 * 1024, i % 251);
      randomBytes(64).copy(b, 0);
      return b;
    });
    for (let i = 0; i < bodies.length; i += 10) {
      assert.equal(await spill.append(bodies.slice(i, i + 10).map((body) => ({ tenant: 't', items: 1, body }))), 0);
    }
    assert.deepEqual(spill.size(), { rows: 200, items: 200, bytes: 200 * 1024 * 1024 });
    await spill.close();

    spill = await openSpill(path, 1024 * 1024 * 1024);
    const first = await spill.peek(3);
    assert.deepEqual(first.map((r) => r.seq), [0n, 1n, 2n]);
    first.forEach((r, i) => assert.ok(Buffer.from(r.body).equals(bodies[i]!), `body ${i}`));
    await spill.remove(first.map((r) => r.seq));
    assert.equal(spill.size().rows, 197);
    const next = await spill.peek(1);
    assert.ok(Buffer.from(next[0]!.body).equals(bodies[3]!));
    await spill.close();
  });

  test('gives back one body close to its memory limit (a batch of 80 MB) after a reopen', async () => {
    const path = join(dir, 'one-big.duckdb');
    let spill = await openSpill(path, 1024 * 1024 * 1024);
    const body = randomBytes(80 * 1024 * 1024);
    await spill.append([{ tenant: 't', items: 1, body }]);
    await spill.close();
    spill = await openSpill(path, 1024 * 1024 * 1024);
    const [row] = await spill.peek(1);
    assert.ok(Buffer.from(row!.body).equals(body));
    await spill.close();
  });

  test('a body of a size that is a whole number of pieces, one that is not, and an empty one', async () => {
    const spill = await openSpill(join(dir, 'edges.duckdb'), 10_000_000);
    const bodies = [Buffer.alloc(CHUNK_BYTES * 2, 1), Buffer.alloc(CHUNK_BYTES + 1, 2), Buffer.alloc(0)];
    await spill.append(bodies.map((body) => ({ tenant: 't', items: 1, body })));
    await spill.prepend([{ tenant: 'u', items: 2, body: Buffer.from('retry first') }]);
    const rows = await spill.peek(100);
    assert.deepEqual(rows.map((r) => [r.tenant, r.items, r.body.length]), [['u', 2, 11], ['t', 1, CHUNK_BYTES * 2], ['t', 1, CHUNK_BYTES + 1], ['t', 1, 0]]);
    assert.ok(Buffer.from(rows[2]!.body).equals(bodies[1]!));
    await spill.close();
  });

  test('a spill file of whole bodies (written before pieces) moves over at open, in order', async () => {
    const path = join(dir, 'old.duckdb');
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    await conn.run('CREATE TABLE spill (seq BIGINT NOT NULL, tenant VARCHAR NOT NULL, items INTEGER NOT NULL, bytes INTEGER NOT NULL, body BLOB NOT NULL)');
    const old = [Buffer.alloc(40_000, 7), Buffer.from('small')];
    for (const [i, body] of old.entries()) await conn.run('INSERT INTO spill VALUES ($1, $2, $3, $4, $5)', [BigInt(i + 5), 'old', i + 1, body.length, blobValue(body)]);
    conn.closeSync();
    instance.closeSync();

    const spill = await openSpill(path, 10_000_000);
    assert.deepEqual(spill.size(), { rows: 2, items: 3, bytes: 40_005 });
    const rows = await spill.peek(100);
    assert.deepEqual(rows.map((r) => r.seq), [5n, 6n]);
    rows.forEach((r, i) => assert.ok(Buffer.from(r.body).equals(old[i]!)));
    await spill.close();
  });

  test('a row keeps its items\' keys across a reopen; a file written before rows had keys opens and takes them', async () => {
    const path = join(dir, 'keys.duckdb');
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    await conn.run('CREATE TABLE spill_rows (seq BIGINT NOT NULL, tenant VARCHAR NOT NULL, items INTEGER NOT NULL, bytes INTEGER NOT NULL)');
    await conn.run('CREATE TABLE spill_chunks (seq BIGINT NOT NULL, n INTEGER NOT NULL, body BLOB NOT NULL)');
    await conn.run('INSERT INTO spill_rows VALUES (0, $1, 1, 3)', ['old']);
    await conn.run('INSERT INTO spill_chunks VALUES (0, 0, $1)', [blobValue(Buffer.from('abc'))]);
    conn.closeSync();
    instance.closeSync();

    let spill = await openSpill(path, 10_000_000);
    await spill.append([{ tenant: 'new', items: 3, body: Buffer.from('defg'), keys: ['id-1', null, 'id-3'] }]);
    await spill.close();
    spill = await openSpill(path, 10_000_000);
    const rows = await spill.peek(100);
    assert.deepEqual(rows.map((r) => [r.tenant, r.keys]), [['old', undefined], ['new', ['id-1', null, 'id-3']]]);
    await spill.close();
  });
});
