// OTLP/HTTP (https://opentelemetry.io/docs/specs/otlp/#otlphttp) on node:http: POST /v1/{traces,logs,metrics}
// with protobuf or JSON bodies, optionally gzip/deflate, answered in the request's own encoding.
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { NextConsumers, Signal } from '../../component.ts';
import { type OtlpFormat, encodeExportResponse, encodeStatus } from '../../../src/otlp/codec.ts';
import type { OtlpReceiverConfig } from './config.ts';
import { type ReceiveContext, ReceiveError, type RunningServer, badRequest, failureReason, receive, tooLarge, unsupportedMedia } from './receive.ts';
import type { ReceiverGuard } from './guard.ts';
import { hostPort, listen } from '../../../src/server/listen.ts';
import { nodeHeaders } from '../../../src/auth/types.ts';
import { wildcardRegExp } from '../../../src/model/patterns.ts';
import { type ConnectionCaps, type ConnectionLimits, applyHttpTimeouts, httpServerOptions } from '../../../src/server/connection-limits.ts';
import { type RefusalDelay, holdHttpRefusal } from '../../../src/limits/refusal-delay.ts';
import { type ListenerTls, tlsHandshakeOptions } from '../../../src/server/tls.ts';
import { RequestBodyError, SUPPORTED_ENCODINGS, SUPPORTED_ENCODINGS_TEXT, contentEncoding, declaredLength, readRequestBody } from '../../../src/server/request-body.ts';

const PATHS: Record<string, Signal> = { '/v1/traces': 'traces', '/v1/logs': 'logs', '/v1/metrics': 'metrics' };
const CONTENT_TYPE: Record<OtlpFormat, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };
const RETRY_AFTER_SECONDS = '1';
const SHUTDOWN_GRACE_MS = 5000;
/** How long a refused request's unread body of unknown length is waited for before the connection is cut. */
const SKIP_STALL_MS = 5000;
/** How long a connection closed with its body unread stays half-open, so the client reads its 429 before the close resets it. */
const LINGER_MS = 1000;

export interface HttpServerOptions {
  config: OtlpReceiverConfig;
  next: NextConsumers;
  ctx: ReceiveContext;
  logger: Logger;
  guard: ReceiverGuard;
  connections: ConnectionLimits;
  /** Caps the connections open at once (limits.connections.maxPerListener, maxPerAddress); none when absent. */
  connectionCaps?: ConnectionCaps;
  /** Names this listener in the caps' log lines and /metrics. */
  listenerName?: string;
  /** The receiver's config path (`receivers.otlp`), named when its port cannot be bound. */
  setting?: string;
  /** Holds a flooding tenant's 429s until its Retry-After window ends (limits.refusalDelay). */
  refusalDelay: RefusalDelay;
  /** TLS (OTLP's: with the client CA), whose reloads the server follows; plain HTTP when absent. */
  tls?: ListenerTls;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningServer> {
  const { config, logger } = opts;
  let closing = false;
  const handle = createHandler(opts, () => closing);
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      opts.ctx.stats.failedRequests.internal++;
      logger.error({ err }, 'otlp/http request failed unexpectedly');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
  const serverOptions = httpServerOptions(opts.connections);
  const server = opts.tls ? https.createServer({ ...opts.tls.http, ...serverOptions, ...tlsHandshakeOptions(opts.connections) }, listener) : http.createServer(serverOptions, listener);
  if (opts.tls) opts.tls.follow(server as https.Server, 'otlp');
  applyHttpTimeouts(server, opts.connections);
  opts.connectionCaps?.apply(server, opts.listenerName ?? 'otlp/http', opts.tls ? 'close' : 'http503');
  // A client that announces its size with `Expect: 100-continue` learns about 413 before sending it.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (Number(req.headers['content-length'] ?? 0) <= config.maxRequestBytes) res.writeContinue();
    server.emit('request', req, res);
  });
  const { address, port } = await listen(server, config.http.port, config.http.host, `${opts.setting ?? 'receivers.otlp'}.http`);
  return {
    address: hostPort(address, port),
    close: () => {
      closing = true;
      // Held refusals are answered now: a stop never waits for the tarpit.
      opts.refusalDelay.close();
      return new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}

function createHandler(opts: HttpServerOptions, isClosing: () => boolean) {
  const { config, next, ctx, logger } = opts;
  const max = config.maxRequestBytes;
  const served = Object.entries(PATHS).filter(([, signal]) => next[signal]);
  const paths = served.map(([p]) => p).join(', ');
  const allowedOrigins = config.http.cors.allowedOrigins.map((origin) => wildcardRegExp(origin)); // `https://*.example.com`, as the Collector's cors.allowed_origins
  const preflight = preflightAnswer(config);

  return async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    ctx.stats.httpRequests++;
    const origin = req.headers.origin;
    const corsAllowed = origin !== undefined && allowedOrigins.some((re) => re.test(origin));
    if (corsAllowed) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
      res.setHeader('Vary', 'Origin');
    }
    let format: OtlpFormat = 'json';
    let tenant: string | undefined;
    try {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const signal = PATHS[path];
      const consumer = signal && next[signal];
      if (!signal || !consumer) throw new ReceiveError(404, GrpcStatus.UNIMPLEMENTED, `unknown path ${path}; this receiver serves POST ${paths}`);
      if (req.method === 'OPTIONS' && allowedOrigins.length > 0 && req.headers['access-control-request-method']) {
        preflight(req, res, corsAllowed);
        return;
      }
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        throw new ReceiveError(405, GrpcStatus.UNIMPLEMENTED, `method ${req.method} is not allowed on ${path}; use POST`);
      }
      const requestFormat = formatOf(req.headers['content-type']);
      if (!requestFormat) {
        throw unsupportedMedia(`unsupported Content-Type ${JSON.stringify(req.headers['content-type'] ?? '')}; use application/x-protobuf or application/json`);
      }
      format = requestFormat;
      const admitted = opts.guard.admit(nodeHeaders(req.headers), config.tenantHeader);
      tenant = typeof admitted === 'string' ? admitted : await admitted;
      const encoding = contentEncoding(req);
      if (!SUPPORTED_ENCODINGS.includes(encoding)) {
        throw unsupportedMedia(`unsupported Content-Encoding ${JSON.stringify(encoding)}; use ${SUPPORTED_ENCODINGS_TEXT}`);
      }
      const declared = declaredLength(req);
      if (declared !== undefined && declared > max) throw tooLarge(`request body of ${declared} bytes exceeds the limit of ${max} bytes`);
      // Charged before a byte of the body is read: a tenant over its budget costs us no read,
      // inflate or decode (the unread body is skipped by the refusal below).
      const reserved = await opts.guard.reserve(tenant, format, declared);
      const body = await readRequestBody(req, encoding, max).catch((err: unknown) => {
        if (!(err instanceof RequestBodyError)) throw err;
        throw err.kind === 'too-large' ? tooLarge(err.message) : err.kind === 'unsupported' ? unsupportedMedia(err.message) : badRequest(err.message);
      });
      const partial = await receive(ctx, consumer, signal, body, format, tenant, reserved);
      // Shutting down: no keep-alive, so server.close() is not left waiting on an idle connection.
      if (isClosing()) res.setHeader('Connection', 'close');
      res.writeHead(200, { 'Content-Type': CONTENT_TYPE[format] }).end(encodeExportResponse(signal, format, partial));
    } catch (err) {
      if (!(err instanceof ReceiveError)) throw err;
      ctx.stats.failedRequests[failureReason(err)]++;
      logger.debug({ status: err.httpStatus, url: req.url, err: err.message }, 'otlp/http request refused');
      if (err.httpStatus === 503) res.setHeader('Retry-After', RETRY_AFTER_SECONDS);
      if (err.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      if (err.httpStatus === 401) res.setHeader('WWW-Authenticate', 'Bearer');
      const answer = () => void res.writeHead(err.httpStatus, { 'Content-Type': CONTENT_TYPE[format] }).end(encodeStatus(format, err.grpcCode, err.message));
      const penalty = err.httpStatus === 429 && tenant !== undefined ? opts.guard.penalise?.(tenant, err.retryAfterSeconds ?? 1) : undefined;
      const respond = (held: boolean): void | Promise<void> => {
        if (isClosing()) res.setHeader('Connection', 'close');
        if (penalty?.close && !req.complete) {
          ctx.stats.closedUnread++;
          return closeUnread(req, res, answer);
        }
        // A held request's socket was paused: read on (the rest of the body, then the next request).
        if (held) req.socket.resume();
        if (req.complete) return answer();
        return skipRest(req, res, max, answer);
      };
      // A tenant that keeps sending after its 429s gets this one late, its body unread until then.
      if (penalty && tenant !== undefined && !isClosing() && holdHttpRefusal(opts.refusalDelay, 'otlp_http', tenant, penalty.window, req.socket, true, () => void respond(true))) return;
      await respond(false);
    }
  };
}

function formatOf(contentType: string | undefined): OtlpFormat | undefined {
  const media = contentType?.split(';')[0]?.trim().toLowerCase();
  if (media === 'application/x-protobuf') return 'protobuf';
  if (media === 'application/json') return 'json';
  return undefined;
}

/**
 * Answers a refused request whose body is not (all) read, without resetting the connection under a
 * client that is still sending: closing a socket with unread data makes the kernel send RST, and
 * the client sees ECONNRESET instead of our 401/413/429. A body of known length within `max` is
 * answered at once and skipped unparsed (node:http drains it and keeps the connection alive). Any
 * other body is skipped up to `max` bytes first, then answered with `Connection: close`; past `max`
 * (or a stalled client) the connection is cut, since we will not read without bound.
 */
function skipRest(req: http.IncomingMessage, res: http.ServerResponse, max: number, answer: () => void): Promise<void> {
  const length = Number(req.headers['content-length'] ?? NaN);
  // Over the limit, an `Expect: 100-continue` client was sent no 100 Continue: it waits for this
  // answer before sending anything, so waiting for its body would only stall both sides.
  if (length > max && req.headers.expect?.toLowerCase() === '100-continue') {
    closeUnread(req, res, answer);
    return Promise.resolve();
  }
  if (Number.isFinite(length) && length <= max) {
    // Flowing with no reader (or readRequestBody's, settled and ignoring; perhaps paused on its destroyed
    // inflater) discards the rest as it arrives. (Leaving an unread body to node:http's discard once
    // the answer is sent stops reading until then: measured 2026-12-02, ~2× the CPU per refused
    // 768 KB request, bench/abuse-refusal.ts.)
    req.resume();
    answer();
    return Promise.resolve();
  }
  res.setHeader('Connection', 'close');
  return new Promise<void>((resolve) => {
    let skipped = 0;
    const finish = () => {
      clearTimeout(stall);
      req.off('data', onData);
      if (!res.headersSent) answer();
      resolve();
    };
    const onData = (chunk: Buffer) => {
      skipped += chunk.length;
      if (skipped > max) {
        finish();
        req.socket.destroySoon();
      }
    };
    const stall = setTimeout(finish, SKIP_STALL_MS);
    req.on('data', onData);
    req.once('end', finish);
    req.once('close', finish);
    req.resume();
  });
}

/**
 * The 429 of a tenant that keeps sending after being refused (limits.ingest.closeAfterRefusals):
 * not one more byte of the body is read. The answer goes out with `Connection: close`, our side is
 * half-closed (FIN) and the socket, left unread, is cut after LINGER_MS. Cutting it at once with
 * data unread would make the kernel reset the connection, and a client that reads its answer late
 * would see ECONNRESET instead of the 429 (bench/abuse-reset.ts). While it lingers the client can
 * send one TCP receive window at most, which the kernel holds and we never read.
 */
function closeUnread(req: http.IncomingMessage, res: http.ServerResponse, answer: () => void): void {
  const socket = req.socket;
  // node:http stops reading a paused socket ('pause' → readStop).
  socket.pause();
  // Once the answer is sent node:http would resume the socket to discard the unread body, then
  // destroy it (a reset, with data unread): for this socket, neither.
  socket.resume = () => socket;
  socket.destroySoon = () => {
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
  res.setHeader('Connection', 'close');
  answer();
}

/** Request headers a preflight may always ask for: the ones OTLP exporters send (and credentials). */
const CORS_BASE_HEADERS = ['accept', 'authorization', 'content-encoding', 'content-type', 'origin', 'x-requested-with'];

/** The CORS preflight, as the Collector's: allowed origins only, and only headers it may send. */
function preflightAnswer(config: OtlpReceiverConfig) {
  const { allowedHeaders, maxAge } = config.http.cors;
  const anyHeader = allowedHeaders.includes('*');
  const headers = new Set([...CORS_BASE_HEADERS, config.tenantHeader, ...allowedHeaders].map((h) => h.toLowerCase()));
  return (req: http.IncomingMessage, res: http.ServerResponse, originAllowed: boolean): void => {
    const refuse = (why: string) => void res.writeHead(403, { 'Content-Type': 'text/plain' }).end(why);
    if (!originAllowed) return refuse(`origin ${req.headers.origin ?? '(none)'} is not allowed (receivers.otlp.http.cors.allowedOrigins)`);
    const requested = (req.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== '');
    const refused = anyHeader ? [] : requested.filter((h) => !headers.has(h));
    if (refused.length > 0) return refuse(`request headers ${refused.join(', ')} are not allowed (receivers.otlp.http.cors.allowedHeaders)`);
    res.writeHead(204, {
      'Access-Control-Allow-Methods': 'POST',
      ...(requested.length > 0 && { 'Access-Control-Allow-Headers': requested.join(', ') }),
      'Access-Control-Max-Age': String(maxAge),
    });
    res.end();
  };
}

