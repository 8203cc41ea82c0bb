// The `backends` query: every backend the gateway writes to or reads from, with its health and
// delivery figures (the same as the teleql_exporter_* series on /metrics).
import type { BackendRole, BackendStatus } from '../src/backends/status.ts';
import { hasScope } from '../src/auth/types.ts';
import { GatewayError } from '../src/errors.ts';
import type { GraphQLContext } from './context.ts';

export interface BackendsArgs {
  role?: BackendRole | null;
  kind?: string | null;
}

export function backends(ctx: GraphQLContext, args: BackendsArgs): BackendStatus[] {
  // Gateway-wide figures (items written for every tenant, server paths, backend errors): no tenant
  // may learn another's volume from them, so, as /metrics, the operator's metrics scope only (a
  // tenant's admin does not include it unless auth.metrics: admin).
  if (!ctx.principal || !hasScope(ctx.principal, 'metrics')) throw new GatewayError('GW_FORBIDDEN', 'backends shows gateway-wide figures and needs the metrics scope');
  return ctx.backends().filter((b) => (!args.role || b.roles.includes(args.role)) && (!args.kind || b.kind === args.kind));
}

/** Date → Unix ns, the Timestamp scalar's model type. */
export function toUnixNano(d: Date | null): bigint | null {
  return d === null ? null : BigInt(d.getTime()) * 1_000_000n;
}
