// Lookups for building filters and Grafana variables. Without from/to they cover all stored data.
import type { SpanKind } from '../src/model/telemetry.ts';
import type { AttributeSignal, QueryNotes } from '../src/stores/types.ts';
import { MAX_PAGE, limitArg, optionalRange } from './args.ts';
import { BACKEND as EMBEDDED } from '../src/stores/duckdb/errors.ts';
import { callStore, callStoreNoting } from './call-store.ts';
import type { GraphQLContext } from './context.ts';

interface RangeArgs {
  from?: bigint | null;
  to?: bigint | null;
}

export function services(ctx: GraphQLContext, args: RangeArgs): Promise<string[]> {
  const range = optionalRange(args.from, args.to);
  return callStore(() => ctx.stores.traces.services(ctx.tenant, range));
}

export function operations(ctx: GraphQLContext, args: RangeArgs & { service: string }): Promise<{ name: string; kind: SpanKind }[]> {
  const range = optionalRange(args.from, args.to);
  return callStore(() => ctx.stores.traces.operations(ctx.tenant, args.service, range));
}

/**
 * The attribute catalog is the embedded store's (Jaeger has no API for it; Elasticsearch and
 * Prometheus are not asked): where the signal is read from another backend, its answer holds only
 * what teleql itself received, and a note says so.
 */
function noteCatalogSource(ctx: GraphQLContext, field: string, signal: AttributeSignal): void {
  const { traces, logs, metrics } = ctx.stores;
  const readers = signal === 'SPAN' ? [traces] : signal === 'LOG' ? [logs] : signal === 'METRIC' ? [metrics] : [traces, logs, metrics];
  const elsewhere = [...new Set(readers.map((store) => store.backend).filter((backend) => backend !== EMBEDDED))];
  if (elsewhere.length > 0) ctx.notes.push(`${field}(${signal}): from the embedded store, so only what teleql received, not all that ${elsewhere.join(' and ')} holds`);
}

export function attributeKeys(
  ctx: GraphQLContext,
  args: RangeArgs & { signal: AttributeSignal; prefix?: string | null; limit?: number | null },
): Promise<string[]> {
  const range = optionalRange(args.from, args.to);
  const limit = limitArg('limit', args.limit, MAX_PAGE);
  noteCatalogSource(ctx, 'attributeKeys', args.signal);
  // The embedded catalog notes a list it cut (string[] & QueryNotes); the interface types it as string[].
  return callStoreNoting(ctx, () => ctx.stores.catalog.attributeKeys(ctx.tenant, args.signal, range, args.prefix ?? undefined, limit) as Promise<string[] & QueryNotes>);
}

export function attributeValues(
  ctx: GraphQLContext,
  args: RangeArgs & { signal: AttributeSignal; key: string; limit?: number | null },
): Promise<string[]> {
  const range = optionalRange(args.from, args.to);
  const limit = limitArg('limit', args.limit, 100);
  noteCatalogSource(ctx, 'attributeValues', args.signal);
  return callStoreNoting(ctx, () => ctx.stores.catalog.attributeValues(ctx.tenant, args.signal, args.key, range, limit) as Promise<string[] & QueryNotes>);
}
