// Resources and scopes, stored once per tenant instead of on every span and log row. Each is keyed
// by a 64-bit content hash of its OTLP/JSON text, so equal resources from any batch or process share
// a row; span and log rows carry only `resource_id` and `scope_id`. Measured before this table
// (1M-span bench): the per-row resource JSON (~310 B) and the resource's keys merged into each row's
// attrs_flat were a third of the strings the appender copied, and of what trace-by-id materialised.
//
// Rows are written by the batch's own transaction (a CompanionRows, like trace_ranges), only for ids
// not known to be stored yet. Two lanes (spans, logs) may write the same new resource concurrently,
// so a tenant's id may appear twice: readers group by id.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { InstrumentationScope, Resource } from '../../model/telemetry.ts';
import { keptAppender, runQuery, type Db, type KeptAppender, type Row } from './connection.ts';
import { buildChunks, createTableSql, stagedTypes, type TableSpec } from './ddl.ts';
import { decodeJson } from './json.ts';
import type { ResourceInfo, ScopeInfo } from './resources.ts';
import type { CompanionRows } from './writer.ts';
import { unavailable } from './errors.ts';

/** A 64-bit id of a resource's or scope's JSON text. */
export function partId(json: string): bigint {
  return createHash('sha256').update(json).digest().readBigInt64LE(0);
}

interface ResourceRow {
  tenant: string;
  info: ResourceInfo;
}

interface ScopeRow {
  tenant: string;
  info: ScopeInfo;
}

export const resourceTable: TableSpec<ResourceRow> = {
  name: 'resources',
  indexes: [],
  columns: [
    { name: 'tenant', type: 'VARCHAR NOT NULL', get: (r) => r.tenant },
    { name: 'id', type: 'BIGINT NOT NULL', get: (r) => r.info.id },
    { name: 'service_name', type: 'VARCHAR', get: (r) => r.info.service },
    // The resource's attributes in the attr-text form, for the semi-join of resource attribute filters.
    { name: 'attrs_flat', type: 'VARCHAR NOT NULL', get: (r) => r.info.text },
    { name: 'resource', type: 'VARCHAR NOT NULL', get: (r) => r.info.stored },
  ],
};

export const scopeTable: TableSpec<ScopeRow> = {
  name: 'scopes',
  indexes: [],
  columns: [
    { name: 'tenant', type: 'VARCHAR NOT NULL', get: (r) => r.tenant },
    { name: 'id', type: 'BIGINT NOT NULL', get: (r) => r.info.id },
    { name: 'scope', type: 'VARCHAR NOT NULL', get: (r) => r.info.stored },
  ],
};

/** What records have in common: the parts this file stores. */
export interface HasParts {
  tenant: string;
  resource: Resource;
  scope: InstrumentationScope;
}

const MAX_TEXTS = 50_000;
const MAX_COMMITTED = 200_000;
const MAX_TEXT_CHARS = 16 * 1024 * 1024;

/**
 * The process-wide registry: which (tenant, id) pairs are committed, and the JSON text of ids
 * seen, so that reading a trace seldom needs to query the parts tables at all.
 */
export interface Parts {
  /** Loads the committed ids (at open; up to the bound of the registry). */
  load(conn: DuckDBConnection): Promise<void>;
  companion(): CompanionRows<HasParts>;
  /** A decode cache for `rows` (columns tenant, resource_id, scope_id): fetches missing texts first. */
  resolve(db: Db, rows: readonly Row[]): Promise<PartDecoder>;
  /**
   * Deletes the resources and scopes no span or log refers to any more (once retention deleted
   * their records), `batchRows` per DELETE, on the PARTS_LANE; rows deleted per table.
   */
  prune(db: Db, batchRows: number): Promise<{ resources: number; scopes: number }>;
}

/** The write lane that deletes parts (its own, so ingest lanes wait for no anti-join). */
export const PARTS_LANE = 'parts';

/** The tables whose rows point at parts; each batch writes its new parts on its table's lane. */
const REFERRERS = ['spans', 'logs'] as const;
const ID_COLUMN = { resources: 'resource_id', scopes: 'scope_id' } as const;

/** True for a row `p` of a parts table that no record of its tenant refers to. */
function unreferenced(kind: 'resources' | 'scopes'): string {
  return REFERRERS.map((t) => `NOT EXISTS (SELECT 1 FROM ${t} r WHERE r.tenant = p.tenant AND r.${ID_COLUMN[kind]} = p.id)`).join(' AND ');
}

export interface PartDecoder {
  resource(tenant: string, id: bigint): Resource;
  scope(tenant: string, id: bigint): InstrumentationScope;
}

const key = (tenant: string, id: bigint) => `${tenant}\u0000${id}`;

export async function createPartTables(conn: DuckDBConnection): Promise<void> {
  for (const spec of [resourceTable, scopeTable]) for (const sql of createTableSql(spec)) await conn.run(sql);
}

export function createParts(): Parts {
  // Bounded (a sender can make every resource distinct): a part forgotten here and seen again is
  // appended again, and every read of the parts tables takes one row per id (DISTINCT, any_value).
  const committed = new LRUCache<string, true>({ max: MAX_COMMITTED });
  // A cache: an evicted text is fetched again on the next miss. Bounded by size too (a resource's
  // text can be megabytes).
  const textCache = () => new LRUCache<string, string>({ max: MAX_TEXTS, maxSize: MAX_TEXT_CHARS, sizeCalculation: (text) => Math.max(1, text.length) });
  const texts = { resources: textCache(), scopes: textCache() };

  /** Fills `into` with the texts of `wanted`: from the cache, else from the table. */
  async function fetchTexts(
    db: Db,
    kind: 'resources' | 'scopes',
    wanted: Map<string, { tenant: string; id: bigint }>,
    into: Map<string, string>,
  ): Promise<void> {
    const byTenant = new Map<string, bigint[]>();
    for (const [k, w] of wanted) {
      const cached = texts[kind].get(k);
      if (cached !== undefined) into.set(k, cached);
      else byTenant.set(w.tenant, [...(byTenant.get(w.tenant) ?? []), w.id]);
    }
    const column = kind === 'resources' ? 'resource' : 'scope';
    for (const [tenant, ids] of byTenant) {
      const list = ids.map((_, i) => `$${i + 2}`).join(', ');
      const rows = await db.query(`SELECT id, any_value(${column}) AS t FROM ${kind} WHERE tenant = $1 AND id IN (${list}) GROUP BY id`, [tenant, ...ids]);
      for (const r of rows) {
        const k = key(tenant, r.id as bigint);
        into.set(k, r.t as string);
        texts[kind].set(k, r.t as string);
      }
    }
  }

  return {
    async load(conn) {
      for (const table of ['resources', 'scopes']) {
        for (const r of await runQuery(conn, `SELECT DISTINCT tenant, id FROM ${table} LIMIT ${MAX_COMMITTED}`)) committed.set(`${table}\u0000${key(r.tenant as string, r.id as bigint)}`, true);
      }
    },

    companion() {
      const appenders = { resources: keptAppender((conn) => conn.createAppender('resources')), scopes: keptAppender((conn) => conn.createAppender('scopes')) };
      let pending: { k: string; kind: 'resources' | 'scopes'; textKey: string; text: string }[] = [];
      const types = { resources: stagedTypes(resourceTable), scopes: stagedTypes(scopeTable) };
      return {
        async append(conn, records, cache) {
          pending = [];
          const queued = new Set<string>();
          /** Queues a part neither committed nor queued yet in this batch; true when it is new. */
          const isNew = (kind: 'resources' | 'scopes', tenant: string, info: { id: bigint; stored: string }): boolean => {
            const textKey = key(tenant, info.id);
            const k = `${kind}\u0000${textKey}`;
            if (committed.has(k) || queued.has(k)) return false;
            queued.add(k);
            pending.push({ k, kind, textKey, text: info.stored });
            return true;
          };
          const newResources: ResourceRow[] = [];
          const newScopes: ScopeRow[] = [];
          // A batch's records share a few parts (equal content is one info object, resources.ts):
          // each is checked once per tenant.
          const lastTenant = new Map<object, string>();
          for (const r of records) {
            const resource = cache.resource(r.resource);
            if (lastTenant.get(resource) !== r.tenant) {
              lastTenant.set(resource, r.tenant);
              if (isNew('resources', r.tenant, resource)) newResources.push({ tenant: r.tenant, info: resource });
            }
            const scope = cache.scope(r.scope);
            if (lastTenant.get(scope) !== r.tenant) {
              lastTenant.set(scope, r.tenant);
              if (isNew('scopes', r.tenant, scope)) newScopes.push({ tenant: r.tenant, info: scope });
            }
          }
          if (newResources.length === 0 && newScopes.length === 0) return;
          const add = async <P>(spec: TableSpec<P>, kept: KeptAppender, rows: P[], t: ReturnType<typeof stagedTypes>) => {
            if (rows.length === 0) return;
            const appender = await kept.on(conn);
            for (const chunk of buildChunks(spec.columns, t, rows)) appender.appendDataChunk(chunk);
            appender.flushSync();
          };
          await add(resourceTable, appenders.resources, newResources, types.resources);
          await add(scopeTable, appenders.scopes, newScopes, types.scopes);
        },
        committed() {
          for (const p of pending) {
            committed.set(p.k, true);
            texts[p.kind].set(p.textKey, p.text);
          }
          pending = [];
        },
        reset() {
          pending = [];
          appenders.resources.drop();
          appenders.scopes.drop();
        },
      };
    },

    async resolve(db, rows) {
      const wanted = { resources: new Map<string, { tenant: string; id: bigint }>(), scopes: new Map<string, { tenant: string; id: bigint }>() };
      for (const row of rows) {
        const tenant = row.tenant as string;
        const r = row.resource_id as bigint;
        const s = row.scope_id as bigint;
        wanted.resources.set(key(tenant, r), { tenant, id: r });
        wanted.scopes.set(key(tenant, s), { tenant, id: s });
      }
      const local = { resources: new Map<string, string>(), scopes: new Map<string, string>() };
      await fetchTexts(db, 'resources', wanted.resources, local.resources);
      await fetchTexts(db, 'scopes', wanted.scopes, local.scopes);
      // Decoded once per result: records of one result share their Resource objects, as before.
      const decoded = new Map<string, unknown>();
      function get<T>(kind: 'resources' | 'scopes', tenant: string, id: bigint): T {
        const k = `${kind}\u0000${key(tenant, id)}`;
        let v = decoded.get(k);
        if (v === undefined) {
          const text = local[kind].get(key(tenant, id));
          if (text === undefined) throw unavailable(`the ${kind} table has no row ${String(id)} of tenant ${tenant} (the file is damaged)`);
          v = decodeJson<T>(text);
          decoded.set(k, v);
        }
        return v as T;
      }
      return {
        resource: (tenant, id) => get<Resource>('resources', tenant, id),
        scope: (tenant, id) => get<InstrumentationScope>('scopes', tenant, id),
      };
    },

    // A batch appends only the parts the registry does not hold, so a part must leave the registry
    // before its row goes: otherwise a batch that found it registered, committing after the DELETE's
    // snapshot, would point at a deleted row ("the file is damaged"). Hence: (1) forget every
    // unreferenced part (from then on a batch using one writes it again); (2) wait until the batches
    // already on the ingest lanes, which may have found one registered, have committed; (3) delete
    // what is still unreferenced in the DELETE's own snapshot. A row written again after (1) is
    // either visible to the DELETE with the record that uses it (so kept) or not visible (so
    // untouched). Only retention makes parts unreferenced and it runs this after its deletes, so
    // (3) finds no part that (1) did not forget.
    async prune(db, batchRows) {
      const deleted = { resources: 0, scopes: 0 };
      for (const kind of ['resources', 'scopes'] as const) {
        const orphans = await db.query(`SELECT DISTINCT tenant, id FROM ${kind} p WHERE ${unreferenced(kind)}`);
        if (orphans.length === 0) continue;
        for (const r of orphans) {
          const textKey = key(r.tenant as string, r.id as bigint);
          committed.delete(`${kind}\u0000${textKey}`);
          texts[kind].delete(textKey);
        }
        await Promise.all(REFERRERS.map((table) => db.writeLane(table).use(async () => undefined)));
        const sql = `DELETE FROM ${kind} WHERE rowid IN (SELECT rowid FROM ${kind} p WHERE ${unreferenced(kind)} LIMIT ${batchRows})`;
        for (;;) {
          const [row] = await db.writeLane(PARTS_LANE).use((conn) => runQuery(conn, sql));
          const n = Number(row?.Count ?? 0);
          deleted[kind] += n;
          if (n < batchRows) break;
        }
      }
      return deleted;
    },
  };
}
