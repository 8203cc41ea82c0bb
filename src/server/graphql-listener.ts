// The GraphQL port, bound at start-up before the store opens and before the GraphQL modules load
// (the heaviest): a port in use then stops start-up before the DuckDB file is created, and probes
// get answers while the gateway starts (/healthz 200, /readyz 503 `starting`) instead of a refused
// connection. Until the GraphQL server takes it over (`serve`), every other request gets 503 with
// Retry-After and a WebSocket upgrade is refused the same way. Light on purpose: node's http(s)
// and the connection limits only.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { type ConnectionCaps, type ConnectionLimits, applyHttpTimeouts, defaultConnectionLimits, httpServerOptions } from './connection-limits.ts';
import { hostPort, listen } from './listen.ts';
import type { ErrorCode } from '../errors.ts';
import type { Authenticator } from '../auth/authenticator.ts';
import { nodeHeaders, UNAUTHENTICATED_MESSAGE } from '../auth/types.ts';
import { type ListenerTls, tlsHandshakeOptions } from './tls.ts';

export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface GraphQLListenerOptions {
  host: string;
  port: number;
  /** What /readyz answers while starting (the app's state; `starting` until ready). */
  readiness: () => string;
  connections?: ConnectionLimits;
  connectionCaps?: ConnectionCaps;
  /** Serve HTTPS / WSS with this certificate, following its reloads. */
  tls?: ListenerTls;
  /** Who may ask the probes while starting (auth.health), as once the GraphQL server serves. */
  authenticator?: Authenticator;
}

export interface GraphQLListener {
  /** host:port bound. */
  readonly address: string;
  /** Hands the requests and upgrades to the GraphQL server. */
  serve(handler: RequestListener, upgrade: UpgradeListener): void;
  /** Stops listening and closes every connection; safe twice. */
  close(): Promise<void>;
}

/** Seconds a client is asked to wait while the gateway starts (DuckDB opening, GraphQL loading: ~1 s). */
const STARTING_RETRY_AFTER_SECONDS = 1;

/** A refusal as a GraphQL error body, the way every HTTP refusal of the GraphQL port is answered. */
export function refuse(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

/**
 * Answers the probes, whoever holds the port: /healthz 200 while the process serves, /readyz 200
 * only while `ready`. `url` is the path without its query string. False for any other path. With
 * auth on, a caller without a valid credential gets /readyz's status without its reason (a failed
 * store reopen's message names the DuckDB file), or 401 with auth.health: authenticated.
 */
export function answerProbe(url: string, req: IncomingMessage, res: ServerResponse, readiness: () => string, authenticator?: Authenticator): boolean {
  if (url !== '/healthz' && url !== '/readyz') return false;
  const answer = (access: 'detail' | 'status' | 'refused') => {
    if (access === 'refused') {
      refuse(res, 401, 'GW_UNAUTHENTICATED', UNAUTHENTICATED_MESSAGE, { 'www-authenticate': 'Bearer' });
    } else if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else {
      const status = readiness();
      // `unavailable: <why>` → `unavailable`.
      const shown = access === 'detail' ? status : status.replace(/:.*$/s, '');
      res.writeHead(status === 'ready' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: shown }));
    }
  };
  if (!authenticator) answer('detail');
  else authenticator.probeAccess(nodeHeaders(req.headers)).then(answer, () => answer('refused'));
  return true;
}

function answerStarting(readiness: () => string, authenticator: Authenticator | undefined): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (answerProbe((req.url ?? '/').split('?')[0]!, req, res, readiness, authenticator)) return;
    const code: ErrorCode = 'GW_STARTING';
    const body = { errors: [{ message: 'teleql is starting (its store is opening); retry in a moment', extensions: { code } }] };
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': String(STARTING_RETRY_AFTER_SECONDS), connection: 'close' }).end(JSON.stringify(body));
  };
}

const refuseUpgrade: UpgradeListener = (_req, socket) => {
  socket.end(`HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${STARTING_RETRY_AFTER_SECONDS}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
};

/** Binds the GraphQL port (a SettingError naming graphql.port / graphql.host when it cannot). */
export async function openGraphQLListener(opts: GraphQLListenerOptions): Promise<GraphQLListener> {
  let handler: RequestListener = answerStarting(opts.readiness, opts.authenticator);
  let upgrade: UpgradeListener = refuseUpgrade;
  const connections = opts.connections ?? defaultConnectionLimits();
  const serverOptions = httpServerOptions(connections);
  const dispatch: RequestListener = (req, res) => handler(req, res);
  const server: Server = opts.tls ? createHttpsServer({ ...opts.tls.server, ...serverOptions, ...tlsHandshakeOptions(connections) }, dispatch) : createServer(serverOptions, dispatch);
  if (opts.tls) opts.tls.follow(server as HttpsServer, 'graphql');
  applyHttpTimeouts(server, connections);
  opts.connectionCaps?.apply(server, 'graphql', opts.tls ? 'close' : 'http503');
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => upgrade(req, socket, head));
  const bound = await listen(server, opts.port, opts.host, 'graphql');
  let closed: Promise<void> | undefined;
  return {
    address: hostPort(bound.address, bound.port),
    serve(nextHandler, nextUpgrade) {
      handler = nextHandler;
      upgrade = nextUpgrade;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
