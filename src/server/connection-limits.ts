// Idle and slow connections are closed on every listener (limits.connections): node:http's
// keep-alive, headers and request timeouts for OTLP/HTTP and GraphQL, grpc-js's idle and keepalive
// options for OTLP/gRPC. (graphql-ws idle and ping are in graphql-server.ts, which owns the sockets.)
// Every listener also caps the connections it holds at once, in all and per client address.
import type { Server, ServerOptions } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import { throttledLog } from '../logger.ts';
import { defaultConnectionLimits, type ConnectionLimits } from '../config/security.ts';
import type { MetricSample } from './metrics.ts';

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

/**
 * What a client address is counted under for maxPerAddress: an IPv4 address itself (also when a
 * dual-stack listener sees it as `::ffff:a.b.c.d`), an IPv6 one its network, the first
 * `ipv6PrefixLength` bits (`2001:db8:1:2::/64`): one host on a /64 can connect from as many of its
 * addresses as it likes, so counting each alone would cap nothing.
 */
export function addressKey(address: string, ipv6PrefixLength: number): string {
  if (!address.includes(':') || !ipaddr.isValid(address)) return address; // IPv4 as Node writes it, a Unix socket's, or none
  const ip = ipaddr.process(address); // ::ffff:a.b.c.d → a.b.c.d
  if (ip.kind() === 'ipv4' || ipv6PrefixLength >= 128) return ip.toString();
  const bytes = ip.toByteArray();
  for (let bit = ipv6PrefixLength; bit < 128; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return `${ipaddr.fromByteArray(bytes).toString()}/${ipv6PrefixLength}`;
}

/** The gaps between two warnings about refused connections of one listener, or refused client certificates (the count is in each). */
export const REFUSAL_LOG_EVERY_MS = 10_000;

export interface ConnectionCaps {
  /**
   * Caps `server`'s connections at limits.maxPerListener in all and limits.maxPerAddress per client
   * address (an IPv6 client's network: addressKey), counted from accept, before anything is read (so unauthenticated clients too). Over a
   * cap, `refusal` 'http503' answers a plain HTTP/1.1 connection 503 naming the limit and closes it
   * before its request is read; 'close' closes it (TLS, where nothing can be said before the
   * handshake, the cost a cap saves; gRPC's HTTP/2). `listener` names it in the log and on /metrics.
   */
  apply(server: NetServer, listener: string, refusal: 'http503' | 'close'): void;
  metrics(): MetricSample[];
}

export function createConnectionCaps(limits: ConnectionLimits, logger: Logger): ConnectionCaps {
  const listeners: { listener: string; open: () => number; refused: Record<'maxPerListener' | 'maxPerAddress', number> }[] = [];
  return {
    apply(server, listener, refusal) {
      const { maxPerListener, maxPerAddress } = limits;
      if (maxPerListener <= 0 && maxPerAddress <= 0) return;
      const perAddress = new Map<string, number>();
      let open = 0;
      const refused = { maxPerListener: 0, maxPerAddress: 0 };
      const entry = { listener, open: () => open, refused };
      listeners.push(entry);
      // A stopped listener leaves /metrics (a receiver restarted under the same name would show twice).
      server.once('close', () => listeners.splice(listeners.indexOf(entry) >>> 0, 1));
      const warnRefused = throttledLog(REFUSAL_LOG_EVERY_MS);
      const refuse = (socket: Socket, limit: 'maxPerListener' | 'maxPerAddress', value: number, address: string) => {
        refused[limit]++;
        const text = `${limit === 'maxPerAddress' ? `${address} has` : 'this listener has'} ${value} connections open (limits.connections.${limit} = ${value})\n`;
        if (refusal === 'close') socket.destroy();
        else {
          // Written and closed before node's HTTP parser reads a byte of the request.
          socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
          socket.destroySoon();
        }
        warnRefused((n) => logger.warn({ listener, limit: `limits.connections.${limit}`, value, address, refusedSinceLastWarning: n }, 'connection refused: too many open'));
      };
      // Before node's own listener, which would start reading the request (HTTP) or the handshake (TLS).
      server.prependListener('connection', (socket: Socket) => {
        const address = addressKey(socket.remoteAddress ?? '', limits.ipv6PrefixLength);
        const fromAddress = perAddress.get(address) ?? 0;
        if (maxPerListener > 0 && open >= maxPerListener) return refuse(socket, 'maxPerListener', maxPerListener, address);
        if (maxPerAddress > 0 && fromAddress >= maxPerAddress) return refuse(socket, 'maxPerAddress', maxPerAddress, address);
        open++;
        perAddress.set(address, fromAddress + 1);
        socket.once('close', () => {
          open--;
          const left = (perAddress.get(address) ?? 1) - 1;
          if (left > 0) perAddress.set(address, left);
          else perAddress.delete(address);
        });
      });
    },
    metrics: () =>
      listeners.flatMap(({ listener, open, refused }) => [
        { name: 'teleql_connections_open', help: 'Connections open on a listener (OTLP/gRPC, OTLP/HTTP, GraphQL)', type: 'gauge' as const, value: open(), labels: { listener } },
        ...(['maxPerListener', 'maxPerAddress'] as const).map((limit) => ({
          name: 'teleql_connections_refused_total',
          help: 'Connections refused at accept because a cap was reached (limits.connections.maxPerListener, maxPerAddress)',
          type: 'counter' as const,
          value: refused[limit],
          labels: { listener, limit },
        })),
      ]),
  };
}
