// OTLP/gRPC on @grpc/grpc-js. The service definitions pass raw Buffers through so that our codec
// decodes them: grpc-js's own deserializer failing would surface as INTERNAL, not INVALID_ARGUMENT.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { NextConsumers, Signal } from '../../component.ts';
import { encodeExportResponse, encodeRetryStatus } from '../../../src/otlp/codec.ts';
import type { OtlpReceiverConfig } from './config.ts';
import { type ReceiveContext, ReceiveError, type RunningServer, failureReason, receive } from './receive.ts';
import type { ReceiverGuard } from './guard.ts';
import { hostPort, listen } from '../../../src/server/listen.ts';
import { type ConnectionCaps, type ConnectionLimits, grpcServerOptions } from '../../../src/server/connection-limits.ts';
import { createServer as createNetServer } from 'node:net';
import type { HeldRefusal, RefusalDelay } from '../../../src/limits/refusal-delay.ts';

const SERVICE: Record<Signal, string> = {
  traces: 'opentelemetry.proto.collector.trace.v1.TraceService',
  logs: 'opentelemetry.proto.collector.logs.v1.LogsService',
  metrics: 'opentelemetry.proto.collector.metrics.v1.MetricsService',
};
const SHUTDOWN_GRACE_MS = 5000;

const passThrough = (b: Buffer) => b;

/** The Export method of one OTLP service, with Buffers in and out. Also used by tests as a raw client. */
export function exportServiceDefinition(signal: Signal): grpc.ServiceDefinition {
  return {
    Export: {
      path: `/${SERVICE[signal]}/Export`,
      requestStream: false,
      responseStream: false,
      requestSerialize: passThrough,
      requestDeserialize: passThrough,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
      originalName: 'export',
    },
  };
}

export interface GrpcServerOptions {
  config: OtlpReceiverConfig;
  next: NextConsumers;
  ctx: ReceiveContext;
  logger: Logger;
  guard: ReceiverGuard;
  connections: ConnectionLimits;
  /** Holds a flooding tenant's RESOURCE_EXHAUSTED until its Retry-After window ends (limits.refusalDelay). */
  refusalDelay: RefusalDelay;
  /** Server credentials (TLS, optionally mutual); insecure when absent. */
  credentials?: grpc.ServerCredentials;
  /** Caps the connections open at once (limits.connections.maxPerListener, maxPerAddress); none when absent. */
  connectionCaps?: ConnectionCaps;
  /** Names this listener in the caps' log lines and /metrics. */
  listenerName?: string;
  /** The receiver's config path (`receivers.otlp`), named when its port cannot be bound. */
  setting?: string;
}

/** Metadata values as the one header lookup both transports use (OTEL_EXPORTER_OTLP_HEADERS lands here). */
function metadataHeaders(md: grpc.Metadata) {
  return (name: string): string | undefined => {
    const v = md.get(name)[0];
    return v === undefined ? undefined : String(v);
  };
}

/**
 * The status of a refused request. When the refusal says when to retry (rate limits, a full queue),
 * that goes out as OTLP says, a google.rpc.RetryInfo in `grpc-status-details-bin` (without it the
 * Collector treats RESOURCE_EXHAUSTED as permanent and drops the data), and as `retry-after` metadata.
 */
function statusOf(err: unknown): grpc.StatusObject {
  const code = err instanceof ReceiveError ? err.grpcCode : grpc.status.INTERNAL;
  const details = err instanceof Error ? err.message : String(err);
  const metadata = new grpc.Metadata();
  if (err instanceof ReceiveError && err.retryAfterSeconds !== undefined) {
    metadata.set('retry-after', String(err.retryAfterSeconds));
    metadata.set('grpc-status-details-bin', encodeRetryStatus(code, details, err.retryAfterSeconds));
  }
  return { code, details, metadata };
}

/**
 * Refuses a tenant that has used up its ingest budget or still owes as soon as the call's metadata
 * arrives: grpc-js starts reading the message only once the metadata has passed the interceptors, so
 * a flooder that ignores RESOURCE_EXHAUSTED costs no read, inflate or decode of its messages. Other
 * outcomes (admitted, or refused for credentials) go on to the handler, which answers them as
 * before; the tenant admitted here is remembered by the metadata object so credentials are checked once.
 */
function refuseOwingTenants(
  guard: ReceiverGuard,
  tenantHeader: string,
  admitted: WeakMap<grpc.Metadata, string>,
  refusalDelay: RefusalDelay,
  onRefused: (err: ReceiveError) => void,
): grpc.ServerInterceptor {
  return (_method, call) => {
    // A refusal held in the tarpit, until the client cancels the call.
    let held: HeldRefusal | undefined;
    const intercepting: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, pass) {
            Promise.resolve()
              .then(() => guard.admit(metadataHeaders(metadata), tenantHeader))
              .then(async (tenant) => {
                admitted.set(metadata, tenant);
                await guard.owing?.(tenant);
              })
              .then(
                () => pass(metadata),
                (err: unknown) => {
                  if (!(err instanceof ReceiveError) || err.grpcCode !== grpc.status.RESOURCE_EXHAUSTED) return pass(metadata);
                  onRefused(err);
                  const refuse = () => intercepting.sendStatus(statusOf(err));
                  // A tenant that keeps calling after RESOURCE_EXHAUSTED gets this one late (its message unread until then).
                  const tenant = admitted.get(metadata);
                  const penalty = tenant === undefined ? undefined : guard.penalise?.(tenant, err.retryAfterSeconds ?? 1);
                  held = tenant !== undefined && penalty ? refusalDelay.hold('otlp_grpc', tenant, penalty.window, refuse) : undefined;
                  if (!held) refuse();
                },
              );
          },
          onCancel() {
            held?.drop();
          },
        });
      },
    });
    return intercepting;
  };
}

export async function startGrpcServer(opts: GrpcServerOptions): Promise<RunningServer> {
  const { config, next, ctx, logger } = opts;
  const admitted = new WeakMap<grpc.Metadata, string>();
  const server = new grpc.Server({
    // grpc-js checks this before and while inflating a compressed message (RESOURCE_EXHAUSTED).
    'grpc.max_receive_message_length': config.maxRequestBytes,
    ...grpcServerOptions(opts.connections),
    // Only with ingest limits configured: without them nobody can owe.
    ...(opts.guard.owing
      ? {
          interceptors: [
            refuseOwingTenants(opts.guard, config.tenantHeader, admitted, opts.refusalDelay, (err) => {
              ctx.stats.grpcRequests++;
              ctx.stats.failedRequests[failureReason(err)]++;
            }),
          ],
        }
      : {}),
  });
  for (const signal of ['traces', 'logs', 'metrics'] as const) {
    const consumer = next[signal];
    if (!consumer) continue; // unwired signals answer UNIMPLEMENTED, as in the Collector
    server.addService(exportServiceDefinition(signal), {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        ctx.stats.grpcRequests++;
        const answer = async () => {
          const tenant = admitted.get(call.metadata) ?? (await opts.guard.admit(metadataHeaders(call.metadata), config.tenantHeader));
          // The message is read (grpc-js holds it whole, within max_receive_message_length) but not
          // decoded: a tenant over its budget is refused by the raw length before decoding costs anything.
          const reserved = await opts.guard.reserve(tenant, 'protobuf', call.request.length);
          return encodeExportResponse(signal, 'protobuf', await receive(ctx, consumer, signal, call.request, 'protobuf', tenant, reserved));
        };
        answer().then(
          (response) => callback(null, response),
          (err: unknown) => {
            ctx.stats.failedRequests[failureReason(err)]++;
            if (!(err instanceof ReceiveError)) logger.error({ err }, 'otlp/grpc request failed unexpectedly');
            else logger.debug({ code: err.grpcCode, err: err.message }, 'otlp/grpc request refused');
            callback(statusOf(err));
          },
        );
      },
    });
  }
  // Connections are accepted here and handed to grpc-js (its connection injector), so that they can
  // be counted and capped before grpc-js reads a byte (TLS included: it runs the handshake itself).
  const injector = server.createConnectionInjector(opts.credentials ?? grpc.ServerCredentials.createInsecure());
  const listener = createNetServer();
  opts.connectionCaps?.apply(listener, opts.listenerName ?? 'otlp/grpc', 'close');
  listener.on('connection', (socket) => {
    if (!socket.destroyed) injector.injectConnection(socket);
  });
  const { port } = await listen(listener, config.grpc.port, config.grpc.host, `${opts.setting ?? 'receivers.otlp'}.grpc`);
  return {
    address: hostPort(config.grpc.host, port),
    close: () =>
      new Promise<void>((resolve) => {
        // Held refusals are answered now: a stop never waits for the tarpit.
        opts.refusalDelay.close();
        // No new connections; grpc-js' shutdown below ends the ones it holds.
        listener.close();
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
