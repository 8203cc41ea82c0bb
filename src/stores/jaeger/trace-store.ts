// TraceStore over Jaeger's query service, api_v3 over HTTP (GET /api/v3/...). Answers have the same
// shape as the DuckDB store's for the same data: spans come from the OTLP codec, summaries are
// computed as DuckDB computes them, and every filter is applied in full by the gateway's matcher
// (Jaeger evaluates a superset; see search-plan.ts). FindTraces speaks both generations of api_v3's
// parameter names: camelCase first, and snake_case from the first refusal that shows this Jaeger
// reads only those (v2.18 and older) for the rest of the store's life.
import type { DependencyLink, DependencyStore } from '../dependencies.ts';
import { sortLinks } from '../dependencies.ts';
import type { SpanRecord } from '../../model/telemetry.ts';
import type { Logger } from '../../logger.ts';
import { compileSpanFilter } from '../filter-match.ts';
import { StoreError, type Page, type PageRequest, type QueryNotes, type SpanRef, type TelemetryFilter, type TimeRange, type TraceStore, type TraceSummary } from '../types.ts';
import { QueryAbortedError } from '../query-signal.ts';
import { createJaegerClient, EXPECTED_REFUSAL } from './client.ts';
import { BACKEND, badQuery, internal } from './errors.ts';
import { cursorKey, pageOf } from './paging.ts';
import { DEFAULT_WINDOW_NS, findTracesQuery, planSearch, searchWindow, SNAKE_CASE_ONLY_REFUSAL, type ParameterNames, type SearchPlan } from './search-plan.ts';
import { lookupSpans } from './span-lookup.ts';
import { compareSummaries, summarizeTrace } from './summary.ts';
import { goDuration, rfc3339Nano, spanKindFromJaeger, spansOfResult } from './wire.ts';
import { traceSpansInOrder } from '../span-order.ts';
import { pageOrder, pageSize } from '../page-cursor.ts';

export interface JaegerTraceStoreOptions {
  /** The query service's HTTP address, e.g. `http://jaeger:16686` (a path prefix is kept; `user:pass@` becomes Basic auth). */
  baseUrl: string;
  /** The store's own component logger. */
  logger: Logger;
  /** Per request, including reading the body. Default 10 s. */
  timeoutMs?: number;
  /** Sent with every request, e.g. `{ authorization: 'Bearer …' }`. */
  headers?: Record<string, string>;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** The header Jaeger's multi-tenancy reads the tenant from. Default `x-tenant`. */
  tenantHeader?: string;
  /** Send the tenant header for the `default` tenant too. Default false (a Jaeger without tenancy gets no header). */
  alwaysSendTenant?: boolean;
  /** Trace lookups in flight at once. Default 8. */
  concurrency?: number;
  /** The most traces one search asks Jaeger for when the gateway must post-filter. Default 1000. */
  maxSearchDepth?: number;
  /** How many times more traces than wanted a post-filtered search asks for. Default 5. */
  postFilterDepthFactor?: number;
  /** A larger answer fails (INTERNAL) rather than filling memory. Default 256 MiB. */
  maxResponseBytes?: number;
  /**
   * How far back a span lookup (a top-level `spanId` without `traceId`, e.g. `correlate(spanId)`)
   * searches when the filter has no time range. Default 7 days (the gateway passes
   * `storage.jaeger.spanLookup.lookbackMs`).
   */
  spanLookbackNs?: bigint;
  /**
   * The most FindTraces requests one span lookup makes (each asks for `maxSearchDepth` traces).
   * Default 8 (the gateway passes `storage.jaeger.spanLookup.maxRequests`).
   */
  spanLookupRequests?: number;
  /** The clock for the default search window (tests). */
  now?: () => bigint;
}

const MAX_TRACES = 10_000;
const DAY_NS = 86_400_000_000_000n;
const TRACE_ID = /^[0-9a-f]{32}$/;
const lower = (id: string) => String(id).toLowerCase();

/** Runs `fn` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}


/** How many of the traces (with a matching span), or of their spans, match. */
function matched(traces: Map<string, SpanRecord[]>, matches: (s: SpanRecord) => boolean, unit: 'traces' | 'spans'): number {
  let n = 0;
  for (const spans of traces.values()) n += unit === 'traces' ? (spans.some(matches) ? 1 : 0) : spans.filter(matches).length;
  return n;
}

function withNotes<T extends object>(value: T, notes: string[]): T & QueryNotes {
  return notes.length > 0 ? Object.assign(value, { notes }) : value;
}


interface Candidates {
  /** Every span of each trace Jaeger returned, by trace ID. */
  traces: Map<string, SpanRecord[]>;
  notes: string[];
  /** Set when one FindTraces returned as many traces as it asked for (`depth`): older ones may exist. */
  full?: { depth: number; noted: boolean };
}

/**
 * The latest span start of the trace whose latest span start is the earliest: a bound on the start
 * of any trace a full FindTraces left out. Jaeger picks a search's traces by their latest (matching)
 * span start, newest first (the Elasticsearch/OpenSearch reader's max aggregation over startTime),
 * and a trace starts no later than its latest span, so a trace it left out started at or before this.
 */
function leftOutStartBound(traces: Map<string, SpanRecord[]>): bigint | undefined {
  let bound: bigint | undefined;
  for (const spans of traces.values()) {
    let latest: bigint | undefined;
    for (const s of spans) if (latest === undefined || s.startTimeUnixNano > latest) latest = s.startTimeUnixNano;
    if (latest !== undefined && (bound === undefined || latest < bound)) bound = latest;
  }
  return bound;
}

export function createJaegerTraceStore(opts: JaegerTraceStoreOptions): TraceStore & DependencyStore {
  const log = opts.logger;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const client = createJaegerClient({
    baseUrl: opts.baseUrl,
    logger: log,
    timeoutMs,
    headers: opts.headers ?? {},
    fetch: opts.fetch ?? globalThis.fetch,
    tenantHeader: opts.tenantHeader ?? 'x-tenant',
    alwaysSendTenant: opts.alwaysSendTenant ?? false,
    maxResponseBytes: opts.maxResponseBytes ?? 256 * 1024 * 1024,
  });
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  const maxSearchDepth = Math.max(1, opts.maxSearchDepth ?? 1000);
  const depthFactor = Math.max(1, opts.postFilterDepthFactor ?? 5);
  const now = opts.now ?? (() => BigInt(Date.now()) * 1_000_000n);
  const spanLookback = opts.spanLookbackNs !== undefined && opts.spanLookbackNs > 0n ? opts.spanLookbackNs : 7n * DAY_NS;
  const spanLookupRequests = Math.max(1, opts.spanLookupRequests ?? 8);
  // camelCase until this Jaeger shows it reads only the snake_case names; then snake_case for good
  // (a Jaeger is not downgraded under a running gateway, and one refused request per store is the
  // whole cost of the detection).
  let names: ParameterNames = 'camelCase';

  /**
   * Any error that is not already a StoreError is this store's bug: INTERNAL (logged), never a raw
   * error. A read its request's abort ended (QueryAbortedError) is no bug and passes through.
   */
  async function guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StoreError || err instanceof QueryAbortedError) throw err;
      log.error({ err }, 'the jaeger store failed unexpectedly');
      throw internal('the jaeger store failed unexpectedly', err);
    }
  }

  /**
   * One FindTraces: every span of each trace returned, grouped by trace ID (Jaeger merges them into
   * one list). A camelCase request that a v2.18-or-older Jaeger refuses for want of its snake_case
   * start times is sent again once with snake_case names, which every later search then uses.
   */
  async function findTraces(tenant: string, plan: SearchPlan, window: Required<TimeRange>, depth: number): Promise<Map<string, SpanRecord[]>> {
    const find = (n: ParameterNames) =>
      client.getJson('FindTraces', '/api/v3/traces', findTracesQuery(plan, window, depth, n), tenant, {
        notFound: 'empty',
        ...(n === 'camelCase' && { expectedRefusal: SNAKE_CASE_ONLY_REFUSAL }),
      });
    let body = await find(names);
    if (body === EXPECTED_REFUSAL) {
      if (names === 'camelCase') {
        names = 'snake_case';
        log.warn(
          'this jaeger reads only the snake_case api_v3 parameter names (jaeger v2.18 or older): searches use them from now on, and attribute conditions are applied by the gateway alone (those releases do not read query.attributes)',
        );
      }
      body = await find('snake_case');
    }
    const traces = new Map<string, SpanRecord[]>();
    for (const s of body === null ? [] : spansOfResult(body, tenant, log)) {
      const list = traces.get(s.traceId);
      if (list) list.push(s);
      else traces.set(s.traceId, [s]);
    }
    return traces;
  }

  /** GetTrace: the trace's spans in start order, [] when Jaeger has none ("No traces found"). */
  async function fetchTrace(tenant: string, id: string): Promise<SpanRecord[]> {
    const body = await client.getJson('GetTrace', `/api/v3/traces/${id}`, [], tenant, { notFound: 'empty' });
    if (body === null) return [];
    return traceSpansInOrder(spansOfResult(body, tenant, log).filter((s) => s.traceId === id));
  }

  /** One GetTrace per distinct well-formed ID; an ID that is not 32 hex digits matches nothing, as in DuckDB. */
  async function fetchTraces(tenant: string, ids: readonly string[]): Promise<Map<string, SpanRecord[]>> {
    const unique = [...new Set(ids.map(lower))].filter((id) => TRACE_ID.test(id));
    const lists = await mapLimit(unique, concurrency, (id) => fetchTrace(tenant, id));
    return new Map(unique.map((id, i) => [id, lists[i]!]));
  }

  /**
   * The traces a search must look at. A top-level traceId list is looked up by ID (complete, and
   * with no default time window, as the GraphQL layer does for known IDs); a top-level spanId list
   * is searched for window by window (spanLookup); anything else is one FindTraces with what Jaeger
   * can evaluate. `want` is how many traces or spans the caller needs; a span lookup stops once it
   * found `lookupWant` matching spans (default: only once it found every span ID). `unit` says
   * whether `want` counts traces or spans.
   */
  async function candidates(
    tenant: string,
    filter: TelemetryFilter,
    want: number,
    matches: (s: SpanRecord) => boolean,
    {
      cursor,
      lookupWant = Number.POSITIVE_INFINITY,
      unit = 'traces',
    }: { cursor?: { start: bigint; order: 'NEWEST_FIRST' | 'OLDEST_FIRST' } | undefined; lookupWant?: number; unit?: 'traces' | 'spans' } = {},
  ): Promise<Candidates> {
    if (Array.isArray(filter.traceId) && filter.traceId.length > 0) {
      return { traces: await fetchTraces(tenant, filter.traceId), notes: [] };
    }
    const empty: Candidates = { traces: new Map(), notes: [] };
    const plan = planSearch(filter);
    if (plan.durationMin !== undefined && plan.durationMax !== undefined && plan.durationMin > plan.durationMax) return empty;
    if (Array.isArray(filter.spanId) && filter.spanId.length > 0) return spanLookup(tenant, filter, plan, lookupWant, matches, cursor);
    const window = searchWindow(filter.timeRange, now(), cursor);
    if (!window) return empty;
    // Pushed-down attribute conditions are looser in Jaeger than in the gateway (search-plan.ts), so
    // they are post-filtered too: Jaeger may return traces the gateway then drops, and a depth of
    // exactly `want` would leave the real matches behind them unfetched. A trace search asks for the
    // same larger depth: Jaeger picks traces by their latest span start, but traces are ordered by
    // their start, so a long trace with a late span would take the place of one that started later
    // (see leftOutStartBound). Spans are ordered by their own start, which Jaeger's pick keeps.
    const looseAttributes = plan.attributes !== undefined;
    const postFiltered = plan.residual.length > 0 || looseAttributes;
    const depth = postFiltered || unit === 'traces' ? Math.max(want, Math.min(want * depthFactor, maxSearchDepth)) : want;
    const traces = await findTraces(tenant, plan, window, depth);
    const notes: string[] = [];
    const full = traces.size >= depth;
    const mayBeMissing = `, which is the search depth asked for (${depth}), so older matches may be missing`;
    // Read after the request: it may have found that this Jaeger does not read attributes at all.
    const residual = looseAttributes && names === 'snake_case' ? [...plan.residual, 'attributes (jaeger before v2.19 does not read them)'] : plan.residual;
    if (residual.length > 0) {
      notes.push(`jaeger cannot evaluate ${residual.join(', ')}; the gateway applied the filter to the ${traces.size} traces jaeger returned` + (full ? mayBeMissing : ''));
    } else if (looseAttributes && full && matched(traces, matches, unit) < want) {
      // Only when the answer may be short: a full answer whose matches fill the request is complete
      // up to the search depth as an exact one is, and an answer that is not full holds every trace
      // Jaeger's looser match found in the window.
      notes.push(
        `jaeger matches attribute conditions more loosely than the gateway (also on span events, and on resource attributes the span overrides); ` +
          `the gateway applied them to the ${traces.size} traces jaeger returned${mayBeMissing}`,
      );
    }
    if (cursor === undefined ? false : cursor.order === 'OLDEST_FIRST' && full) {
      notes.push(`jaeger returns the most recent traces first, so an oldest-first page covers only the ${depth} most recent traces of the time range`);
    }
    return { traces, notes, ...(full && { full: { depth, noted: notes.length > 0 } }) };
  }

  /**
   * Spans by ID (span-lookup.ts): FindTraces windows walked back from the end of the filter's range,
   * or of the last `spanLookback` when it has none (the GraphQL layer sets no default range for a
   * top-level spanId: a known ID should be found however old). A note says what was searched
   * when a wanted span was not found.
   */
  async function spanLookup(
    tenant: string,
    filter: TelemetryFilter,
    plan: SearchPlan,
    want: number,
    matches: (s: SpanRecord) => boolean,
    cursor?: { start: bigint; order: 'NEWEST_FIRST' | 'OLDEST_FIRST' },
  ): Promise<Candidates> {
    const range = searchWindow(filter.timeRange, now(), cursor, spanLookback);
    if (!range) return { traces: new Map(), notes: [] };
    const defaulted = filter.timeRange?.from == null;
    const result = await lookupSpans({
      range,
      wanted: new Set((filter.spanId ?? []).map(lower)),
      matches,
      want,
      depth: maxSearchDepth,
      maxRequests: spanLookupRequests,
      firstWindowNs: DEFAULT_WINDOW_NS,
      find: (window, depth) => findTraces(tenant, plan, window, depth),
    });
    if (result.missing.length === 0 || result.satisfied) return { traces: result.traces, notes: [] };
    const shown = result.missing.length <= 3 ? result.missing.join(', ') : `${result.missing.slice(0, 3).join(', ')} and ${result.missing.length - 3} more`;
    let note =
      `jaeger cannot look up a span by its ID, so the gateway searched the traces that started from ${rfc3339Nano(result.searchedFrom)} ` +
      `to ${rfc3339Nano(range.to)} (${result.requests} FindTraces requests of up to ${maxSearchDepth} traces each) ` +
      `and found no matching span ${shown} there`;
    if (result.exhausted) note += `; it stops after ${spanLookupRequests} requests, so the older part of the range was not searched`;
    if (defaulted) {
      const lookback = spanLookback % DAY_NS === 0n ? `${spanLookback / DAY_NS} days` : goDuration(spanLookback);
      note += `; without a from time a span lookup covers the last ${lookback}`;
    }
    return { traces: result.traces, notes: [note] };
  }

  return {
    backend: BACKEND,

    getTraces: (tenant, traceIds) =>
      guard(async () => {
        if (traceIds.length === 0) return [];
        const byId = await fetchTraces(tenant, traceIds);
        // Key order, one list per key (DataLoader contract); repeated keys share the list's spans.
        return traceIds.map((id) => [...(byId.get(lower(id)) ?? [])]);
      }),

    getSpans: (tenant, refs) =>
      guard(async () => {
        if (refs.length === 0) return [];
        const byId = await fetchTraces(tenant, refs.map((r) => r.traceId));
        const byKey = new Map<string, SpanRecord>();
        for (const [traceId, spans] of byId) for (const s of spans) byKey.set(`${traceId}/${s.spanId}`, s);
        return refs.map((r: SpanRef) => byKey.get(`${lower(r.traceId)}/${lower(r.spanId)}`) ?? null);
      }),

    searchTraces: (tenant, filter, limit) =>
      guard(async () => {
        if (!Number.isInteger(limit) || limit < 0 || limit > MAX_TRACES) {
          throw badQuery(`limit must be an integer from 0 to ${MAX_TRACES} (actual: ${String(limit)})`);
        }
        const matches = compileSpanFilter(filter, BACKEND);
        if (limit === 0) return [];
        const { traces, notes, full } = await candidates(tenant, filter ?? {}, limit, matches);
        const summaries: TraceSummary[] = [];
        // A trace matches when one of its spans does; its summary covers all of its spans.
        for (const [traceId, spans] of traces) if (spans.some(matches)) summaries.push(summarizeTrace(traceId, spans));
        const first = summaries.sort(compareSummaries).slice(0, limit);
        // From a full answer, the traces that started after every trace Jaeger left out are exactly
        // DuckDB's first ones; say so when the answer reaches down to that bound.
        const bound = full && !full.noted ? leftOutStartBound(traces) : undefined;
        if (full && bound !== undefined && (first.length < limit || first.at(-1)!.startTimeUnixNano <= bound)) {
          notes.push(
            `jaeger picks a search's traces by their latest span start, not by their start, and returned the ${full.depth} traces asked for (the search depth), ` +
              `so traces that started at or before ${rfc3339Nano(bound)} may be missing from this answer`,
          );
        }
        return withNotes(first, notes);
      }),

    searchSpans: (tenant: string, filter: TelemetryFilter, page: PageRequest): Promise<Page<SpanRecord> & QueryNotes> =>
      guard(async () => {
        const first = pageSize(page, BACKEND);
        const matches = compileSpanFilter(filter, BACKEND);
        const after = cursorKey(page);
        const cursor = after && { start: after.start, order: pageOrder(page) };
        // first + 1 spans settle a newest-first page, as a span lookup walks newest first; an
        // oldest-first lookup goes on until it found every span ID.
        const lookupWant = pageOrder(page) === 'NEWEST_FIRST' ? first + 1 : Number.POSITIVE_INFINITY;
        const { traces, notes } = await candidates(tenant, filter ?? {}, first + 1, matches, { cursor, lookupWant, unit: 'spans' });
        const spans: SpanRecord[] = [];
        for (const list of traces.values()) for (const s of list) if (matches(s)) spans.push(s);
        return withNotes(pageOf(spans, page, first), notes);
      }),

    /**
     * GET /api/dependencies (the classic API: api_v3 has no dependencies). Jaeger takes the end and
     * the lookback in milliseconds and answers `{"data":[{parent, child, callCount}…]}`.
     */
    dependencies: (tenant, range, service) =>
      guard(async () => {
        const endMs = range.to / 1_000_000n;
        const lookbackMs = (range.to - range.from) / 1_000_000n;
        if (lookbackMs <= 0n) return [];
        const query: [string, string][] = [['endTs', String(endMs)], ['lookback', String(lookbackMs)]];
        if (service) query.push(['service', service]);
        const body = await client.getJson('GetDependencies', '/api/dependencies', query, tenant);
        const data = (body as { data?: unknown } | null)?.data;
        if (data == null) return [];
        if (!Array.isArray(data)) throw internal('jaeger answered /api/dependencies with something other than a list');
        const links = new Map<string, DependencyLink>();
        for (const d of data) {
          const { parent, child, callCount } = (d ?? {}) as { parent?: unknown; child?: unknown; callCount?: unknown };
          if (typeof parent !== 'string' || typeof child !== 'string' || typeof callCount !== 'number') {
            throw internal('jaeger answered /api/dependencies with a link without parent, child and callCount');
          }
          // Jaeger may list a pair once per source (e.g. jaeger and otel): add them up.
          const key = `${parent}\0${child}`;
          const known = links.get(key);
          if (known) known.callCount += callCount;
          else links.set(key, { parent, child, callCount });
        }
        return sortLinks([...links.values()]);
      }),

    /** GET /api/v3/services. Jaeger lists services without a time range, so `range` is not applied. */
    services: (tenant) =>
      guard(async () => {
        const body = await client.getJson('GetServices', '/api/v3/services', [], tenant);
        const services = (body as { services?: unknown } | null)?.services;
        if (services === undefined) return []; // jsonpb writes an empty list as {}
        if (!Array.isArray(services) || !services.every((s) => typeof s === 'string')) {
          throw internal('jaeger answered /api/v3/services with something other than a list of names');
        }
        return [...new Set(services)].sort();
      }),

    /** GET /api/v3/operations?service=…, sorted by name then kind. `range` is not applied (Jaeger has none). */
    operations: (tenant, service) =>
      guard(async () => {
        if (typeof service !== 'string' || service === '') return [];
        const body = await client.getJson('GetOperations', '/api/v3/operations', [['service', service]], tenant);
        const operations = (body as { operations?: unknown } | null)?.operations;
        if (operations === undefined) return [];
        if (!Array.isArray(operations)) throw internal('jaeger answered /api/v3/operations with something other than a list');
        const seen = new Map<string, { name: string; kind: ReturnType<typeof spanKindFromJaeger> }>();
        for (const op of operations) {
          const name = (op as { name?: unknown })?.name;
          if (typeof name !== 'string') throw internal('jaeger answered /api/v3/operations with an operation without a name');
          const kind = spanKindFromJaeger((op as { spanKind?: unknown }).spanKind);
          seen.set(`${kind}/${name}`, { name, kind });
        }
        return [...seen.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind - b.kind));
      }),
  };
}
