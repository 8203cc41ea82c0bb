// LogStore over Elasticsearch: the log documents of documents.ts in the indices or data streams that
// `index` names (default `logs-teleql-*`). Every query filters on `teleql.tenant`.
//
// Paging (searchLogs): sorted by `@timestamp` (ns, returned as formatted strings so values above 2^53
// survive) then `teleql.id`, read with `search_after` inside a point in time (PIT), so pages past
// 10,000 work and a paged walk sees one snapshot. A cursor's key (page-cursor.ts) is the hit's sort values;
// the last item's cursor of a page that has more also carries the newest `pit_id`, which the next page
// uses. The PIT is closed when a page is the last one. When a cursor's PIT has expired, the next page
// opens a new one and goes on from the same sort values (the sort is total without the PIT's tiebreak).
//
// Per-key reads (logsForSpans, logsForTraces) are one search per batch of keys that `collapse`s on
// `span_id` / `trace_id` with inner hits (the earliest `limit` logs of each key), grouped back in key order.
//
// Every read carries its request's abort signal (query-signal.ts): the deadline or the client going
// away aborts the call in flight, and no further call (a page's second PIT open, the next batch of
// keys) starts after it. Outside a request (alert rules, graphql-ws tails' replays) there is none.
import type { Client, estypes } from '@elastic/elasticsearch';
import type { Logger } from 'pino';
import { encodePageCursor, pageCursorKey, pageOrder, pageSize, type PageOrder } from '../page-cursor.ts';
import type { LogStore, Page, SpanRef, StoredLogRecord } from '../types.ts';
import { abortedOr, QueryAbortedError, signalForCall, untilQueryAborted } from '../query-signal.ts';
import { createClient, type ElasticsearchConnectionOptions } from './client.ts';
import { documentToLog } from './documents.ts';
import { badQuery, BACKEND, checkWholeAnswer, describeError, isIndexNotFound, isPitGone, toStoreError, type EsCall } from './errors.ts';
import { F, filterQuery, logSort, tenantQuery, type Query } from './query.ts';

export const DEFAULT_LOG_INDEX = 'logs-teleql-*';
const MAX_PER_KEY = 10_000;
/** ES's default index.max_result_window: `size` above it is refused. */
const MAX_RESULT_WINDOW = 10_000;
/** Keys per collapse search; a DataLoader batch is normally far below this. */
const KEYS_PER_SEARCH = 1_000;
/** Traces one span-logs search asks for, each its own clause (two queries): well under Elasticsearch's clause limit (1,024 at least). */
const TRACES_PER_SEARCH = 200;
const MAX_ID_BYTES = 512;

export interface ElasticsearchLogStoreOptions extends ElasticsearchConnectionOptions {
  /** Data stream, index or pattern to search; default `logs-teleql-*`. */
  index?: string;
  logger: Logger;
  /** How long a point in time stays open between two pages; default `2m`. */
  pitKeepAlive?: string;
}

export interface ElasticsearchLogStore extends LogStore {
  close(): Promise<void>;
}

interface Cursor {
  /** The hit's sort values (strings; numbers written as their decimal text). */
  v: (string | null)[];
  /** The point in time to continue in. */
  p?: string;
}

function encodeCursor(order: PageOrder, values: readonly unknown[] | undefined, pit: string | undefined): string {
  const c: Cursor = { v: (values ?? []).map((x) => (x === null || x === undefined ? null : String(x))) };
  if (pit) c.p = pit;
  return encodePageCursor(order, c);
}

// A page's sort values as logSort writes them: the time (strict_date_optional_time_nanos, or epoch
// nanoseconds as decimal text), the document ID, and the `_shard_doc` tiebreaker Elasticsearch adds
// inside a point in time. Anything else in a cursor was not written here: refused before it is sent,
// as Elasticsearch would fail a search_after it cannot parse with a 400 that names no cursor.
const SORT_TIME = /^(?:-?\d{1,20}|\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?)$/;
const SHARD_DOC = /^-?\d{1,20}$/;

function parseCursor(c: unknown): Cursor | undefined {
  if (c === null || typeof c !== 'object') return undefined;
  const { v, p } = c as { v?: unknown; p?: unknown };
  if (!Array.isArray(v) || v.length === 0 || v.length > 3) return undefined;
  if (!v.every((x) => x === null || (typeof x === 'string' && Buffer.byteLength(x) <= MAX_ID_BYTES))) return undefined;
  const [time, , shardDoc] = v as (string | null)[];
  if (time === null || time === undefined || !SORT_TIME.test(time)) return undefined;
  if (v.length === 3 && (shardDoc === null || !SHARD_DOC.test(shardDoc!))) return undefined;
  if (p !== undefined && (typeof p !== 'string' || p.length === 0 || p.length > 65_536)) return undefined;
  return p === undefined ? { v: v as (string | null)[] } : { v: v as (string | null)[], p };
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_PER_KEY) {
    throw badQuery(`the limit per key must be an integer from 0 to ${MAX_PER_KEY} (actual: ${String(limit)})`);
  }
}

const uniqueLower = (values: readonly string[]) => [...new Set(values.map((v) => String(v).toLowerCase()))];

function chunks<T>(values: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}

const EMPTY_PAGE: Page<StoredLogRecord> = { items: [], hasNextPage: false, endCursor: null };

type Hit = estypes.SearchHit<unknown>;

export function createElasticsearchLogStore(opts: ElasticsearchLogStoreOptions): ElasticsearchLogStore {
  const client: Client = createClient(opts, 1);
  const index = opts.index ?? DEFAULT_LOG_INDEX;
  const keepAlive = opts.pitKeepAlive ?? '2m';
  const logger: Logger = opts.logger;
  const decode = (hit: Hit, tenant: string) => documentToLog(hit._source, String(hit._id ?? ''), tenant);

  /**
   * Runs a read with its request's signal, if any (QueryAbortedError instead of starting it after the
   * request was aborted), and ends it at the abort: the transport sees an abort only until the answer's
   * headers arrive; after that it takes one for a connection fault and waits out a retry backoff (1–2 s)
   * before giving up, holding the request's answer that long.
   */
  function readCall<T>(run: (options: { signal?: AbortSignal }) => Promise<T>): Promise<T> {
    const signal = signalForCall();
    return untilQueryAborted(run(signal ? { signal } : {}));
  }

  /**
   * The StoreError for a failed call; the whole story (node, status, Elasticsearch's reason) goes to
   * the log only. A call its request's abort ended is no backend failure: QueryAbortedError, unlogged.
   */
  function fail(err: unknown, call: EsCall): Error {
    const aborted = abortedOr(err);
    if (aborted instanceof QueryAbortedError) return aborted;
    const mapped = toStoreError(err, call);
    logger[mapped.code === 'BAD_QUERY' ? 'debug' : 'warn']({ call: call.what, code: mapped.code, err: mapped.message, detail: describeError(err, opts.node) }, 'elasticsearch request failed');
    return mapped;
  }

  /** A new point in time over `index`; null when the index does not exist. */
  async function openPit(): Promise<string | null> {
    try {
      return (await readCall((o) => client.openPointInTime({ index, keep_alive: keepAlive }, o))).id;
    } catch (err) {
      if (isIndexNotFound(err)) return null;
      throw err;
    }
  }

  /**
   * Frees a point in time; a failure only costs the server memory until keep_alive ends. Sent without
   * the request's signal: it is cleanup, also after an abort (when nothing waits for it).
   */
  async function closePit(id: string): Promise<void> {
    try {
      await client.closePointInTime({ id });
    } catch (err) {
      logger.debug({ err: String(err) }, 'closing an elasticsearch point in time failed; it expires on its own');
    }
  }

  /** One search for the earliest `limit` logs of each key: collapse on `field`, inner hits per key. */
  async function collapsed(tenant: string, conditions: Query[], field: string, limit: number, keys: number): Promise<Hit[]> {
    try {
      const res = await readCall((o) => client.search<unknown>({
        index,
        query: tenantQuery(tenant, ...conditions),
        collapse: { field, inner_hits: { name: 'logs', size: limit, sort: logSort('asc'), _source: true } },
        sort: logSort('asc'),
        size: keys,
        _source: false,
        track_total_hits: false,
      }, o));
      checkWholeAnswer(res);
      return res.hits.hits.flatMap((group) => (group.inner_hits?.logs?.hits.hits ?? []) as Hit[]);
    } catch (err) {
      if (isIndexNotFound(err)) return [];
      throw fail(err, { what: `the logs of ${field === F.spanId ? 'spans' : 'traces'}` });
    }
  }

  return {
    backend: BACKEND,

    async searchLogs(tenant, filter, page) {
      const first = pageSize(page, BACKEND);
      const pageIn = pageOrder(page);
      const order = pageIn === 'NEWEST_FIRST' ? 'desc' : 'asc';
      const query = tenantQuery(tenant, filterQuery(filter));
      const cursor = pageCursorKey(page, BACKEND, parseCursor);
      // first + 1 tells whether there is more, unless that passes the result window.
      const size = Math.min(first + 1, MAX_RESULT_WINDOW);
      const search = (pitId: string) =>
        readCall((o) => client.search<unknown>({
          pit: { id: pitId, keep_alive: keepAlive },
          query,
          sort: logSort(order),
          size,
          track_total_hits: false,
          ...(cursor && { search_after: cursor.v }),
        }, o));

      let pit: string | null | undefined = cursor?.p;
      let opened = false;
      try {
        if (!pit) {
          pit = await openPit();
          opened = true;
          if (pit === null) return EMPTY_PAGE;
        }
        let res: estypes.SearchResponse<unknown>;
        try {
          res = await search(pit);
        } catch (err) {
          if (opened || !isPitGone(err)) throw err;
          // The cursor's point in time has expired: go on from its sort values in a new one.
          pit = await openPit();
          opened = true;
          if (pit === null) return EMPTY_PAGE;
          res = await search(pit);
        }
        pit = res.pit_id ?? pit;
        checkWholeAnswer(res);
        const hits = res.hits.hits;
        const more = size > first ? hits.length > first : hits.length === size && size > 0;
        const shown = hits.slice(0, first);
        const keep = more && shown.length > 0;
        const items = shown.map((hit, i) => ({
          node: decode(hit, tenant),
          cursor: encodeCursor(pageIn, hit.sort, keep && i === shown.length - 1 ? pit! : undefined),
        }));
        if (!keep) await closePit(pit);
        return { items, hasNextPage: more, endCursor: items.at(-1)?.cursor ?? null };
      } catch (err) {
        const aborted = abortedOr(err) instanceof QueryAbortedError;
        if (opened && pit) {
          const closing = closePit(pit);
          // An aborted request's answer is due now: its PIT is closed without waiting for that.
          if (!aborted) await closing;
        }
        if (!aborted && isIndexNotFound(err)) return EMPTY_PAGE;
        throw fail(err, { what: 'the log search', userFilter: true });
      }
    },

    // Per key, the earliest logs first (a span's or trace's logs read as a timeline), as in DuckDB.
    async logsForSpans(tenant, refs, limitPerSpan) {
      checkLimit(limitPerSpan);
      if (refs.length === 0 || limitPerSpan === 0) return refs.map(() => []);
      const key = (traceId: string, spanId: string) => `${traceId.toLowerCase()}/${spanId.toLowerCase()}`;
      // The search collapses on span ID, so a group must hold one (trace, span)'s logs only:
      // - the filter asks for each trace's own spans (not every span ID in every trace: another
      //   trace of the batch holding a span of that ID would fill the group with its logs);
      // - a span ID asked for under several traces (test data, instrumentation that numbers its
      //   spans) is read trace by trace, since one search would give it one group for all of them.
      const spansOf = new Map<string, string[]>(); // trace → its span IDs whose ID no other asked trace shares
      const sharedOf = new Map<string, string[]>(); // trace → its span IDs that another asked trace shares
      const tracesOfSpan = new Map<string, Set<string>>();
      for (const r of refs) {
        const traces = tracesOfSpan.get(r.spanId.toLowerCase()) ?? new Set<string>();
        tracesOfSpan.set(r.spanId.toLowerCase(), traces.add(r.traceId.toLowerCase()));
      }
      for (const [spanId, traces] of tracesOfSpan) {
        for (const traceId of traces) {
          const into = traces.size === 1 ? spansOf : sharedOf;
          into.set(traceId, [...(into.get(traceId) ?? []), spanId]);
        }
      }
      const searches: [string, string[]][][] = [];
      let current: [string, string[]][] = [];
      let keys = 0;
      for (const entry of spansOf) {
        if (current.length > 0 && (keys + entry[1].length > KEYS_PER_SEARCH || current.length === TRACES_PER_SEARCH)) {
          searches.push(current);
          [current, keys] = [[], 0];
        }
        current.push(entry);
        keys += entry[1].length;
      }
      if (current.length > 0) searches.push(current);
      for (const [traceId, ids] of sharedOf) for (const spanIds of chunks(ids, KEYS_PER_SEARCH)) searches.push([[traceId, spanIds]]);

      const pairsOf = ([traceId, spanIds]: [string, string[]]): Query[] => [{ terms: { [F.traceId]: [traceId] } }, { terms: { [F.spanId]: spanIds } }];
      const groups = new Map<string, StoredLogRecord[]>();
      for (const search of searches) {
        const conditions: Query[] = search.length === 1 ? pairsOf(search[0]!) : [{ bool: { should: search.map((e) => ({ bool: { filter: pairsOf(e) } })), minimum_should_match: 1 } }];
        const spanCount = search.reduce((n, [, ids]) => n + ids.length, 0);
        for (const hit of await collapsed(tenant, conditions, F.spanId, limitPerSpan, spanCount)) {
          const log = decode(hit, tenant);
          const k = key(log.traceId, log.spanId);
          const list = groups.get(k);
          if (!list) groups.set(k, [log]);
          else if (list.length < limitPerSpan) list.push(log);
        }
      }
      return refs.map((r: SpanRef) => groups.get(key(r.traceId, r.spanId)) ?? []);
    },

    async logsForTraces(tenant, traceIds, limitPerTrace) {
      checkLimit(limitPerTrace);
      if (traceIds.length === 0 || limitPerTrace === 0) return traceIds.map(() => []);
      const groups = new Map<string, StoredLogRecord[]>();
      for (const ids of chunks(uniqueLower(traceIds), KEYS_PER_SEARCH)) {
        for (const hit of await collapsed(tenant, [{ terms: { [F.traceId]: ids } }], F.traceId, limitPerTrace, ids.length)) {
          const log = decode(hit, tenant);
          const k = log.traceId.toLowerCase();
          const list = groups.get(k);
          if (!list) groups.set(k, [log]);
          else list.push(log);
        }
      }
      return traceIds.map((id) => groups.get(String(id).toLowerCase()) ?? []);
    },

    async getLogs(tenant, ids) {
      const valid = (id: unknown): id is string => typeof id === 'string' && id !== '' && Buffer.byteLength(id) <= MAX_ID_BYTES;
      const wanted = [...new Set(ids.filter(valid))];
      const byId = new Map<string, StoredLogRecord>();
      for (const chunk of chunks(wanted, MAX_RESULT_WINDOW)) {
        try {
          const res = await readCall((o) => client.search<unknown>({
            index,
            query: tenantQuery(tenant, { ids: { values: chunk } }),
            size: chunk.length,
            track_total_hits: false,
          }, o));
          checkWholeAnswer(res);
          for (const hit of res.hits.hits) {
            const id = String(hit._id ?? '');
            if (!byId.has(id)) byId.set(id, decode(hit, tenant));
          }
        } catch (err) {
          if (isIndexNotFound(err)) break;
          throw fail(err, { what: 'the log lookup by ID' });
        }
      }
      return ids.map((id) => (valid(id) ? (byId.get(id) ?? null) : null));
    },

    async close() {
      await client.close();
    },
  };
}
