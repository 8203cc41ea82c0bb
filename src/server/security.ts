// Builds, from the `auth`, `limits` and `tls` config sections, what each listener needs: the one
// authenticator, the per-tenant limiters and the TLS options. Called once by src/app.ts.
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.ts';
import { createAuthenticator, warnIfExposed } from '../auth/authenticator.ts';
import { componentLogger } from '../logger.ts';
import { createTenantRateLimit } from '../limits/tenant-rate-limit.ts';
import { createRefusalPenalty } from '../limits/refusal-penalty.ts';
import { createRefusalDelay } from '../limits/refusal-delay.ts';
import type { MetricSample } from './metrics.ts';
import { createReceiverGuard } from '../../ingest/receivers/otlp/guard.ts';
import { componentType } from '../../ingest/registry.ts';
import { receiverTls } from '../../ingest/receivers/otlp/tls.ts';
import type { OtlpReceiverEnvironment } from '../../ingest/receivers/otlp/factory.ts';
import type { GraphQLServerOptions } from './graphql-server.ts';

export interface Security {
  receiver: OtlpReceiverEnvironment;
  graphql: Pick<GraphQLServerOptions, 'authenticator' | 'metricsAccess' | 'limits' | 'connections' | 'tls' | 'refusalDelay'>;
  /** The tarpit's gauges and counters (limits.refusalDelay), for /metrics. */
  metrics(): MetricSample[];
  /** Logs the loud warning for listeners bound beyond loopback while auth is off. */
  warnIfExposed(): void;
}

export function createSecurity(cfg: GatewayConfig, root: Logger): Security {
  const logger = componentLogger(root, 'auth');
  const authenticator = createAuthenticator(cfg.auth, logger);
  const { ingest } = cfg.limits;
  // One tarpit for every listener, so its caps bound the held requests of the whole process.
  const refusalDelay = createRefusalDelay(cfg.limits.refusalDelay, componentLogger(root, 'limits'));
  // The files are read once for every listener; the GraphQL one serves the certificate without the client CA.
  const listenerTls = receiverTls(cfg.tls);
  const tls = listenerTls?.server;
  return {
    receiver: {
      guard: createReceiverGuard({
        authenticator,
        items: createTenantRateLimit('limits.ingest.itemsPerSecond', ingest.itemsPerSecond),
        bytes: createTenantRateLimit('limits.ingest.bytesPerSecond', ingest.bytesPerSecond),
        penalty: createRefusalPenalty(),
        closeAfterRefusals: ingest.closeAfterRefusals,
        logger,
      }),
      refusalDelay,
      tls: listenerTls,
      connections: cfg.limits.connections,
    },
    graphql: { authenticator, metricsAccess: cfg.auth.metrics, limits: cfg.limits.graphql, connections: cfg.limits.connections, refusalDelay, ...(tls && { tls }) },
    metrics: () => refusalDelay.metrics(),
    warnIfExposed() {
      const hosts: Record<string, string | undefined> = { graphql: cfg.graphql.host };
      for (const [id, section] of Object.entries(cfg.receivers)) {
        const r = section as { grpc?: { host?: string }; http?: { host?: string } } | undefined;
        hosts[`${id} grpc`] = r?.grpc?.host;
        hosts[`${id} http`] = r?.http?.host;
      }
      warnIfExposed(cfg.auth.mode, hosts, logger);
    },
  };
}

export { limitsProcessorFactory } from '../../ingest/processors/limits/factory.ts';
export { memoryLimiterProcessorFactory } from '../../ingest/processors/memory-limiter/factory.ts';
export { redactionProcessorFactory } from '../../ingest/processors/redaction/factory.ts';

/** Processors that, once configured under `processors`, run first in every pipeline not naming them. */
const FIRST_PROCESSORS = ['memory_limiter', 'limits', 'redaction'];

/**
 * Puts the `memory_limiter`, `limits` then `redaction` processors at the head of every pipeline
 * when their sections exist under `processors` (`processors: { redaction: {} }` is enough; the
 * memory limiter's is there by default), so no signal is stored, exported, tailed or embedded
 * unmasked, and none taken past the memory limit, because a pipeline forgot them. Pipelines that
 * name them explicitly keep their own order.
 */
export function withSecurityProcessors<C extends GatewayConfig>(cfg: C): C {
  const configured = FIRST_PROCESSORS.filter((id) => id in cfg.processors);
  if (configured.length === 0) return cfg;
  const pipelines = Object.fromEntries(
    Object.entries(cfg.pipelines).map(([signal, p]) => {
      const named = new Set(p.processors.map(componentType));
      const missing = configured.filter((id) => !named.has(id));
      return [signal, { ...p, processors: [...missing, ...p.processors] }];
    }),
  );
  return { ...cfg, pipelines };
}
