// Refuses data while the V8 heap is over a soft limit, after the Collector's memory_limiter. The
// queues behind the receivers (the batch processor's, each backend exporter's, the embedding
// queue) are bounded in items, not bytes: with records of large attributes or bodies, and a backend
// down so that its exporter holds 65,536 of them, they would grow until the process dies of
// "JavaScript heap out of memory", losing everything queued. Here the client gets a retryable
// refusal (HTTP 503 with Retry-After, gRPC UNAVAILABLE) and resends later; what was accepted stays.
// It runs first in every pipeline (src/server/security.ts), so a refused batch costs nothing more.
import v8 from 'node:v8';
import type { Logger } from 'pino';
import { type Consumer, type Processor, type Signal, type SignalItems, retryableError } from '../../component.ts';
import { componentType } from '../../registry.ts';
import type { MetricSample } from '../../../src/server/metrics.ts';

export interface MemoryLimiterConfig {
  /** The limit in MiB of V8 heap; 0 = `limitPercentage` of V8's own heap limit (--max-old-space-size). */
  limitMiB: number;
  /** Percent of V8's heap limit, when `limitMiB` is 0; 0 with `limitMiB` 0 turns the limiter off. */
  limitPercentage: number;
  /** Headroom below the limit, in percent of it: data is refused once the heap passes limit − spike. */
  spikeLimitPercentage: number;
  /** The heap is read at most this often (at a consume, not on a timer). */
  checkIntervalMs: number;
}

export function defaultMemoryLimiterConfig(): MemoryLimiterConfig {
  return { limitMiB: 0, limitPercentage: 80, spikeLimitPercentage: 20, checkIntervalMs: 100 };
}

const MiB = 1024 * 1024;

/** The soft limit in bytes (null: off), from the config and V8's heap limit; throws on a bad value. */
export function softLimitBytes(id: string, config: MemoryLimiterConfig, heapSizeLimit = v8.getHeapStatistics().heap_size_limit): number | null {
  for (const key of ['limitMiB', 'limitPercentage', 'spikeLimitPercentage', 'checkIntervalMs'] as const) {
    if (!Number.isFinite(config[key]) || config[key] < 0) throw new Error(`processors.${id}.${key}: expected a number of 0 or more (actual: ${config[key]})`);
  }
  for (const key of ['limitPercentage', 'spikeLimitPercentage'] as const) {
    if (config[key] >= 100) throw new Error(`processors.${id}.${key}: expected a percentage below 100 (actual: ${config[key]})`);
  }
  const limit = config.limitMiB > 0 ? config.limitMiB * MiB : (heapSizeLimit * config.limitPercentage) / 100;
  if (limit === 0) return null;
  return Math.floor(limit * (1 - config.spikeLimitPercentage / 100));
}

export function createMemoryLimiter<S extends Signal>(
  id: string,
  config: MemoryLimiterConfig,
  next: Consumer<S>,
  logger: Logger,
  heapUsed: () => number = () => v8.getHeapStatistics().used_heap_size,
): Processor<S> & { metrics(): MetricSample[] } {
  const soft = softLimitBytes(id, config);
  let readAt = -Infinity;
  let used = 0;
  let over = false;
  let refusedItems = 0;
  let refusedBatches = 0;
  const name = componentType(id);

  function overLimit(): boolean {
    if (soft === null) return false;
    const now = performance.now();
    if (now - readAt < config.checkIntervalMs) return over;
    readAt = now;
    used = heapUsed();
    const was = over;
    over = used > soft;
    if (over && !was) logger.warn({ heapMiB: Math.round(used / MiB), softLimitMiB: Math.round(soft / MiB) }, 'memory limit: refusing data until the heap is back under the soft limit');
    else if (!over && was) logger.info({ heapMiB: Math.round(used / MiB), refusedItems }, 'memory limit: accepting data again');
    return over;
  }

  if (soft !== null) logger.debug({ softLimitMiB: Math.round(soft / MiB) }, 'memory limiter on');
  return {
    start: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
    consume(items: readonly SignalItems[S][]) {
      if (overLimit()) {
        refusedItems += items.length;
        refusedBatches++;
        return Promise.reject(
          retryableError(
            `memory limit: the gateway's heap holds ${Math.round(used / MiB)} MiB, over the soft limit of ${Math.round(soft! / MiB)} MiB (processors.${name}); retry later`,
          ),
        );
      }
      return next.consume(items);
    },
    metrics: () => [
      { name: 'teleql_memory_limiter_refused_items_total', help: 'Items refused (retryable) while the heap was over the soft limit', type: 'counter', value: refusedItems, labels: { component: id } },
      { name: 'teleql_memory_limiter_refused_batches_total', help: 'Batches refused (retryable) while the heap was over the soft limit', type: 'counter', value: refusedBatches, labels: { component: id } },
    ],
  };
}
