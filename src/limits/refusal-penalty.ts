// Which rate-limit refusals are answered by closing the connection instead of draining the body:
// those of a tenant that keeps sending after being told to wait. A client that honours Retry-After
// (the OTel exporters, the Collector) sends at most its concurrency in requests before it waits, so
// it stays under the threshold; a flooder that ignores the 429 passes it within its first window,
// and from then on each of its requests costs the gateway its headers, not its body.
import { LRUCache } from 'lru-cache';

export interface RefusalPenalty {
  /**
   * Counts one rate-limit refusal of `tenant`, whose Retry-After was `retryAfterSeconds`: true when
   * the tenant has now been refused more than the threshold within one Retry-After window, so this
   * refusal should close the connection unread. Always false when the penalty is off.
   */
  refused(tenant: string, retryAfterSeconds: number): boolean;
}

/** Tenants whose current refusal window is remembered (the oldest are forgotten: no penalty for them until they are refused again). */
const TENANTS = 10_000;

/** `threshold` refusals within one Retry-After window are tolerated; 0 = never close. */
export function createRefusalPenalty(threshold: number, now: () => number = Date.now): RefusalPenalty {
  if (threshold <= 0) return { refused: () => false };
  // Per tenant: when its window (opened by the first refusal after the last window ended) ends, and its refusals in it.
  const windows = new LRUCache<string, { endsAt: number; count: number }>({ max: TENANTS });
  return {
    refused(tenant, retryAfterSeconds) {
      const t = now();
      let w = windows.get(tenant);
      if (!w || t >= w.endsAt) {
        w = { endsAt: t + Math.max(1, retryAfterSeconds) * 1000, count: 0 };
        windows.set(tenant, w);
      }
      w.count++;
      return w.count > threshold;
    },
  };
}
