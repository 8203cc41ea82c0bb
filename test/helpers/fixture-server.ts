// A small HTTP server for adapter tests: it answers from a route table (status, headers, a body or a
// body file) and records every request it got (method, path, query, headers, body), so a test can
// serve a backend's real response documents offline and then assert exactly what the adapter sent.
// It also records how each exchange ended, so a timeout test can prove from the server's side, without
// a clock, that the client gave up on a `hang` or `stallAfterBytes` answer and closed its connection.
// Backend-neutral: the Jaeger and Elasticsearch adapter tests both use it.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** The path without the query string, still percent-encoded as sent. */
  path: string;
  /** Every query parameter with its values in the order sent (decoded). */
  query: Record<string, string[]>;
  /** The raw request target: path plus query string. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Body bytes of the answer written so far: all of them once answered, `stallAfterBytes` of them, 0 for `hang`. */
  sentBytes: number;
  /**
   * How the exchange ended, once it has: `answered` (the whole answer went out), `abandoned` (the
   * client closed the connection before that: it gave up) or `server-closed` (close() cut it).
   * Pending until then, so awaiting it on a request nobody gives up on hangs the test.
   */
  readonly ended: Promise<ExchangeEnd>;
}

export type ExchangeEnd = 'answered' | 'abandoned' | 'server-closed';

export interface FixtureRoute {
  /** Default: any method. */
  method?: string;
  /** The exact path (without the query string), or a pattern tested against it. */
  path: string | RegExp;
  /** A further condition, e.g. on the query or a header. */
  when?: (req: RecordedRequest) => boolean;
  /** Default 200. */
  status?: number;
  /** Repeat a header by giving an array (e.g. several WWW-Authenticate values). */
  headers?: OutgoingHttpHeaders;
  body?: string | Buffer;
  /** A file whose bytes are the body, read when the request comes (a fixture document). */
  bodyFile?: string;
  /** Send the body in chunks without Content-Length (Transfer-Encoding: chunked), as servers do for large bodies. */
  chunked?: boolean;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Never answer: the request stays open until the client gives up or the server closes (timeout tests). */
  hang?: boolean;
  /** Send the headers (with the full Content-Length) and only this many body bytes, then stall. */
  stallAfterBytes?: number;
  /** Compute the answer from the request instead; the fields it returns override the route's. */
  respond?: (req: RecordedRequest) => Omit<FixtureRoute, 'path' | 'method' | 'when' | 'respond'>;
}

export interface FixtureServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Every request received, oldest first; each says how its exchange ended (`ended`). */
  readonly requests: RecordedRequest[];
  /** Replaces the route table; the first route that matches a request answers it. */
  setRoutes(routes: FixtureRoute[]): void;
  /** Forgets the recorded requests. */
  clearRequests(): void;
  close(): Promise<void>;
}

export interface FixtureServerOptions {
  /** The answer when no route matches. Default: Go's mux, 404 `404 page not found\n` as text/plain. */
  fallback?: Omit<FixtureRoute, 'path' | 'method' | 'when'>;
}

const GO_NOT_FOUND: Omit<FixtureRoute, 'path'> = {
  status: 404,
  headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
  body: '404 page not found\n',
};

function matches(route: FixtureRoute, req: RecordedRequest): boolean {
  if (route.method && route.method.toUpperCase() !== req.method) return false;
  if (typeof route.path === 'string' ? route.path !== req.path : !route.path.test(req.path)) return false;
  return route.when ? route.when(req) : true;
}

function send(res: ServerResponse, answer: Omit<FixtureRoute, 'path'>, recorded: RecordedRequest): void {
  const body = answer.bodyFile !== undefined ? readFileSync(answer.bodyFile) : Buffer.from(answer.body ?? '');
  const headers: OutgoingHttpHeaders = { ...answer.headers };
  if (!answer.chunked) headers['content-length'] = body.length;
  res.writeHead(answer.status ?? 200, headers);
  if (answer.stallAfterBytes !== undefined) {
    const part = body.subarray(0, answer.stallAfterBytes);
    res.write(part);
    recorded.sentBytes = part.length;
    return;
  }
  recorded.sentBytes = body.length;
  if (!answer.chunked) {
    res.end(body);
    return;
  }
  const size = Math.max(1, Math.ceil(body.length / 3));
  for (let i = 0; i < body.length; i += size) res.write(body.subarray(i, i + size));
  res.end();
}

export async function startFixtureServer(routes: FixtureRoute[] = [], options: FixtureServerOptions = {}): Promise<FixtureServer> {
  let table = routes;
  const requests: RecordedRequest[] = [];
  let closing = false;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = req.url ?? '/';
      const parsed = new URL(target, 'http://fixture.invalid');
      const query: Record<string, string[]> = {};
      for (const [k, v] of parsed.searchParams) (query[k] ??= []).push(v);
      // 'close' comes after 'finish' for a whole answer; before it, the connection went away early.
      const ended = new Promise<ExchangeEnd>((resolve) => {
        res.once('finish', () => resolve('answered'));
        res.once('close', () => resolve(res.writableFinished ? 'answered' : closing ? 'server-closed' : 'abandoned'));
      });
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: target.split('?', 1)[0]!,
        query,
        url: target,
        headers: req.headers,
        body: Buffer.concat(chunks),
        sentBytes: 0,
        ended,
      };
      requests.push(recorded);
      const route = table.find((r) => matches(r, recorded));
      const answer: Omit<FixtureRoute, 'path'> = route ? { ...route, ...route.respond?.(recorded) } : (options.fallback ?? GO_NOT_FOUND);
      if (answer.hang) return;
      if (answer.delayMs) setTimeout(() => send(res, answer, recorded), answer.delayMs);
      else send(res, answer, recorded);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setRoutes(next) {
      table = next;
    },
    clearRequests() {
      requests.length = 0;
    },
    close() {
      closing = true;
      return new Promise((resolve) => {
        server.close(() => resolve());
        // Hanging requests and keep-alive sockets would otherwise hold close() open.
        server.closeAllConnections();
      });
    },
  };
}

/** A loopback port that nothing listens on (it was free a moment ago): connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
