// Exception groups: a query over a time range, the groups of one correlated trace, and the
// example objects a group links to (loaded through the per-request DataLoaders).
import { findExceptionGroups, type ExceptionGroup } from '../src/correlation/exception-groups.ts';
import type { SpanRecord } from '../src/model/telemetry.ts';
import type { StoredLogRecord } from '../src/stores/types.ts';
import { checkTimeRange, limitArg, traceIdArg } from './args.ts';
import { callStore } from './call-store.ts';
import type { GraphQLContext } from './context.ts';
import { noteSource } from './call-store.ts';
import { correlationRange, type CorrelationModel } from './correlation.ts';
import { correlationStores } from './loaders.ts';
import { stepArg } from './metrics.ts';
import type { TraceModel } from './models.ts';
import { loadSpan, loadTrace, traceServices } from './traces.ts';

export interface ExceptionGroupFilterInput {
  service?: readonly string[] | null;
  type?: readonly string[] | null;
  fingerprint?: readonly string[] | null;
  traceId?: readonly string[] | null;
}

export interface ExceptionGroupsArgs {
  filter?: ExceptionGroupFilterInput | null;
  from: bigint;
  to: bigint;
  step?: bigint | null;
  limit?: number | null;
  examples?: number | null;
}

export function exceptionGroups(ctx: GraphQLContext, args: ExceptionGroupsArgs): Promise<ExceptionGroup[]> {
  checkTimeRange({ from: args.from, to: args.to });
  const f = args.filter ?? {};
  const store = correlationStores(ctx.stores).exceptions;
  noteSource(ctx, 'exceptionGroups', store.backend);
  return callStore(() =>
    findExceptionGroups(store, ctx.tenant, {
      range: { from: args.from, to: args.to },
      ...(args.step != null && { stepNano: stepArg(args.from, args.to, args.step) }),
      ...(f.service?.length && { services: f.service }),
      ...(f.type?.length && { types: f.type }),
      ...(f.fingerprint?.length && { fingerprints: f.fingerprint }),
      ...(f.traceId?.length && { traceIds: f.traceId.map((id) => traceIdArg(id, 'filter.traceId')) }),
      limit: limitArg('limit', args.limit, 50),
      examples: limitArg('examples', args.examples, 5, 100),
    }),
  );
}

/**
 * The groups of the exceptions in the correlated trace, counted over the whole window for the
 * services that recorded them in it or have spans in it (how often this happens, not only in this
 * trace): two store calls.
 */
export async function correlationExceptionGroups(ctx: GraphQLContext, c: CorrelationModel): Promise<ExceptionGroup[]> {
  const [trace, range] = await Promise.all([loadTrace(ctx, c.traceId), correlationRange(ctx, c)]);
  if (!trace || !range) return [];
  const store = correlationStores(ctx.stores).exceptions;
  noteSource(ctx, 'Correlation.exceptionGroups', store.backend);
  const inTrace = await callStore(() => findExceptionGroups(store, ctx.tenant, { range, traceIds: [c.traceId], examples: 1 }));
  if (inTrace.length === 0) return [];
  return callStore(() =>
    findExceptionGroups(store, ctx.tenant, {
      range,
      // A service may record an exception in the trace's logs without having a span in it.
      services: [...new Set([...traceServices(trace), ...inTrace.flatMap((g) => g.services)])],
      fingerprints: inTrace.map((g) => g.fingerprint),
    }),
  );
}

export async function groupTraces(ctx: GraphQLContext, g: ExceptionGroup): Promise<TraceModel[]> {
  const ids = [...new Set(g.exampleSpans.map((s) => s.traceId))];
  const traces = await Promise.all(ids.map((id) => loadTrace(ctx, id)));
  return traces.filter((t): t is TraceModel => t !== null);
}

export async function groupSpans(ctx: GraphQLContext, g: ExceptionGroup): Promise<SpanRecord[]> {
  const spans = await Promise.all(g.exampleSpans.map((s) => loadSpan(ctx, s.traceId, s.spanId)));
  return spans.filter((s): s is SpanRecord => s !== null);
}

export async function groupLogs(ctx: GraphQLContext, g: ExceptionGroup): Promise<StoredLogRecord[]> {
  const logs = await Promise.all(g.exampleLogIds.map((id) => ctx.loaders.log.load(id)));
  return logs.filter((l): l is StoredLogRecord => l !== null);
}
