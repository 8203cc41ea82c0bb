// The `backends` query: every backend the gateway writes to or reads from, with its health and
// delivery figures (the same as the teleql_exporter_* series on /metrics).
import type { BackendRole, BackendStatus } from '../src/backends/status.ts';
import { GatewayError } from '../src/errors.ts';
import type { GraphQLContext } from './context.ts';

export interface BackendsArgs {
  role?: BackendRole | null;
  kind?: string | null;
}

export function backends(ctx: GraphQLContext, args: BackendsArgs): BackendStatus[] {
  // Gateway-wide figures (items written for every tenant, server paths, backend errors): one
  // tenant's query key must not learn another's volume from them, so, as /metrics, admin only.
  if (!ctx.principal?.scopes.has('admin')) throw new GatewayError('GW_FORBIDDEN', 'backends shows gateway-wide figures and needs the admin scope');
  return ctx.backends().filter((b) => (!args.role || b.roles.includes(args.role)) && (!args.kind || b.kind === args.kind));
}

/** Date → Unix ns, the Timestamp scalar's model type. */
export function toUnixNano(d: Date | null): bigint | null {
  return d === null ? null : BigInt(d.getTime()) * 1_000_000n;
}
