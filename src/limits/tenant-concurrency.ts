// Per tenant, GraphQL queries and mutations running at once (limits.graphql.concurrentPerTenant),
// over HTTP and graphql-ws alike: what keeps one tenant's slow queries from holding every DuckDB read
// lane. A slot is taken when a request or operation is admitted, before its document is parsed (so a
// tenant at its cap costs no parse), and a subscription gives it back as soon as it is known to be
// one: live tails (SSE or graphql-ws) run for as long as their client listens and are bounded by the
// tail.* caps instead, so a tenant's open tails never lock it out of queries.

export interface TenantConcurrency {
  /** The cap (0 = unlimited). */
  readonly limit: number;
  /** A slot for one operation of `tenant`: its release (idempotent), or undefined when the tenant is at the cap. */
  acquire(tenant: string): (() => void) | undefined;
  /** The tenant's operations holding a slot now. */
  running(tenant: string): number;
  /** The refusal's message, naming the setting and its value. */
  readonly refusal: string;
}

/** The Retry-After of a refusal: a query slot is usually free again within a second. */
export const CONCURRENCY_RETRY_AFTER_SECONDS = 1;

export function createTenantConcurrency(limit: number): TenantConcurrency {
  const running = new Map<string, number>();
  return {
    limit,
    refusal: `limits.graphql.concurrentPerTenant of ${limit} queries and mutations running at once reached for this tenant; retry after ${CONCURRENCY_RETRY_AFTER_SECONDS} s`,
    acquire(tenant) {
      const n = running.get(tenant) ?? 0;
      if (limit > 0 && n >= limit) return undefined;
      running.set(tenant, n + 1);
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        const left = (running.get(tenant) ?? 1) - 1;
        if (left <= 0) running.delete(tenant);
        else running.set(tenant, left);
      };
    },
    running: (tenant) => running.get(tenant) ?? 0,
  };
}
