// Builds, from the `auth`, `limits` and `tls` config sections, what each listener needs: the one
// authenticator, the per-tenant limiters and the TLS options. Called once by src/app.ts.
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.ts';
import { ConfigError } from '../config/merge.ts';
import { createAuthenticator, warnIfExposed, type Authenticator } from '../auth/authenticator.ts';
import { componentLogger } from '../logger.ts';
import { createTenantRateLimit } from '../limits/tenant-rate-limit.ts';
import { createRefusalPenalty } from '../limits/refusal-penalty.ts';
import { createRefusalDelay } from '../limits/refusal-delay.ts';
import type { MetricSample } from './metrics.ts';
import { createConnectionCaps } from './connection-limits.ts';
import { createReceiverGuard } from '../../ingest/receivers/otlp/guard.ts';
import { componentType } from '../../ingest/registry.ts';
import { listenerTls as createListenerTls } from './tls.ts';
import type { OtlpReceiverEnvironment } from '../../ingest/receivers/otlp/factory.ts';
import type { GraphQLServerOptions } from './graphql-server.ts';
import type { GraphQLListenerOptions } from './graphql-listener.ts';

export interface Security {
  receiver: OtlpReceiverEnvironment;
  graphql: Pick<GraphQLServerOptions, 'authenticator' | 'metricsAccess' | 'limits' | 'connections' | 'refusalDelay'>;
  /** The GraphQL port's connection limits, caps and TLS (bound before the GraphQL server exists). */
  graphqlListener: Pick<GraphQLListenerOptions, 'connections' | 'connectionCaps' | 'tls'>;
  /** The tarpit's and the connection caps' gauges and counters (limits.refusalDelay, limits.connections), for /metrics. */
  metrics(): MetricSample[];
  /** Logs the loud warning for listeners bound beyond loopback while auth is off. */
  warnIfExposed(): void;
  /** Stops looking at the TLS files. */
  close(): void;
  /** The one authenticator every listener asks (its API keys can be replaced by a reload). */
  authenticator: Authenticator;
}

export function createSecurity(cfg: GatewayConfig, root: Logger): Security {
  const logger = componentLogger(root, 'auth');
  const authenticator = createAuthenticator(cfg.auth, logger);
  const { ingest } = cfg.limits;
  // One tarpit for every listener, so its caps bound the held requests of the whole process.
  const refusalDelay = createRefusalDelay(cfg.limits.refusalDelay, componentLogger(root, 'limits'));
  // Each HTTP listener counts its own connections.
  const connectionCaps = createConnectionCaps(cfg.limits.connections, componentLogger(root, 'limits'));
  // The files are read for every listener at once (and again when they change); the GraphQL one
  // serves the certificate without the client CA.
  const listenerTls = createListenerTls(cfg.tls, componentLogger(root, 'tls'));
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
      connectionCaps,
    },
    graphql: { authenticator, metricsAccess: cfg.auth.metrics, limits: cfg.limits.graphql, connections: cfg.limits.connections, refusalDelay },
    graphqlListener: { connections: cfg.limits.connections, connectionCaps, ...(listenerTls && { tls: listenerTls }) },
    metrics: () => [...refusalDelay.metrics(), ...connectionCaps.metrics(), ...(listenerTls?.metrics() ?? [])],
    close: () => {
      listenerTls?.close();
      authenticator.close();
    },
    authenticator,
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

/**
 * Puts the configured instances of the `memory_limiter`, `redaction` then `limits` processors at
 * the head of every pipeline that names no instance of their type (`processors: { redaction: {} }`
 * or `{ redaction/pii: {} }` is enough; the memory limiter's section is there by default), so no
 * signal is stored, exported, tailed or embedded unmasked, and none taken past the memory limit,
 * because a pipeline forgot them. Instances are matched by type (componentType): a pipeline naming
 * `redaction/pii` names a redaction processor. The two others go after the memory limiters a
 * pipeline names first (refusing costs least before any other work); a `limits` added to a
 * pipeline that names a redaction processor goes right after it. A pipeline that names an instance
 * of each keeps its own order, within the rules below.
 *
 * A redaction processor must run before `batch`: the batch processor acknowledges items when it
 * queues them, and the live-tail tap (ingest/pipeline.ts) publishes them then, so a redaction
 * behind it would mask only what is stored while tails stream the secrets. The tap stays before
 * batching (a tail would otherwise wait up to the batch timeout). It must also run before `limits`:
 * a card number, e-mail or URL password cut in half no longer matches its rule, and its visible
 * half is stored. A pipeline that breaks either rule is refused (ConfigError naming
 * `pipelines.<signal>.processors`, so `serve` exits 2 before anything listens) rather than
 * reordered or warned about: its order says something the gateway would not do. So is a
 * configured redaction instance that no pipeline runs (every pipeline names another one): it was
 * configured to mask something and would silently mask nothing.
 */
export function withSecurityProcessors<C extends GatewayConfig>(cfg: C): C {
  const instances = (type: string) => Object.keys(cfg.processors).filter((id) => componentType(id) === type);
  let changed = false;
  const pipelines = Object.fromEntries(
    Object.entries(cfg.pipelines).map(([signal, p]) => {
      const processors = [...p.processors];
      const named = new Set(processors.map(componentType));
      const missing = (type: string) => (named.has(type) ? [] : instances(type));
      processors.unshift(...missing('memory_limiter'));
      // Behind the memory limiters (refusing costs least before any other work), then in order.
      let at = 0;
      while (at < processors.length && componentType(processors[at]!) === 'memory_limiter') at++;
      if (named.has('redaction')) {
        processors.splice(processors.map(componentType).lastIndexOf('redaction') + 1, 0, ...missing('limits'));
      } else {
        processors.splice(at, 0, ...missing('redaction'), ...missing('limits'));
      }
      checkRedactionOrder(signal, processors);
      if (processors.length !== p.processors.length) changed = true;
      return [signal, { ...p, processors }];
    }),
  );
  const run = new Set(Object.values(pipelines).flatMap((p) => p.processors));
  const idle = instances('redaction').filter((id) => !run.has(id));
  if (idle.length > 0 && Object.keys(pipelines).length > 0) {
    throw new ConfigError(
      `processors.${idle[0]}: configured but no pipeline runs it (each names another redaction processor), so it would mask nothing: ` +
        `name it in pipelines.<signal>.processors or remove its section`,
    );
  }
  return changed ? { ...cfg, pipelines } : cfg;
}

/** Refuses a pipeline whose redaction processor runs after `batch` or after `limits` (see withSecurityProcessors). */
function checkRedactionOrder(signal: string, processors: readonly string[]): void {
  const types = processors.map(componentType);
  const redaction = types.lastIndexOf('redaction');
  if (redaction === -1) return;
  const batch = types.indexOf('batch');
  if (batch !== -1 && batch < redaction) {
    throw new ConfigError(
      `pipelines.${signal}.processors: "${processors[redaction]}" runs after "${processors[batch]}" (${processors.join(', ')}); ` +
        'the batch processor accepts items when it queues them and live tails see them then, before a redaction behind it masks them: name the redaction processor before batch',
    );
  }
  const limits = types.indexOf('limits');
  if (limits !== -1 && limits < redaction) {
    throw new ConfigError(
      `pipelines.${signal}.processors: "${processors[limits]}" runs before "${processors[redaction]}" (${processors.join(', ')}); ` +
        'attribute limits would cut secrets before redaction could recognise them and store the part left: name the redaction processor first',
    );
  }
}
