// Lookups for building filters and Grafana variables. Without from/to they cover all stored data.
import type { SpanKind } from '../src/model/telemetry.ts';
import type { AttributeSignal } from '../src/stores/types.ts';
import { limitArg, optionalRange } from './args.ts';
import { callStore } from './call-store.ts';
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

export function attributeKeys(
  ctx: GraphQLContext,
  args: RangeArgs & { signal: AttributeSignal; prefix?: string | null },
): Promise<string[]> {
  const range = optionalRange(args.from, args.to);
  return callStore(() => ctx.stores.catalog.attributeKeys(ctx.tenant, args.signal, range, args.prefix ?? undefined));
}

export function attributeValues(
  ctx: GraphQLContext,
  args: RangeArgs & { signal: AttributeSignal; key: string; limit?: number | null },
): Promise<string[]> {
  const range = optionalRange(args.from, args.to);
  const limit = limitArg('limit', args.limit, 100);
  return callStore(() => ctx.stores.catalog.attributeValues(ctx.tenant, args.signal, args.key, range, limit));
}
