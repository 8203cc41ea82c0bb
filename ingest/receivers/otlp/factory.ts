// The `otlp` receiver: OTLP/gRPC and OTLP/HTTP in, the model's records out to the next consumers.
import type { CreateSettings, Host, NextConsumers, Receiver, ReceiverFactory } from '../../component.ts';
import { type OtlpReceiverConfig, checkOtlpReceiverConfig, defaultOtlpReceiverConfig } from './config.ts';
import { startGrpcServer } from './grpc.ts';
import { startHttpServer } from './http.ts';
import { otlpProto } from './proto.ts';
import { type OtlpReceiverStats, type RunningServer, emptyStats } from './receive.ts';

export type { OtlpReceiverConfig, OtlpReceiverStats };

export interface OtlpReceiver extends Receiver {
  /** The bound `host:port` of each running transport (the real port when configured as 0). */
  addresses(): { grpc?: string; http?: string };
  stats(): OtlpReceiverStats;
}

export function createOtlpReceiver(settings: CreateSettings, config: OtlpReceiverConfig, next: NextConsumers): OtlpReceiver {
  checkOtlpReceiverConfig(config);
  const logger = settings.logger;
  const ctx = { stats: emptyStats() };
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
        if (config.grpc.enabled) grpc = await startGrpcServer({ config, next, ctx, logger });
        if (config.http.enabled && !stopped) http = await startHttpServer({ config, next, ctx, logger });
      } catch (err) {
        await closeAll();
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
      return { ...ctx.stats };
    },
  };
}

export interface OtlpReceiverFactory extends ReceiverFactory<OtlpReceiverConfig> {
  create(settings: CreateSettings, config: OtlpReceiverConfig, next: NextConsumers): OtlpReceiver;
}

export const otlpReceiverFactory: OtlpReceiverFactory = {
  kind: 'receiver',
  type: 'otlp',
  signals: ['traces', 'logs', 'metrics'],
  createDefaultConfig: defaultOtlpReceiverConfig,
  create: createOtlpReceiver,
};
