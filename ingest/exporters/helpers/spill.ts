// The persistent part of an exporter's queue: batches waiting for a backend that is down, kept in
// their own DuckDB file (one per exporter instance) so they survive a gateway restart. A row is one
// tenant's part of a batch as an OTLP protobuf request (src/otlp/encode.ts), so nothing of the
// model is lost. Rows are ordered by `seq`: the exporter reads the oldest first, appends new ones at
// the tail and puts a batch it must retry back at the head (seq below the lowest).
//
// Bounded by bytes: past `maxBytes` the oldest rows (never one being sent) are deleted and their
// items counted as dropped. Every operation runs on one connection, one after another.
//
// A row's body is kept in pieces of at most CHUNK_BYTES (table `spill_chunks`): DuckDB 1.5.5 keeps
// the blocks of long strings and blobs pinned until it closes, and a spill of whole batches (one
// blob of up to megabytes each) invalidated its database after ~100 MB (docs/known-gaps.md).
//
// A row may also keep per-item keys a sender asked to have back on a resend (the Elasticsearch
// exporter's document IDs) beside the body, as a list of short strings (one JSON text of a whole
// batch's keys would be the long string the pieces above avoid): OTLP has no field for them.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BIGINT, DuckDBInstance, INTEGER, LIST, VARCHAR, blobValue, listValue, type DuckDBConnection } from '@duckdb/node-api';

export interface SpillPart {
  tenant: string;
  items: number;
  body: Uint8Array;
  /** One key per item, in the order the body's items decode (null: that item has none); absent when no item has one. */
  keys?: readonly (string | null)[];
}

export interface SpilledRow extends SpillPart {
  seq: bigint;
}

export interface Spill {
  /** Adds parts after everything stored; returns the number of items dropped to stay under the bound. */
  append(parts: readonly SpillPart[]): Promise<number>;
  /** Adds parts before everything stored (a batch to retry first). Returns items dropped. */
  prepend(parts: readonly SpillPart[]): Promise<number>;
  /**
   * The oldest rows, up to `maxItems` items and `maxBytes` of bodies (at least one row when any is
   * stored): what is read is decoded at once.
   */
  peek(maxItems: number, maxBytes?: number): Promise<SpilledRow[]>;
  remove(seqs: readonly bigint[]): Promise<void>;
  /** Rows being sent right now: the size bound never drops them. */
  readonly inFlight: Set<bigint>;
  /** Items and bytes stored. */
  size(): { rows: number; items: number; bytes: number };
  close(): Promise<void>;
}

const TABLE = 'spill_rows';
const CHUNKS = 'spill_chunks';
/** The largest piece of a body stored in one blob (DuckDB keeps pieces this small within its memory limit). */
export const CHUNK_BYTES = 16_000;
/** Pieces per INSERT statement. */
const CHUNKS_PER_INSERT = 64;
/**
 * Pieces per SELECT (4 MB): a body is read back in slices, because reading a batch of tens of MB in
 * one sorted statement ran out of the 128 MB memory limit, and the spill could never be resumed.
 */
const CHUNKS_PER_SELECT = 256;

export async function openSpill(path: string, maxBytes: number): Promise<Spill> {
  await mkdir(dirname(path), { recursive: true });
  // Small: the spill is a queue, not an analytics database. Its rows are deleted soon after they are
  // written, and a checkpoint writes out the rows deleted since the last one: at DuckDB's default
  // threshold (16 MB of WAL) the file held up to two such generations (16–33 MB) for a backlog of
  // 1 MB; at 4 MB it stays near 9 MB, for ~16 % more CPU per MB spilled (long-run QA, session 33).
  const instance = await DuckDBInstance.create(path, { threads: '1', memory_limit: '128MB', checkpoint_threshold: '4MB' });
  const conn: DuckDBConnection = await instance.connect();
  await conn.run(`CREATE TABLE IF NOT EXISTS ${TABLE} (seq BIGINT NOT NULL, tenant VARCHAR NOT NULL, items INTEGER NOT NULL, bytes INTEGER NOT NULL, keys VARCHAR[])`);
  // A file written before rows had keys.
  await conn.run(`ALTER TABLE ${TABLE} ADD COLUMN IF NOT EXISTS keys VARCHAR[]`);
  await conn.run(`CREATE TABLE IF NOT EXISTS ${CHUNKS} (seq BIGINT NOT NULL, n INTEGER NOT NULL, body BLOB NOT NULL)`);
  await migrateWholeBodies(conn);
  const totals = (await conn.runAndReadAll(`SELECT count(*)::INTEGER, coalesce(sum(items), 0)::BIGINT, coalesce(sum(bytes), 0)::BIGINT, min(seq), max(seq) FROM ${TABLE}`)).getRows()[0]!;
  let rows = Number(totals[0]);
  let items = Number(totals[1]);
  let bytes = Number(totals[2]);
  let minSeq = totals[3] == null ? 0n : BigInt(totals[3] as bigint);
  let maxSeq = totals[4] == null ? -1n : BigInt(totals[4] as bigint);
  const inFlight = new Set<bigint>();
  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;

  // One operation at a time on the one connection, in call order.
  function serial<T>(op: () => Promise<T>): Promise<T> {
    const next = chain.then(() => {
      if (closed) throw new Error('spill is closed');
      return op();
    });
    chain = next.catch(() => {});
    return next;
  }

  async function insert(parts: readonly SpillPart[], seqs: bigint[]): Promise<void> {
    await conn.run('BEGIN TRANSACTION');
    try {
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        const keys = p.keys ? listValue(p.keys) : null;
        await conn.run(`INSERT INTO ${TABLE} (seq, tenant, items, bytes, keys) VALUES ($1, $2, $3, $4, $5)`, [seqs[i]!, p.tenant, p.items, partBytes(p), keys], [
          BIGINT,
          VARCHAR,
          INTEGER,
          INTEGER,
          LIST(VARCHAR),
        ]);
        await insertChunks(conn, seqs[i]!, p.body);
      }
      await conn.run('COMMIT');
    } catch (err) {
      await conn.run('ROLLBACK').catch(() => {});
      throw err;
    }
    for (const p of parts) {
      rows++;
      items += p.items;
      bytes += partBytes(p);
    }
  }

  /** Deletes rows with their pieces; their (items, bytes). */
  async function deleteRows(seqs: readonly bigint[]): Promise<unknown[][]> {
    const list = seqs.join(',');
    const gone = (await conn.runAndReadAll(`DELETE FROM ${TABLE} WHERE seq IN (${list}) RETURNING items, bytes`)).getRows();
    await conn.run(`DELETE FROM ${CHUNKS} WHERE seq IN (${list})`);
    return gone;
  }

  /** Deletes the oldest rows not in flight until the bytes fit; returns the items deleted. */
  async function enforceBound(): Promise<number> {
    if (bytes <= maxBytes) return 0;
    const candidates = (await conn.runAndReadAll(`SELECT seq, items, bytes FROM ${TABLE} ORDER BY seq`)).getRows();
    const victims: bigint[] = [];
    let dropped = 0;
    for (const [seq, n, b] of candidates) {
      if (bytes <= maxBytes) break;
      const s = BigInt(seq as bigint);
      if (inFlight.has(s)) continue;
      victims.push(s);
      dropped += Number(n);
      bytes -= Number(b);
      items -= Number(n);
      rows--;
    }
    if (victims.length > 0) await deleteRows(victims);
    return dropped;
  }

  return {
    inFlight,
    append(parts) {
      return serial(async () => {
        if (parts.length === 0) return 0;
        if (rows === 0) minSeq = maxSeq + 1n;
        const seqs = parts.map(() => ++maxSeq);
        await insert(parts, seqs);
        return enforceBound();
      });
    },
    prepend(parts) {
      return serial(async () => {
        if (parts.length === 0) return 0;
        if (rows === 0) maxSeq = minSeq + BigInt(parts.length) - 1n;
        const first = rows === 0 ? minSeq : minSeq - BigInt(parts.length);
        const seqs = parts.map((_, i) => first + BigInt(i));
        minSeq = first;
        await insert(parts, seqs);
        return enforceBound();
      });
    },
    peek(maxItems, maxBytes = Number.MAX_SAFE_INTEGER) {
      return serial(async () => {
        if (rows === 0) return [];
        // Enough rows for maxItems and maxBytes, judged by running sums, but always the first one.
        const result = await conn.runAndReadAll(
          `SELECT seq, tenant, items, keys FROM (SELECT *, sum(items) OVER (ORDER BY seq) - items AS before, sum(bytes) OVER (ORDER BY seq) AS through_bytes FROM ${TABLE}) ` +
            `WHERE (before < $1 AND through_bytes <= $2) OR before = 0 ORDER BY seq`,
          [maxItems, BigInt(maxBytes)],
          [INTEGER, BIGINT],
        );
        const rowsRead = result.getRowObjectsJS().map((r) => ({
          seq: BigInt(r.seq as bigint),
          tenant: String(r.tenant),
          items: Number(r.items),
          ...(Array.isArray(r.keys) && { keys: r.keys as (string | null)[] }),
        }));
        const out: SpilledRow[] = [];
        for (const r of rowsRead) out.push({ ...r, body: await readBody(conn, r.seq) });
        return out;
      });
    },
    remove(seqs) {
      return serial(async () => {
        if (seqs.length === 0) return;
        for (const [n, b] of await deleteRows(seqs)) {
          rows--;
          items -= Number(n);
          bytes -= Number(b);
        }
        if (rows > 0 && seqs.includes(minSeq)) {
          const m = (await conn.runAndReadAll(`SELECT min(seq) FROM ${TABLE}`)).getRows()[0]![0];
          minSeq = BigInt(m as bigint);
        }
      });
    },
    size: () => ({ rows, items, bytes }),
    async close() {
      await serial(async () => {
        await conn.run('CHECKPOINT');
      }).catch(() => {});
      closed = true;
      conn.closeSync();
      instance.closeSync();
    },
  };
}

/** What a part weighs against maxBytes: its body and its keys. */
function partBytes(p: SpillPart): number {
  return p.body.length + (p.keys?.reduce((sum, key) => sum + (key?.length ?? 0), 0) ?? 0);
}

/** A row's body from its pieces, CHUNKS_PER_SELECT at a time. */
async function readBody(conn: DuckDBConnection, seq: bigint): Promise<Buffer> {
  const pieces: Uint8Array[] = [];
  for (let first = 0; ; first += CHUNKS_PER_SELECT) {
    const slice = await conn.runAndReadAll(`SELECT body FROM ${CHUNKS} WHERE seq = $1 AND n >= $2 AND n < $3 ORDER BY n`, [seq, first, first + CHUNKS_PER_SELECT]);
    const rows = slice.getRowObjectsJS();
    for (const { body } of rows) pieces.push(body as Uint8Array);
    if (rows.length < CHUNKS_PER_SELECT) return Buffer.concat(pieces);
  }
}

/** Stores `body` as pieces of at most CHUNK_BYTES, numbered from 0. */
async function insertChunks(conn: DuckDBConnection, seq: bigint, body: Uint8Array): Promise<void> {
  const count = Math.max(1, Math.ceil(body.length / CHUNK_BYTES));
  for (let first = 0; first < count; first += CHUNKS_PER_INSERT) {
    const last = Math.min(count, first + CHUNKS_PER_INSERT);
    const values: string[] = [];
    const params: (bigint | number | ReturnType<typeof blobValue>)[] = [];
    for (let n = first; n < last; n++) {
      values.push(`($${params.length + 1}, $${params.length + 2}, $${params.length + 3})`);
      params.push(seq, n, blobValue(body.subarray(n * CHUNK_BYTES, (n + 1) * CHUNK_BYTES)));
    }
    await conn.run(`INSERT INTO ${CHUNKS} VALUES ${values.join(', ')}`, params);
  }
}

/** A spill file written before bodies were chunked (table `spill`, one blob per row): its rows move over, oldest first. */
async function migrateWholeBodies(conn: DuckDBConnection): Promise<void> {
  const old = await conn.runAndReadAll(`SELECT count(*)::INTEGER FROM duckdb_tables() WHERE table_name = 'spill'`);
  if (Number(old.getRows()[0]![0]) === 0) return;
  const seqs = (await conn.runAndReadAll('SELECT seq FROM spill ORDER BY seq')).getRows().map((r) => BigInt(r[0] as bigint));
  for (const seq of seqs) {
    const [row] = (await conn.runAndReadAll('SELECT seq, tenant, items, bytes, body FROM spill WHERE seq = $1', [seq])).getRowObjectsJS();
    await conn.run('BEGIN TRANSACTION');
    await conn.run(`INSERT INTO ${TABLE} (seq, tenant, items, bytes) VALUES ($1, $2, $3, $4)`, [seq, String(row!.tenant), Number(row!.items), Number(row!.bytes)]);
    await insertChunks(conn, seq, row!.body as Uint8Array);
    await conn.run('DELETE FROM spill WHERE seq = $1', [seq]);
    await conn.run('COMMIT');
  }
  await conn.run('DROP TABLE spill');
}
