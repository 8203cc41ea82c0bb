// Per-request DataLoaders. Each batch function makes one store call per distinct limit and
// returns exactly one value per key, in key order, as DataLoader requires.
import DataLoader from 'dataloader';
import type { SpanRecord } from '../src/model/telemetry.ts';
import type { SpanPart, SpanRef, StoredLogRecord } from '../src/stores/types.ts';
import type { CorrelationStores, LogWindowKey, RedKey, RedSeries } from '../src/stores/correlation-types.ts';
import { GatewayError } from '../src/errors.ts';
import { callStore } from './call-store.ts';
import type { Stores } from './context.ts';

export interface LimitedKey<K> {
  key: K;
  limit: number;
}

export interface Loaders {
  /** Every span of a trace, sorted by start time; `[]` for an unknown trace. */
  trace: DataLoader<string, SpanRecord[]>;
  /**
   * The same with only some optional parts of each span read (SpanPart): partial spans, so they
   * prime no other loader, and are cached only under their own parts.
   */
  traceParts: DataLoader<TracePartsKey, SpanRecord[], string>;
  span: DataLoader<SpanRef, SpanRecord | null, string>;
  spanLogs: DataLoader<LimitedKey<SpanRef>, StoredLogRecord[], string>;
  traceLogs: DataLoader<LimitedKey<string>, StoredLogRecord[], string>;
  /** Log by store ID; null when unknown. */
  log: DataLoader<string, StoredLogRecord | null>;
  /** Correlation: RED series per service and window, logs around a span. */
  red: DataLoader<RedKey, RedSeries, string>;
  logsAround: DataLoader<LimitedKey<LogWindowKey>, StoredLogRecord[], string>;
}

/** The correlation store, or the error every correlated field gives when none is configured. */
export function correlationStores(stores: Stores): CorrelationStores {
  if (!stores.correlation) throw new GatewayError('GW_BACKEND_UNAVAILABLE', 'no correlation store is configured (RED, service graph, exception groups)');
  return stores.correlation;
}

const refKey = (r: SpanRef): string => `${r.traceId}:${r.spanId}`;

function checkOnePerKey<T>(call: string, keys: number, got: readonly T[]): readonly T[] {
  if (!Array.isArray(got) || got.length !== keys) {
    throw new Error(
      `${call} must return an array of the same length as its keys, one result per key in key order: ` +
        `it was given ${keys} keys and returned ${Array.isArray(got) ? got.length : typeof got}`,
    );
  }
  return got;
}

/**
 * Groups keys by `groupOf`, fetches each group with one call (its keys in key order) and puts the
 * results back in key order.
 */
async function byGroup<K, V>(
  keys: readonly K[],
  groupOf: (key: K) => string | number,
  call: string,
  fetch: (group: K[]) => Promise<readonly V[]>,
): Promise<V[]> {
  const groups = new Map<string | number, number[]>();
  keys.forEach((k, i) => {
    const id = groupOf(k);
    const group = groups.get(id);
    if (group) group.push(i);
    else groups.set(id, [i]);
  });
  const out = new Array<V>(keys.length);
  await Promise.all(
    [...groups.values()].map(async (indexes) => {
      const got = checkOnePerKey(call, indexes.length, await fetch(indexes.map((i) => keys[i]!)));
      indexes.forEach((keyIndex, j) => {
        out[keyIndex] = got[j]!;
      });
    }),
  );
  return out;
}

/** byGroup by limit: each group's keys fetched with their shared limit. */
function byLimit<K, V>(
  keys: readonly LimitedKey<K>[],
  call: string,
  fetch: (group: K[], limit: number) => Promise<readonly V[]>,
): Promise<V[]> {
  return byGroup(keys, (k) => k.limit, call, (group) => fetch(group.map((k) => k.key), group[0]!.limit));
}

export interface TracePartsKey {
  traceId: string;
  parts: ReadonlySet<SpanPart>;
}

const partsKey = (parts: ReadonlySet<SpanPart>): string => [...parts].sort().join(',');

export function createLoaders(tenant: string, stores: Stores): Loaders {
  const span = new DataLoader<SpanRef, SpanRecord | null, string>(
    async (refs) => checkOnePerKey('TraceStore.getSpans', refs.length, await callStore(() => stores.traces.getSpans(tenant, refs))),
    { cacheKeyFn: refKey },
  );
  const trace = new DataLoader<string, SpanRecord[]>(async (traceIds) => {
    const traces = checkOnePerKey('TraceStore.getTraces', traceIds.length, await callStore(() => stores.traces.getTraces(tenant, traceIds)));
    return traces.map((spans) => {
      // A loaded trace answers later span lookups too (parent, links, log → span).
      for (const s of spans) span.prime({ traceId: s.traceId, spanId: s.spanId }, s);
      return spans;
    });
  });
  const traceParts = new DataLoader<TracePartsKey, SpanRecord[], string>(
    async (keys) => {
      const traces = await byGroup(keys, (k) => partsKey(k.parts), 'TraceStore.getTraces', (group) =>
        callStore(() => stores.traces.getTraces(tenant, group.map((k) => k.traceId), group[0]!.parts)),
      );
      return traces;
    },
    { cacheKeyFn: (k) => `${partsKey(k.parts)}:${k.traceId}` },
  );
  const spanLogs = new DataLoader<LimitedKey<SpanRef>, StoredLogRecord[], string>(
    (keys) => byLimit(keys, 'LogStore.logsForSpans', (refs, limit) => callStore(() => stores.logs.logsForSpans(tenant, refs, limit))),
    { cacheKeyFn: (k) => `${refKey(k.key)}:${k.limit}` },
  );
  const traceLogs = new DataLoader<LimitedKey<string>, StoredLogRecord[], string>(
    (keys) => byLimit(keys, 'LogStore.logsForTraces', (ids, limit) => callStore(() => stores.logs.logsForTraces(tenant, ids, limit))),
    { cacheKeyFn: (k) => `${k.key}:${k.limit}` },
  );
  const log = new DataLoader<string, StoredLogRecord | null>(async (ids) =>
    checkOnePerKey('LogStore.getLogs', ids.length, await callStore(() => stores.logs.getLogs(tenant, ids))),
  );
  const red = new DataLoader<RedKey, RedSeries, string>(
    async (keys) => {
      const store = correlationStores(stores).red;
      return checkOnePerKey('RedMetricsStore.redSeries', keys.length, await callStore(() => store.redSeries(tenant, keys)));
    },
    { cacheKeyFn: (k) => `${k.service}\u0000${k.range.from}:${k.range.to}:${k.stepNano}` },
  );
  const logsAround = new DataLoader<LimitedKey<LogWindowKey>, StoredLogRecord[], string>(
    (keys) =>
      byLimit(keys, 'LogWindowStore.logsAround', (windows, limit) => {
        const store = correlationStores(stores).logWindows;
        if (!store) throw new GatewayError('GW_BACKEND_UNAVAILABLE', 'logs around a span need the logs read from DuckDB');
        return callStore(() => store.logsAround(tenant, windows, limit));
      }),
    { cacheKeyFn: (k) => `${k.key.traceId}:${k.key.service}\u0000${k.key.range.from}:${k.key.range.to}:${k.limit}` },
  );
  return { trace, traceParts, span, spanLogs, traceLogs, log, red, logsAround };
}
