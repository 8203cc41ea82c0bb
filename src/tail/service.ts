// Builds the tail bus the gateway runs from its config: the transport (in-process, or Redis when
// several replicas share tails), the trace assembly, and the replay barrier; plus its /metrics.
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.ts';
import type { MetricSample } from '../server/metrics.ts';
import { createTailBus, type TailBus } from './bus.ts';
import { createRedisTransport, type RedisTransport } from './redis-transport.ts';
import { traceDeriver, type TraceAssemblyStats } from './trace-assembler.ts';
import { SIGNAL_OF_TOPIC } from './topics.ts';
import type { Signal } from '../model/telemetry.ts';

/** How long a replay waits for ingest batches to be written before reading anyway. */
const SETTLE_TIMEOUT_MS = 5000;

export interface TailService {
  bus: TailBus;
  metrics(): MetricSample[];
}

/**
 * `flushSignal(signal)` resolves once everything received for the signal so far is written to the
 * store (the batch processors' flush); it is what `since` replays wait for.
 */
export function createTailService(cfg: GatewayConfig['tail'], logger: Logger, flushSignal: (signal: Signal) => Promise<void>): TailService {
  const redis: RedisTransport | undefined = cfg.redis.url ? createRedisTransport({ url: cfg.redis.url, logger, prefix: cfg.redis.channelPrefix }) : undefined;
  const traceStats: TraceAssemblyStats = { evicted: 0, droppedSpans: 0, lateSpans: 0 };
  const bus = createTailBus(cfg, {
    ...(redis && { transport: redis }),
    derivers: { traces: traceDeriver(cfg.traces, traceStats) },
    settled: async (topic) => {
      const signal = SIGNAL_OF_TOPIC[topic];
      if (!signal) return;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          logger.warn({ topic }, `ingest batches not written within ${SETTLE_TIMEOUT_MS} ms; replaying what is stored`);
          resolve();
        }, SETTLE_TIMEOUT_MS);
      });
      try {
        await Promise.race([flushSignal(signal), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  });

  return {
    bus,
    metrics() {
      const samples: MetricSample[] = [
        { name: 'teleql_tail_subscriptions', help: 'Live tail subscriptions open', type: 'gauge', value: bus.size() },
        { name: 'teleql_tail_dropped_total', help: 'Tail records dropped from full subscription buffers', type: 'counter', value: bus.droppedTotal() },
        { name: 'teleql_tail_trace_evictions_total', help: 'Traces sent early because tail.traces.maxTraces were being assembled', type: 'counter', value: traceStats.evicted },
        { name: 'teleql_tail_trace_dropped_spans_total', help: 'Spans not kept because their trace reached tail.traces.maxSpansPerTrace', type: 'counter', value: traceStats.droppedSpans },
        { name: 'teleql_tail_trace_late_spans_total', help: 'Spans that arrived after tailTraces sent their trace', type: 'counter', value: traceStats.lateSpans },
      ];
      if (redis) {
        const s = redis.stats();
        samples.push(
          { name: 'teleql_tail_redis_published_records_total', help: 'Tail records sent to other replicas through Redis (of a batch sent as its OTLP request, every record, wanted there or not)', type: 'counter', value: s.published },
          { name: 'teleql_tail_redis_published_requests_total', help: 'Messages to other replicas that carried the OTLP request a batch was decoded from (decoded there) instead of its records serialized', type: 'counter', value: s.publishedRequests },
          { name: 'teleql_tail_redis_received_records_total', help: 'Tail records received from other replicas through Redis (of a request, every record it decodes into)', type: 'counter', value: s.received },
          { name: 'teleql_tail_redis_publish_errors_total', help: 'Publishes to Redis that failed (Redis unreachable, or no answer within 5 s: one sent before a hang may still be delivered when Redis resumes)', type: 'counter', value: s.publishErrors },
          { name: 'teleql_tail_redis_reconnects_total', help: 'Times the Redis subscriber connection came back after it was lost (tails missed other replicas\' records meanwhile)', type: 'counter', value: s.reconnects },
        );
      }
      return samples;
    },
  };
}
