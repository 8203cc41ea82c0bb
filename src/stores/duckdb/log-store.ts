// LogStore over the logs table.
import type { LogStore, SpanRef, StoredLogRecord } from '../types.ts';
import type { Db, Row } from './connection.ts';
import { BACKEND, badQuery } from './errors.ts';
import { params, readFilterSql } from './filter-sql.ts';
import { decodeLog, LOG_RECORD_COLUMNS } from './log-rows.ts';
import { pageSize } from '../page-cursor.ts';
import { keysetSql, toPage, type Keyset } from './paging.ts';
import type { PartDecoder, Parts } from './parts.ts';
import { filterRangeSql, RANGED, rangedByTraceIdSql, uniqueLower } from './trace-store.ts';

const LOG_KEYSET: Keyset = { columns: ['time_ns', 'id'], bigint: [true, true] };
const MAX_PER_KEY = 10_000;

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_PER_KEY) {
    throw badQuery(`the limit per key must be an integer from 0 to ${MAX_PER_KEY} (actual: ${String(limit)})`);
  }
}

/** A log ID as the store issues them (a positive integer), or null for anything else. */
function logId(id: string): bigint | null {
  return /^\d{1,18}$/.test(String(id)) ? BigInt(id) : null;
}

/** Decodes rows and groups them by `key(row)`, keeping row order within a group. */
function groupRows(rows: Row[], cache: PartDecoder, key: (row: Row) => string): Map<string, StoredLogRecord[]> {
  const groups = new Map<string, StoredLogRecord[]>();
  for (const row of rows) {
    const k = key(row);
    const list = groups.get(k);
    const log = decodeLog(row, cache);
    if (list) list.push(log);
    else groups.set(k, [log]);
  }
  return groups;
}

export function createLogStore(db: Db, parts: Parts): LogStore {
  return {
    backend: BACKEND,

    async searchLogs(tenant, filter, page) {
      const first = pageSize(page, BACKEND);
      const p = params([tenant]);
      const where = await readFilterSql(db, tenant, 'logs', filter, p);
      const range = filterRangeSql(RANGED.logs, filter, p);
      const { after, orderBy } = keysetSql(LOG_KEYSET, page, p);
      const rows = await db.query(
        `SELECT ${LOG_RECORD_COLUMNS} FROM logs${range.from} WHERE tenant = $1 AND ${range.where} AND ${where} AND ${after}
         ORDER BY ${orderBy} LIMIT ${p.add(first + 1)}`,
        p.values,
      );
      const cache = await parts.resolve(db, rows);
      return toPage(rows, first, LOG_KEYSET, page, (row) => decodeLog(row, cache));
    },

    // Per key, the earliest logs first (a span's or trace's logs read as a timeline).
    async logsForSpans(tenant, refs, limitPerSpan) {
      checkLimit(limitPerSpan);
      if (refs.length === 0 || limitPerSpan === 0) return refs.map(() => []);
      const p = params([tenant]);
      const hits = rangedByTraceIdSql(RANGED.logs, LOG_RECORD_COLUMNS, uniqueLower(refs.map((r) => r.traceId)), p);
      const spanIds = uniqueLower(refs.map((r) => r.spanId)).map((id) => p.add(id));
      const rows = await db.query(
        `${hits} AND span_id IN (${spanIds.join(', ')})
         QUALIFY row_number() OVER (PARTITION BY trace_id, span_id ORDER BY time_ns, id) <= ${p.add(limitPerSpan)}
         ORDER BY time_ns, id`,
        p.values,
      );
      const groups = groupRows(rows, await parts.resolve(db, rows), (row) => `${row.trace_id as string}/${row.span_id as string}`);
      const key = (r: SpanRef) => `${r.traceId.toLowerCase()}/${r.spanId.toLowerCase()}`;
      return refs.map((r) => groups.get(key(r)) ?? []);
    },

    async logsForTraces(tenant, traceIds, limitPerTrace) {
      checkLimit(limitPerTrace);
      if (traceIds.length === 0 || limitPerTrace === 0) return traceIds.map(() => []);
      const p = params([tenant]);
      const rows = await db.query(
        `${rangedByTraceIdSql(RANGED.logs, LOG_RECORD_COLUMNS, uniqueLower(traceIds), p)}
         QUALIFY row_number() OVER (PARTITION BY trace_id ORDER BY time_ns, id) <= ${p.add(limitPerTrace)}
         ORDER BY time_ns, id`,
        p.values,
      );
      const groups = groupRows(rows, await parts.resolve(db, rows), (row) => row.trace_id as string);
      return traceIds.map((id) => groups.get(String(id).toLowerCase()) ?? []);
    },

    async getLogs(tenant, ids) {
      const wanted = [...new Set(ids.map(logId).filter((id) => id !== null))];
      if (wanted.length === 0) return ids.map(() => null);
      const p = params([tenant]);
      const list = wanted.map((id) => p.add(id)).join(', ');
      const rows = await db.query(`SELECT ${LOG_RECORD_COLUMNS} FROM logs WHERE tenant = $1 AND id IN (${list})`, p.values);
      const cache = await parts.resolve(db, rows);
      const byId = new Map(rows.map((row) => [row.id as bigint, decodeLog(row, cache)]));
      return ids.map((id) => byId.get(logId(id) ?? -1n) ?? null);
    },
  };
}
