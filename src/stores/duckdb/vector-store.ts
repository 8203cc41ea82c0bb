// The search VectorStore in DuckDB, beside the spans and logs: texts and vectors once per content
// hash, one small row per searchable document. Writes go through the store's `search` write lane
// (one connection, one statement at a time); reads through the shared read lanes.
//
// Vectors are FLOAT[dim] arrays, one table per dimension (`search_vectors_<dim>`), because an array
// column has a fixed size and a model change may change it. Exact ranking uses DuckDB's own
// array_cosine_similarity, so it needs no extension.
import { createHash } from 'node:crypto';
import { ARRAY, BIGINT, DuckDBDataChunk, FLOAT, VARCHAR, arrayValue, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import type { AnyValue } from '../../model/telemetry.ts';
import type { RankOptions, VectorFilter, VectorHit, VectorStore } from '../vector-types.ts';
import { runQuery, type Db, type Row, type SqlParam } from './connection.ts';
import { toStoreError } from './errors.ts';
import { storedBodyText } from './log-rows.ts';
import { params } from './filter-sql.ts';
import { uniqueLower } from './trace-store.ts';
import { traceIdsSql } from './trace-key.ts';

/**
 * md5 hex of a log's body_text as the log store keeps it (storedBodyText: cut to its limit), as
 * DuckDB's md5() computes it: how a log document finds its log row.
 */
function bodyMd5(body: AnyValue): string {
  return createHash('md5').update(storedBodyText(body, false) ?? '', 'utf8').digest('hex');
}

const DDL = [
  `CREATE TABLE IF NOT EXISTS search_texts (hash BIGINT NOT NULL, text VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS search_docs (
    tenant VARCHAR NOT NULL, kind VARCHAR NOT NULL, hash BIGINT NOT NULL,
    trace_id VARCHAR, span_id VARCHAR, time_ns BIGINT NOT NULL, service VARCHAR, telemetry_source VARCHAR,
    log_time_ns BIGINT, log_observed_ns BIGINT, log_md5 VARCHAR)`,
];
const vectorTable = (dim: number) => `search_vectors_${Math.trunc(dim)}`;
const DOC_COLUMNS: [string, DuckDBType][] = [
  ['tenant', VARCHAR],
  ['kind', VARCHAR],
  ['hash', BIGINT],
  ['trace_id', VARCHAR],
  ['span_id', VARCHAR],
  ['time_ns', BIGINT],
  ['service', VARCHAR],
  ['telemetry_source', VARCHAR],
  ['log_time_ns', BIGINT],
  ['log_observed_ns', BIGINT],
  ['log_md5', VARCHAR],
];
const CHUNK_ROWS = 2048;

const bigintList = (xs: readonly bigint[]) => (xs.length ? xs.map((x) => `${BigInt.asIntN(64, x)}`).join(',') : 'NULL');
const vectorLiteral = (v: Float32Array): string => `[${Array.from(v, (x) => (Number.isFinite(x) ? x : 0)).join(',')}]`;

function whereDocs(tenant: string, f: VectorFilter, alias = 'd'): { sql: string; params: SqlParam[] } {
  const conds = [`${alias}.tenant = ?`, `list_contains(?, ${alias}.kind)`];
  const params: SqlParam[] = [tenant, [...f.kinds]];
  if (f.service?.length) {
    conds.push(`list_contains(?, ${alias}.service)`);
    params.push([...f.service]);
  }
  if (f.telemetrySource?.length) {
    conds.push(`list_contains(?, ${alias}.telemetry_source)`);
    params.push([...f.telemetrySource]);
  }
  if (f.traceId?.length) {
    conds.push(`list_contains(?, ${alias}.trace_id)`);
    params.push([...f.traceId]);
  }
  if (f.timeRange?.from !== undefined) {
    conds.push(`${alias}.time_ns >= ?`);
    params.push(f.timeRange.from);
  }
  if (f.timeRange?.to !== undefined) {
    conds.push(`${alias}.time_ns <= ?`);
    params.push(f.timeRange.to);
  }
  return { sql: conds.join(' AND '), params };
}

/**
 * The keyword score of a text (`folded`, see scoredSql): the share of query terms it contains (0
 * without terms). The terms go through DuckDB's lower() and FOLD as the text does, so both sides
 * are lower-cased by one function (JS and DuckDB differ, e.g. on a word-final Σ).
 */
function keywordSql(terms: readonly string[]): { sql: string; params: SqlParam[] } {
  if (terms.length === 0) return { sql: '0.0', params: [] };
  return {
    sql: `((${terms.map(() => `CASE WHEN contains(folded, ${FOLD('lower(?)')}) THEN 1 ELSE 0 END`).join(' + ')}) / ${terms.length}.0)`,
    params: [...terms],
  };
}

/**
 * A lower-cased text with the word-final sigma as σ: DuckDB's lower() keeps ς, so a query typed in
 * lower case (πληρωμης) missed the same word stored in upper case (ΠΛΗΡΩΜΗΣ → πληρωμησ).
 */
const FOLD = (lowered: string) => `replace(${lowered}, 'ς', 'σ')`;

const DOC_SELECT = `d.kind, d.hash, d.trace_id, d.span_id, d.time_ns, d.service, d.tenant, d.log_time_ns, d.log_observed_ns, d.log_md5, top.text`;

/**
 * `hash, vs, ks, score, text` of every text in the CTE `candidates` (one hash column) for the query
 * `q`: the cosine with its stored vector (0 when the query vector means nothing, and then only
 * texts with a keyword match), the keyword score, their blend, and the text. One row per hash: the
 * texts table may hold a text twice (two writers raced), and a doubled row would take a place of
 * the page. Parameters: the keyword terms, the model.
 */
function scoredSql(dimensions: number, candidates: string, kw: { sql: string }, opts: RankOptions): string {
  const w = Math.min(1, Math.max(0, opts.keywordWeight));
  const vs = opts.keywordsOnly ? '0.0' : 'array_cosine_similarity(v.vector, q.qv)';
  // Each text is lower-cased and folded once (`folded`), not once per query term.
  return `SELECT hash, vs, ks, ${1 - w} * vs + ${w} * ks AS score, text FROM (
      SELECT hash, max(vs) AS vs, max(${kw.sql}) AS ks, any_value(text) AS text FROM (
        SELECT v.hash, ${vs} AS vs, t.text, ${FOLD('lower(t.text)')} AS folded
        FROM ${vectorTable(dimensions)} v CROSS JOIN q JOIN ${candidates} USING (hash) JOIN search_texts t USING (hash)
        WHERE v.model = ?)
      GROUP BY hash)${opts.keywordsOnly ? ' WHERE ks > 0' : ''}`;
}

/**
 * The ranked documents of the scored texts in the CTE `top`: up to `docLimit` documents (best
 * first, then newest), or with bestPerTrace each trace's best document only, so `limit` counts
 * traces. A trace with many documents of the same or similar text takes one place, not many.
 */
function rankedDocsSql(where: { sql: string; params: SqlParam[] }, opts: RankOptions, docLimit: number): { sql: string; params: SqlParam[] } {
  if (!opts.bestPerTrace) {
    const sql = `SELECT ${DOC_SELECT}, top.vs, top.ks, top.score
         FROM search_docs d JOIN top USING (hash)
         WHERE ${where.sql}
         ORDER BY top.score DESC, d.time_ns DESC LIMIT ?`;
    return { sql, params: [...where.params, docLimit] };
  }
  // First each trace's best score and newest document time (a hash aggregate over the candidates'
  // documents, no sort), the best `limit` traces by score, the newest first among equal scores (as
  // items are), then one document per trace with that score, the newest.
  const sql = `, per AS (
           SELECT d.trace_id, max(top.score) AS score, max(d.time_ns) AS newest
           FROM search_docs d JOIN top USING (hash)
           WHERE ${where.sql} AND d.trace_id IS NOT NULL AND d.trace_id <> ''
           GROUP BY d.trace_id ORDER BY score DESC, newest DESC, d.trace_id LIMIT ?)
         SELECT ${DOC_SELECT}, top.vs, top.ks, top.score
         FROM per JOIN search_docs d ON d.trace_id = per.trace_id JOIN top ON top.hash = d.hash AND top.score = per.score
         WHERE ${where.sql}
         QUALIFY row_number() OVER (PARTITION BY d.trace_id ORDER BY d.time_ns DESC, d.span_id) = 1
         ORDER BY top.score DESC, per.newest DESC, d.trace_id LIMIT ?`;
  return { sql, params: [...where.params, docLimit, ...where.params, docLimit] };
}

/** How far a ranking is asked again for rows when skipped documents left a page short: up to limit × this. */
const MAX_ASK_FACTOR = 64;

/**
 * Runs a ranking that returns up to `docLimit` document rows, drops repeated documents (a span or
 * log stored twice by a retried export is one item) and those `stored` leaves out, and asks again
 * for more rows when that left fewer than `limit` while more may match, so a page is rarely short
 * because of them (never past limit × MAX_ASK_FACTOR rows: a store full of such documents answers
 * a short page rather than ranking every document).
 */
async function distinctDocs(run: (docLimit: number) => Promise<Row[]>, limit: number, stored: (rows: Row[]) => Promise<Row[]>): Promise<Row[]> {
  for (let ask = limit; ; ask *= 4) {
    const rows = await run(ask);
    const kept = await stored(dedupeDocs(rows));
    if (kept.length >= limit || rows.length < ask || ask >= limit * MAX_ASK_FACTOR) return kept.slice(0, limit);
  }
}

/**
 * Which signals' records are written to this DuckDB (a pipeline with a `duckdb` exporter): only
 * their documents are checked against it (a deployment that stores spans in Jaeger alone has search
 * documents of spans DuckDB never holds, and they are hits all the same).
 */
export interface VectorStoreOptions {
  storedIn: { traces: boolean; logs: boolean };
}

export async function createDuckDbVectorStore(db: Db, opts: VectorStoreOptions = { storedIn: { traces: true, logs: true } }): Promise<VectorStore> {
  const lane = db.writeLane('search');
  const prepared = new Set<number>();
  let catalog = '';
  await lane.use(async (conn) => {
    for (const sql of DDL) await conn.run(sql);
    const [row] = await runQuery(conn, 'SELECT current_database() AS db');
    catalog = row!.db as string;
  });

  const write = <T>(fn: (conn: DuckDBConnection) => Promise<T>) =>
    lane.use(fn).catch((err: unknown) => {
      throw toStoreError(err);
    });

  /** Puts each log hit's store ID on it: one query over the hits' timestamps, matched by body hash. */
  async function withLogIds(rows: Row[]): Promise<Row[]> {
    const logs = rows.filter((r) => r.log_md5 !== null && r.log_md5 !== undefined);
    if (logs.length === 0) return rows;
    const tenant = logs[0]!.tenant as string;
    const times = [...new Set(logs.map((r) => r.log_time_ns as bigint))];
    const found = await db.query(
      `SELECT id, time_unix_ns, observed_ns, md5(coalesce(body_text, '')) AS md5 FROM logs
       WHERE tenant = ? AND time_unix_ns IN (${bigintList(times)})`,
      [tenant],
    );
    const byKey = new Map<string, bigint>();
    for (const l of found) {
      const key = `${String(l.time_unix_ns)}:${String(l.observed_ns)}:${String(l.md5)}`;
      const prev = byKey.get(key);
      if (prev === undefined || (l.id as bigint) < prev) byKey.set(key, l.id as bigint);
    }
    for (const r of logs) {
      const id = byKey.get(`${String(r.log_time_ns)}:${String(r.log_observed_ns)}:${String(r.log_md5)}`);
      r.log_id = id === undefined ? null : String(id);
    }
    return rows;
  }

  /**
   * The rows whose record is in the store, log rows with their store ID (withLogIds). The `embedding`
   * exporter writes a batch's documents on its own, often before the `duckdb` exporter commits the
   * batch: a crash between the two (kill -9) left documents of records never written, answered as
   * hits whose span or log was null (storage QA). Such a document is also one of a batch not written
   * yet, so it is skipped here, not deleted; retention removes what stays with its window. Only the
   * signals written to this DuckDB are checked (VectorStoreOptions).
   */
  async function stored(rows: Row[]): Promise<Row[]> {
    if (rows.length === 0) return rows;
    await withLogIds(rows);
    const isLog = (r: Row) => r.log_md5 !== null && r.log_md5 !== undefined;
    const spanRows = opts.storedIn.traces ? rows.filter((r) => !isLog(r)) : [];
    const traces = new Set<string>();
    if (spanRows.length > 0) {
      // A span hit is kept when its trace was written: trace_ranges (a row per trace and batch,
      // written in the batch's transaction) answers that without scanning spans, whose start times
      // across a page of hits span the whole retention window.
      const p = params([rows[0]!.tenant as string]);
      const ids = uniqueLower(spanRows.map((r) => r.trace_id as string));
      for (const r of await db.query(`SELECT DISTINCT trace_id FROM trace_ranges WHERE tenant = $1 AND ${traceIdsSql(ids, p.add)}`, p.values)) traces.add(String(r.trace_id));
    }
    return rows.filter((r) =>
      isLog(r) ? !opts.storedIn.logs || r.log_id !== null : !opts.storedIn.traces || traces.has(String(r.trace_id).toLowerCase()),
    );
  }

  function toHit(r: Row): VectorHit {
    return {
      kind: r.kind as VectorHit['kind'],
      hash: r.hash as bigint,
      score: Number(r.score),
      vectorScore: Number(r.vs),
      keywordScore: Number(r.ks),
      traceId: (r.trace_id as string | null) ?? '',
      spanId: (r.span_id as string | null) ?? '',
      logId: (r.log_id as string | null | undefined) ?? null,
      timeNs: r.time_ns as bigint,
      service: (r.service as string | null) ?? '',
      text: r.text as string,
    };
  }

  return {
    backend: 'duckdb',
    async prepare(dimensions) {
      if (!Number.isInteger(dimensions) || dimensions <= 0) throw new Error(`vector dimension must be a positive integer (actual: ${dimensions})`);
      if (prepared.has(dimensions)) return;
      await write((conn) =>
        conn.run(`CREATE TABLE IF NOT EXISTS ${vectorTable(dimensions)} (model VARCHAR NOT NULL, hash BIGINT NOT NULL, vector FLOAT[${dimensions}] NOT NULL)`),
      );
      prepared.add(dimensions);
    },

    async knownTexts(hashes) {
      if (hashes.length === 0) return new Set();
      const rows = await db.query(`SELECT DISTINCT hash FROM search_texts WHERE hash IN (SELECT unnest(?::BIGINT[]))`, [hashes.map(String)]);
      return new Set(rows.map((r) => r.hash as bigint));
    },

    async cachedVectors(model, dimensions, hashes) {
      const out = new Map<bigint, Float32Array>();
      if (hashes.length === 0 || !prepared.has(dimensions)) return out;
      const table = vectorTable(dimensions);
      const list = hashes.map(String);
      // Reading FLOAT[] values into JS is the slow part, so first ask which exist (usually none).
      const [found] = await db.query(`SELECT count(*) AS n FROM ${table} WHERE model = ? AND hash IN (SELECT unnest(?::BIGINT[]))`, [model, list]);
      if (Number(found!.n) === 0) return out;
      const rows = await db.query(`SELECT hash, vector FROM ${table} WHERE model = ? AND hash IN (SELECT unnest(?::BIGINT[]))`, [model, list]);
      for (const r of rows) out.set(r.hash as bigint, Float32Array.from(r.vector as number[]));
      return out;
    },

    async putTexts(texts) {
      if (texts.length === 0) return;
      await write((conn) =>
        runQuery(conn, `INSERT INTO search_texts SELECT unnest(?::BIGINT[]), unnest(?)`, [texts.map((t) => String(t.hash)), texts.map((t) => t.text)]),
      );
    },

    async textHashes(after, limit) {
      const rows = await db.query(
        `SELECT DISTINCT hash FROM search_texts ${after === null ? '' : `WHERE hash > ${BigInt.asIntN(64, after)}`} ORDER BY hash LIMIT ${Math.trunc(limit)}`,
      );
      return rows.map((r) => r.hash as bigint);
    },

    async textsOf(hashes) {
      const out = new Map<bigint, string>();
      if (hashes.length === 0) return out;
      const rows = await db.query(`SELECT hash, any_value(text) AS text FROM search_texts WHERE hash IN (SELECT unnest(?::BIGINT[])) GROUP BY hash`, [hashes.map(String)]);
      for (const r of rows) out.set(r.hash as bigint, r.text as string);
      return out;
    },

    async putVectors(model, dimensions, vectors) {
      if (vectors.length === 0) return;
      for (const v of vectors) {
        if (v.vector.length !== dimensions) throw new Error(`vector of ${v.vector.length} dimensions given for a ${dimensions}-dimension table`);
      }
      const types = [VARCHAR, BIGINT, ARRAY(FLOAT, dimensions)];
      await write(async (conn) => {
        const appender = await conn.createAppender(vectorTable(dimensions), 'main', catalog);
        try {
          for (let off = 0; off < vectors.length; off += CHUNK_ROWS) {
            const part = vectors.slice(off, off + CHUNK_ROWS);
            const chunk = DuckDBDataChunk.create(types, part.length);
            chunk.setColumns([part.map(() => model), part.map((v) => BigInt.asIntN(64, v.hash)), part.map((v) => arrayValue(Array.from(v.vector)))]);
            appender.appendDataChunk(chunk);
          }
          appender.flushSync();
        } finally {
          appender.closeSync();
        }
      });
    },

    async putDocs(docs) {
      if (docs.length === 0) return;
      await write(async (conn) => {
        const appender = await conn.createAppender('search_docs', 'main', catalog);
        try {
          for (let off = 0; off < docs.length; off += CHUNK_ROWS) {
            const part = docs.slice(off, off + CHUNK_ROWS);
            const chunk = DuckDBDataChunk.create(
              DOC_COLUMNS.map(([, t]) => t),
              part.length,
            );
            chunk.setColumns([
              part.map((d) => d.tenant),
              part.map((d) => d.kind),
              part.map((d) => BigInt.asIntN(64, d.hash)),
              part.map((d) => d.traceId || null),
              part.map((d) => d.spanId || null),
              part.map((d) => d.timeNs),
              part.map((d) => d.service),
              part.map((d) => d.telemetrySource),
              part.map((d) => d.log?.timeUnixNano ?? null),
              part.map((d) => d.log?.observedTimeUnixNano ?? null),
              part.map((d) => (d.log ? bodyMd5(d.log.body) : null)),
            ]);
            appender.appendDataChunk(chunk);
          }
          appender.flushSync();
        } finally {
          appender.closeSync();
        }
      });
    },

    async scanVectors(model, dimensions, onPage, pageSize = 50_000) {
      if (!prepared.has(dimensions)) return 0;
      let total = 0;
      let after: bigint | null = null;
      // Keyset pages by hash keep each read bounded however many vectors there are.
      for (;;) {
        const rows: Row[] = await db.query(
          `SELECT hash, vector FROM ${vectorTable(dimensions)} WHERE model = ? ${after === null ? '' : `AND hash > ${after}`} ORDER BY hash LIMIT ${pageSize}`,
          [model],
        );
        if (rows.length === 0) break;
        const vectors = new Float32Array(rows.length * dimensions);
        rows.forEach((r, i) => vectors.set(r.vector as number[], i * dimensions));
        onPage(
          rows.map((r) => r.hash as bigint),
          vectors,
        );
        total += rows.length;
        after = rows[rows.length - 1]!.hash as bigint;
        if (rows.length < pageSize) break;
      }
      return total;
    },

    async countCandidates(tenant, filter) {
      const where = whereDocs(tenant, filter);
      const [row] = await db.query(`SELECT count(DISTINCT hash) AS n FROM search_docs d WHERE ${where.sql}`, where.params);
      return Number(row!.n);
    },

    async rankExact(tenant, model, dimensions, query, filter, opts) {
      if (!prepared.has(dimensions)) return [];
      const where = whereDocs(tenant, filter);
      const kw = keywordSql(opts.terms);
      // Rank distinct texts first (cheap: one score per hash), then expand the best to documents.
      // Per trace every candidate text is expanded: a trace's best text may rank low overall.
      // At most `docLimit` texts (`limit`, more when asked again), each with one or more documents the filter left: enough
      // for `limit` distinct documents however many rows repeat.
      const top = opts.bestPerTrace ? scoredSql(dimensions, 'c', kw, opts) : `${scoredSql(dimensions, 'c', kw, opts)} ORDER BY score DESC LIMIT ?`;
      const rows = await distinctDocs((docLimit) => {
        const docs = rankedDocsSql(where, opts, docLimit);
        return db.query(
          `WITH c AS (SELECT DISTINCT hash FROM search_docs d WHERE ${where.sql}),
           q AS (SELECT CAST(? AS FLOAT[${dimensions}]) AS qv),
           top AS (${top})
           ${docs.sql}`,
          [...where.params, vectorLiteral(query), ...kw.params, model, ...(opts.bestPerTrace ? [] : [docLimit]), ...docs.params],
        );
      }, opts.limit, stored);
      return rows.map(toHit);
    },

    async rankHashes(tenant, model, dimensions, query, hashes, filter, opts) {
      if (hashes.length === 0 || !prepared.has(dimensions)) return [];
      const where = whereDocs(tenant, filter);
      const kw = keywordSql(opts.terms);
      const rows = await distinctDocs((docLimit) => {
        const docs = rankedDocsSql(where, opts, docLimit);
        return db.query(
          `WITH a AS (SELECT DISTINCT unnest(?::BIGINT[]) AS hash),
           q AS (SELECT CAST(? AS FLOAT[${dimensions}]) AS qv),
           top AS (${scoredSql(dimensions, 'a', kw, opts)})
           ${docs.sql}`,
          [hashes.map(String), vectorLiteral(query), ...kw.params, model, ...docs.params],
        );
      }, opts.limit, stored);
      return rows.map(toHit);
    },

    async hashesOf(tenant, ref) {
      let rows: Row[];
      if (ref.logId !== undefined) {
        if (!/^\d{1,19}$/.test(ref.logId)) return [];
        rows = await db.query(
          `SELECT DISTINCT d.hash FROM logs l JOIN search_docs d
             ON d.tenant = l.tenant AND d.log_time_ns = l.time_unix_ns AND d.log_observed_ns = l.observed_ns AND d.log_md5 = md5(coalesce(l.body_text, ''))
           WHERE l.tenant = ? AND l.id = ${ref.logId} AND d.kind = 'log'`,
          [tenant],
        );
      } else if (ref.spanId !== undefined) {
        rows = await db.query(`SELECT DISTINCT hash FROM search_docs WHERE tenant = ? AND span_id = ? AND kind <> 'log'`, [tenant, ref.spanId]);
      } else if (ref.traceId !== undefined) {
        rows = await db.query(`SELECT DISTINCT hash FROM search_docs WHERE tenant = ? AND trace_id = ? AND kind = 'span'`, [tenant, ref.traceId]);
      } else rows = [];
      return rows.map((r) => r.hash as bigint);
    },

    async docCount() {
      const [row] = await db.query('SELECT count(*) AS n FROM search_docs');
      return Number(row!.n);
    },

    async deleteDocsBefore(signal, cutoffNs, batchRows) {
      const del = async (cond: string, n: number) => {
        const [row] = await write((conn) =>
          runQuery(conn, `DELETE FROM search_docs WHERE rowid IN (SELECT rowid FROM search_docs x WHERE ${cond} LIMIT ${Math.trunc(n)})`, [cutoffNs]),
        );
        return Number(row?.Count ?? 0);
      };
      // A log's documents (its own and its exception's) carry the log's key and its time.
      if (signal === 'logs') return del('time_ns < $1 AND log_md5 IS NOT NULL', batchRows);
      // Spans are retained by their start, the time of their span document; an exception's document
      // has the event's time, which may come long after. So first the exception documents of spans
      // past the cutoff (found by their span document, hence before it goes), then by time.
      const exceptions = await del(
        `x.kind = 'exception' AND x.log_md5 IS NULL AND x.time_ns >= $1 AND EXISTS (
           SELECT 1 FROM search_docs s WHERE s.kind = 'span' AND s.time_ns < $1 AND s.tenant = x.tenant AND s.trace_id = x.trace_id AND s.span_id = x.span_id)`,
        batchRows,
      );
      if (exceptions >= batchRows) return exceptions;
      return exceptions + (await del('time_ns < $1 AND log_md5 IS NULL', batchRows - exceptions));
    },

    async pruneUnreferenced(batchRows, onPruned) {
      const pruned = { texts: 0, vectors: 0 };
      // Every model's vector table in the file, not only this process's dimensions.
      const tables = (await db.query(`SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'`, [catalog]))
        .map((r) => r.table_name as string)
        .filter((name) => /^search_vectors_\d+$/.test(name));
      for (const [table, counter] of [['search_texts', 'texts'], ...tables.map((t) => [t, 'vectors'])] as [string, 'texts' | 'vectors'][]) {
        const sql = `DELETE FROM ${table} WHERE rowid IN (
            SELECT rowid FROM ${table} x WHERE NOT EXISTS (SELECT 1 FROM search_docs d WHERE d.hash = x.hash) LIMIT ${Math.trunc(batchRows)})
          RETURNING hash`;
        for (;;) {
          const rows = await write((conn) => runQuery(conn, sql));
          pruned[counter] += rows.length;
          if (rows.length > 0) onPruned(rows.map((r) => r.hash as bigint));
          if (rows.length < batchRows) break;
        }
      }
      return pruned;
    },
  };
}

/**
 * One row per document: a span or log written twice (a retried export) has two equal document rows.
 * The key is everything that tells documents apart, a log's body hash and observed time included,
 * so distinct logs of one span, time and template text stay distinct.
 */
function dedupeDocs(rows: Row[]): Row[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const key = [r.kind, r.hash, r.trace_id, r.span_id, r.time_ns, r.log_time_ns, r.log_observed_ns, r.log_md5].map(String).join(':');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
