// The `otlp` receiver: OTLP/gRPC and OTLP/HTTP in, the model's records out to the next consumers.
import type { CreateSettings, Host, NextConsumers, Receiver, ReceiverFactory } from '../../component.ts';
import { type OtlpReceiverConfig, checkOtlpReceiverConfig, defaultOtlpReceiverConfig } from './config.ts';
import { startGrpcServer } from './grpc.ts';
import { startHttpServer } from './http.ts';
import { otlpProto } from '../../../src/otlp/proto.ts';
import { SettingError } from '../../../src/config/merge.ts';
import { FAILURE_REASONS, type OtlpReceiverStats, type RunningServer, emptyStats } from './receive.ts';
import type { MetricSample } from '../../../src/server/metrics.ts';
import { type ReceiverGuard, openGuard } from './guard.ts';
import type { ListenerTls } from '../../../src/server/tls.ts';
import { type ConnectionCaps, type ConnectionLimits, defaultConnectionLimits } from '../../../src/server/connection-limits.ts';
import { type RefusalDelay, noRefusalDelay } from '../../../src/limits/refusal-delay.ts';

export type { OtlpReceiverConfig, OtlpReceiverStats };

export interface OtlpReceiver extends Receiver {
  /** The bound `host:port` of each running transport (the real port when configured as 0). */
  addresses(): { grpc?: string; http?: string };
  stats(): OtlpReceiverStats;
  metrics(): MetricSample[];
}

/** What the process gives every OTLP receiver besides its own config section. */
export interface OtlpReceiverEnvironment {
  guard?: ReceiverGuard;
  tls?: ListenerTls;
  /** Idle and slow connection timeouts (limits.connections; the defaults when absent). */
  connections?: ConnectionLimits;
  /** The tarpit for flooding tenants' refusals (limits.refusalDelay; none when absent). */
  refusalDelay?: RefusalDelay;
  /** Caps on the listeners' open connections (limits.connections.maxPerListener, maxPerAddress; none when absent). */
  connectionCaps?: ConnectionCaps;
}

export function createOtlpReceiver(settings: CreateSettings, config: OtlpReceiverConfig, next: NextConsumers, env: OtlpReceiverEnvironment = {}): OtlpReceiver {
  checkOtlpReceiverConfig(config);
  const logger = settings.logger;
  const guard = env.guard ?? openGuard;
  const connections = env.connections ?? defaultConnectionLimits();
  const refusalDelay = env.refusalDelay ?? noRefusalDelay;
  const ctx = { stats: emptyStats(), settle: guard.settle, limits: { maxItems: config.maxRequestItems, maxMessages: config.maxRequestMessages } };
  let grpc: RunningServer | undefined;
  let http: RunningServer | undefined;
  let stopped = false;

  const closeAll = async () => {
    const running = [grpc, http];
    grpc = http = undefined;
    await Promise.all(running.map((s) => s?.close()));
  };

  return {
    async start(_host: Host) {
      if (stopped) throw new Error(`receiver ${settings.id} was shut down and cannot start again`);
      if (grpc || http) throw new Error(`receiver ${settings.id} is already started`);
      otlpProto(); // parse the .proto files now (~25 ms) rather than during the first request
      try {
        if (config.grpc.enabled) {
          grpc = await startGrpcServer({ config, next, ctx, logger, guard, connections, refusalDelay, credentials: env.tls?.grpc, connectionCaps: env.connectionCaps, listenerName: `${settings.id}/grpc`, setting: `receivers.${settings.id}` });
        }
        if (config.http.enabled && !stopped) {
          http = await startHttpServer({ config, next, ctx, logger, guard, connections, refusalDelay, tls: env.tls, connectionCaps: env.connectionCaps, listenerName: `${settings.id}/http`, setting: `receivers.${settings.id}` });
        }
      } catch (err) {
        await closeAll();
        // A SettingError already names the receiver's setting and says what to do.
        if (err instanceof SettingError) throw err;
        throw new Error(`receiver ${settings.id} could not listen: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      if (stopped) return closeAll(); // shut down while starting
      logger.info({ grpc: grpc?.address, http: http?.address }, 'otlp receiver listening');
    },
    async shutdown() {
      stopped = true;
      await closeAll();
    },
    addresses() {
      return { ...(grpc && { grpc: grpc.address }), ...(http && { http: http.address }) };
    },
    stats() {
      return { ...ctx.stats, failedRequests: { ...ctx.stats.failedRequests } };
    },
    metrics() {
      const s = ctx.stats;
      const c = (name: string, help: string, value: number, labels: Record<string, string> = {}): MetricSample => ({
        name,
        help,
        type: 'counter',
        value,
        labels: { component: settings.id, ...labels },
      });
      return [
        c('teleql_otlp_requests_total', 'OTLP export requests received', s.grpcRequests, { transport: 'grpc' }),
        c('teleql_otlp_requests_total', 'OTLP export requests received', s.httpRequests, { transport: 'http' }),
        ...FAILURE_REASONS.map((reason) =>
          c('teleql_otlp_failed_requests_total', 'OTLP requests answered with an error status, by reason', s.failedRequests[reason], { reason }),
        ),
        c('teleql_otlp_closed_unread_total', 'OTLP/HTTP 429s answered by closing the connection with the body unread (limits.ingest.closeAfterRefusals)', s.closedUnread),
        c('teleql_otlp_accepted_items_total', 'Items handed to the pipeline', s.acceptedSpans, { signal: 'traces' }),
        c('teleql_otlp_accepted_items_total', 'Items handed to the pipeline', s.acceptedLogRecords, { signal: 'logs' }),
        c('teleql_otlp_accepted_items_total', 'Items handed to the pipeline', s.acceptedDataPoints, { signal: 'metrics' }),
        c('teleql_otlp_rejected_items_total', 'Invalid items dropped (reported as partial success)', s.rejectedSpans, { signal: 'traces' }),
        c('teleql_otlp_rejected_items_total', 'Invalid items dropped (reported as partial success)', s.rejectedLogRecords, { signal: 'logs' }),
        c('teleql_otlp_rejected_items_total', 'Invalid items dropped (reported as partial success)', s.rejectedDataPoints, { signal: 'metrics' }),
        c('teleql_otlp_refused_items_total', 'Valid items the pipeline refused (client told to retry or fix)', s.refusedSpans, { signal: 'traces' }),
        c('teleql_otlp_refused_items_total', 'Valid items the pipeline refused (client told to retry or fix)', s.refusedLogRecords, { signal: 'logs' }),
        c('teleql_otlp_refused_items_total', 'Valid items the pipeline refused (client told to retry or fix)', s.refusedDataPoints, { signal: 'metrics' }),
      ];
    },
  };
}

export interface OtlpReceiverFactory extends ReceiverFactory<OtlpReceiverConfig> {
  create(settings: CreateSettings, config: OtlpReceiverConfig, next: NextConsumers): OtlpReceiver;
}

export const otlpReceiverFactory: OtlpReceiverFactory = otlpReceiverFactoryWith({});

/** The `otlp` factory whose receivers use the process's credentials check, limits and TLS. */
export function otlpReceiverFactoryWith(env: OtlpReceiverEnvironment): OtlpReceiverFactory {
  return {
    kind: 'receiver',
    type: 'otlp',
    signals: ['traces', 'logs', 'metrics'],
    createDefaultConfig: defaultOtlpReceiverConfig,
    create: (settings, config, next) => createOtlpReceiver(settings, config, next, env),
  };
}
