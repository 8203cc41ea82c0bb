// Per-tenant rate limits (rate-limiter-flexible, in memory): one fixed one-second window per tenant
// and measure, so a tenant that floods is refused without slowing anyone else down.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export class RateLimitedError extends Error {
  constructor(
    /** The limit's config key, e.g. `limits.ingest.itemsPerSecond`. */
    readonly limit: string,
    readonly value: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`rate limit ${limit} of ${value} per second exceeded for this tenant; retry after ${retryAfterSeconds} s`);
    this.name = 'RateLimitedError';
  }
}

export interface TenantRateLimit {
  readonly perSecond: number;
  /** Charges `cost` units to the tenant, or rejects with RateLimitedError. A no-op when the limit is 0. */
  charge(tenant: string, cost?: number): Promise<void>;
  /** Rejects with RateLimitedError when the tenant's budget for this second is used up; charges nothing. */
  check(tenant: string): Promise<void>;
  /** Gives back units charged on an estimate that turned out too high. */
  refund(tenant: string, cost: number): Promise<void>;
  /**
   * What a request took beyond a whole second's budget (it was let through on that budget alone):
   * the tenant is refused for the seconds the excess would take, so its average stays at the limit.
   */
  owe(tenant: string, excess: number): Promise<void>;
  /**
   * Charges what a request has already used (e.g. its query time), never refusing: the tenant's
   * budget for this second may go below zero, and beyond a whole second's budget the rest is owed.
   * The next `check` refuses the tenant until it is paid.
   */
  spend(tenant: string, cost: number): Promise<void>;
}

export function createTenantRateLimit(limit: string, perSecond: number): TenantRateLimit {
  if (perSecond <= 0) {
    const none = () => Promise.resolve();
    return { perSecond, charge: none, check: none, refund: none, owe: none, spend: none };
  }
  const limiter = new RateLimiterMemory({ points: perSecond, duration: 1 });
  // Refused until the current window ends plus the seconds the excess is worth.
  const owe = async (tenant: string, excess: number) => {
    if (excess <= 0) return;
    const windowLeftMs = (await limiter.get(tenant))?.msBeforeNext ?? 0;
    await limiter.block(tenant, Math.max(0, windowLeftMs) / 1000 + excess / perSecond);
  };
  const refused = (msBeforeNext: number) => new RateLimitedError(limit, perSecond, Math.max(1, Math.ceil(msBeforeNext / 1000)));
  return {
    perSecond,
    async charge(tenant, cost = 1) {
      if (cost <= 0) return;
      try {
        // One request larger than a whole second's budget takes the whole budget rather than
        // being refused forever, and the rest is owed.
        await limiter.consume(tenant, Math.min(cost, perSecond));
      } catch (res) {
        if (!(res instanceof RateLimiterRes)) throw res;
        throw refused(res.msBeforeNext);
      }
      await owe(tenant, cost - perSecond);
    },
    async check(tenant) {
      const res = await limiter.get(tenant);
      if (res && res.remainingPoints <= 0) throw refused(res.msBeforeNext);
    },
    async refund(tenant, cost) {
      if (cost > 0) await limiter.reward(tenant, Math.min(cost, perSecond));
    },
    owe,
    async spend(tenant, cost) {
      if (cost <= 0) return;
      await limiter.penalty(tenant, Math.min(cost, perSecond));
      await owe(tenant, cost - perSecond);
    },
  };
}
