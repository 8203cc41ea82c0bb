// Idle and slow connections are closed on every listener (limits.connections): node:http's
// keep-alive, headers and request timeouts for OTLP/HTTP and GraphQL, grpc-js's idle and keepalive
// options for OTLP/gRPC. (graphql-ws idle and ping are in graphql-server.ts, which owns the sockets.)
import type { Server, ServerOptions } from 'node:http';
import { defaultConnectionLimits, type ConnectionLimits } from '../config/security.ts';

export { defaultConnectionLimits, type ConnectionLimits };

/** Options for http(s).createServer: how often node checks for requests past their timeouts. */
export function httpServerOptions(limits: ConnectionLimits): ServerOptions {
  const timeouts = [limits.httpHeadersTimeoutMs, limits.httpRequestTimeoutMs].filter((t) => t > 0);
  // node checks every 30 s by default, which would make a short timeout up to 30 s late.
  return timeouts.length ? { connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(Math.min(...timeouts) / 2))) } : {};
}

export function applyHttpTimeouts(server: Server, limits: ConnectionLimits): void {
  server.keepAliveTimeout = limits.httpKeepAliveTimeoutMs;
  server.requestTimeout = limits.httpRequestTimeoutMs;
  // node refuses a headers timeout longer than the request timeout.
  server.headersTimeout = limits.httpRequestTimeoutMs > 0 && limits.httpHeadersTimeoutMs > 0 ? Math.min(limits.httpHeadersTimeoutMs, limits.httpRequestTimeoutMs) : limits.httpHeadersTimeoutMs;
}

/** grpc-js server channel options; 0 leaves grpc-js's default (no idle limit, no server pings). */
export function grpcServerOptions(limits: ConnectionLimits): Record<string, number> {
  return {
    ...(limits.grpcMaxIdleMs > 0 && { 'grpc.max_connection_idle_ms': limits.grpcMaxIdleMs }),
    ...(limits.grpcKeepaliveTimeMs > 0 && { 'grpc.keepalive_time_ms': limits.grpcKeepaliveTimeMs, 'grpc.keepalive_timeout_ms': limits.grpcKeepaliveTimeoutMs }),
  };
}
