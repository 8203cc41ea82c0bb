// How often a tenant has been refused within its current Retry-After window: what tells a tenant
// that keeps sending after being told to wait from one that waits. A client that honours Retry-After
// (the OTel exporters, the Collector) sends at most its concurrency in requests before it waits, so
// it stays under the thresholds; a flooder that ignores the 429 passes them within its first
// window. The thresholds act on the count: limits.ingest.closeAfterRefusals (OTLP/HTTP: close the
// connection unread) and limits.refusalDelay.afterRefusals (answer late: refusal-delay.ts).
import { LRUCache } from 'lru-cache';
import { REMEMBERED_TENANTS } from '../tenant.ts';

/** A tenant's refusal window, with the refusal just counted. */
export interface RefusalWindow {
  /** Refusals of the tenant in this window, this one included. */
  readonly refusals: number;
  /** When the window ends (ms, on the penalty's clock). */
  readonly endsAt: number;
}

export interface RefusalPenalty {
  /**
   * Counts one rate-limit refusal of `tenant`, whose Retry-After was `retryAfterSeconds`. A window
   * opens with the first refusal after the previous one ended and lasts that refusal's Retry-After.
   */
  refused(tenant: string, retryAfterSeconds: number): RefusalWindow;
}

export function createRefusalPenalty(now: () => number = Date.now): RefusalPenalty {
  // The oldest tenants' windows are forgotten: counted afresh when refused again.
  const windows = new LRUCache<string, { endsAt: number; refusals: number }>({ max: REMEMBERED_TENANTS });
  return {
    refused(tenant, retryAfterSeconds) {
      const t = now();
      let w = windows.get(tenant);
      if (!w || t >= w.endsAt) {
        w = { endsAt: t + Math.max(1, retryAfterSeconds) * 1000, refusals: 0 };
        windows.set(tenant, w);
      }
      w.refusals++;
      return { refusals: w.refusals, endsAt: w.endsAt };
    },
  };
}

/** Whether a refusal `window` passes `threshold` (0 = never). */
export const passes = (window: RefusalWindow, threshold: number): boolean => threshold > 0 && window.refusals > threshold;
