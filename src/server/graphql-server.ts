// One HTTP server for the query side: GraphQL over HTTP and GraphiQL (Yoga), graphql-ws on the same
// path, and the health endpoints. Every GraphQL request and WebSocket connection is admitted by the
// authenticator (credentials from headers, or the connection_init payload / upgrade request headers
// on WebSocket), which also fixes the tenant; then rate limits, the deadline and the query limits apply.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerProbe, refuse, type GraphQLListener } from './graphql-listener.ts';
import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema, type ExecutionArgs, type execute as graphqlExecute, type subscribe as graphqlSubscribe } from 'graphql';
import { createYoga, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import { WebSocket, WebSocketServer } from 'ws';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.ts';
import { InvalidTenantError } from '../tenant.ts';
import { Histogram, formatPrometheus, type MetricsSource } from './metrics.ts';
import { AuthError, createAuthenticator, type Authenticator } from '../auth/authenticator.ts';
import { connectionParamHeaders, hasScope, nodeHeaders, type Principal } from '../auth/types.ts';
import { defaultAuthConfig, defaultLimitsConfig, type LimitsConfig } from '../config/security.ts';
import { RateLimitedError, createTenantRateLimit } from '../limits/tenant-rate-limit.ts';
import { CONCURRENCY_RETRY_AFTER_SECONDS, createTenantConcurrency } from '../limits/tenant-concurrency.ts';
import { withQuerySignal } from '../stores/query-signal.ts';
import { withQueryMeter } from '../limits/query-time.ts';
import { withRequestClock } from './request-clock.ts';
import { type ConnectionLimits, defaultConnectionLimits } from './connection-limits.ts';
import { CLOSE_HANDSHAKE_MS, watchWebSocket, type WebSocketWatch } from './ws-liveness.ts';
import { cutStalledEventStream } from './sse-liveness.ts';
import { serveGraphQLWs } from './graphql-ws-socket.ts';
import { limitUntilAdmitted, unadmittedBytes } from './ws-admission.ts';
import { RequestBodyError, SUPPORTED_ENCODINGS, SUPPORTED_ENCODINGS_TEXT, contentEncoding, declaredLength, readRequestBody } from './request-body.ts';
import { createRefusalPenalty } from '../limits/refusal-penalty.ts';
import { type RefusalDelay, holdHttpRefusal, noRefusalDelay, refusalDue } from '../limits/refusal-delay.ts';
import { FrameFlusher, compiledSubscriptionsPlugin, type FlushIntervals } from './compiled-subscriptions.ts';
import { compiledQueriesPlugin } from './compiled-queries.ts';
import { boundedParserCache, compiledDocumentChars, validDocumentsPlugin } from './document-cache.ts';
import { variableErrorCodePlugin } from './variable-errors.ts';
import { inputDepthPlugin } from './input-depth.ts';
import {
  DeadlineError,
  armorPlugin,
  checkQueryText,
  costBudget,
  costLimitPlugin,
  deadlinePlugin,
  limitStatusPlugin,
  persistedQueriesPlugin,
  queryTextLimitPlugin,
} from './query-limits.ts';

/** The gateway's state as /readyz reports it: `draining` from a stop until the listeners close (shutdown.drainMs). */
export type Readiness = 'starting' | 'ready' | 'draining';

export interface GraphQLServerOptions {
  /** The bound port (src/server/graphql-listener.ts), which this server takes over on start. */
  listener: GraphQLListener;
  path: string;
  graphiql: boolean;
  exposeInternalErrors: boolean;
  tenantHeader: string;
  /** graphql.cors: origins whose pages may call the API (default: none). */
  cors?: { allowedOrigins: string[] };
  schema: GraphQLSchema;
  /**
   * Builds the per-request context (stores, fresh DataLoaders) for a tenant. `connection` is stable
   * for one client connection (the graphql-ws socket; for HTTP and SSE, the request).
   */
  contextFor: (tenant: string, connection: object) => object;
  /** What /readyz answers: 200 only while `ready`; 503 otherwise (starting, draining before a stop, the store unavailable: the status says why). */
  readiness: () => string;
  /** The gateway's own metrics, served on /metrics. */
  metrics: MetricsSource;
  logger: Logger;
  /** Who may query (default: auth off, tenant from the header). */
  authenticator?: Authenticator;
  /** auth.metrics: `open` serves /metrics without a credential; otherwise it needs the metrics scope. */
  metricsAccess?: 'metrics' | 'admin' | 'open';
  limits?: LimitsConfig['graphql'];
  /** Idle and slow connection timeouts (HTTP and graphql-ws). */
  connections?: ConnectionLimits;
  /** tail.compiled: subscription events run compiled (default true). */
  compileSubscriptions?: boolean;
  /** tail.flushIntervalMs / busyFlushIntervalMs: how long pushed tail events are held to share a socket write (default: at once). */
  tailFlush?: FlushIntervals;
  /** graphql.compiledQueries: a query document's repeated runs execute compiled by graphql-jit (default true). */
  compiledQueries?: boolean;
  /** Holds a flooding tenant's 429s until its Retry-After window ends (limits.refusalDelay; none when absent). */
  refusalDelay?: RefusalDelay;
}

export interface GraphQLServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  address(): string;
}

/** Yoga's log arguments as pino fields: an Error under `err` (pino writes one inside `args` as `{}`). */
function yogaLogFields(args: unknown[]): Record<string, unknown> {
  const err = args.find((a) => a instanceof Error);
  const rest = args.filter((a) => a !== err);
  return { ...(err !== undefined && { err }), ...(rest.length > 0 && { args: rest }) };
}

/** Yoga answers a GET whose `variables` or `extensions` is not JSON with an internal error (500). */
function badGetParameter(url: string): string | undefined {
  const params = new URL(url, 'http://x').searchParams;
  for (const name of ['variables', 'extensions']) {
    const value = params.get(name);
    if (value === null || value === '') continue;
    try {
      JSON.parse(value);
    } catch {
      return `the ${name} parameter is not valid JSON`;
    }
  }
  return undefined;
}

/**
 * Whether a WebSocket upgrade may proceed: clients that are not browsers send no Origin; a browser
 * page may connect from the gateway's own origin (GraphiQL) or one graphql.cors.allowedOrigins lists.
 */
export function webSocketOriginAllowed(origin: string | undefined, host: string | undefined, allowedOrigins: readonly string[]): boolean {
  if (!origin) return true;
  if (allowedOrigins.includes('*') || allowedOrigins.includes(origin)) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * The request's media type when it is one a browser sends cross-site without asking (no CORS
 * preflight): Yoga would run a mutation posted by a form on any page the user opens.
 */
function crossSiteContentType(req: IncomingMessage): string | undefined {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'].includes(type) ? type : undefined;
}

/** What the credential watches below need of a graphql-ws socket. */
type ClosableSocket = { close(code: number, reason: string): void; once(event: 'close', fn: () => void): unknown };

/**
 * A refusal's close reason: its GW_* code first, as HTTP refusals carry it, so a client can tell
 * why without parsing prose; cut to WebSocket's 123-byte limit on close reasons.
 */
function closeReason(code: 'GW_UNAUTHENTICATED' | 'GW_FORBIDDEN' | 'GW_BAD_ARGUMENT', message: string): string {
  return Buffer.from(`${code}: ${message}`).subarray(0, 123).toString().replace(/\uFFFD$/, '');
}

/**
 * A graphql-ws connection (or an SSE stream) lives as long as its client keeps it: its credential
 * (a JWT) is checked once, at connection_init (the request), so the socket is closed (4401; the
 * stream is cut) when that credential expires, and the client must connect again with a fresh one.
 */
function closeWhenExpired(socket: ClosableSocket, validUntilMs: number): void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = validUntilMs - Date.now();
    // setTimeout holds at most ~24.8 days: a longer-lived token re-arms.
    timer = left <= 0 ? setTimeout(() => socket.close(4401, closeReason('GW_UNAUTHENTICATED', 'the credential expired')), 0) : setTimeout(arm, Math.min(left, 2 ** 31 - 1));
  };
  arm();
  socket.once('close', () => clearTimeout(timer));
}

/** The same for a credential withdrawn while its socket is open (an API key removed by a reload). */
function closeWhenRevoked(socket: ClosableSocket, revoked: AbortSignal): void {
  const close = () => socket.close(4401, closeReason('GW_UNAUTHENTICATED', 'the credential was revoked'));
  if (revoked.aborted) return close();
  revoked.addEventListener('abort', close, { once: true });
  socket.once('close', () => revoked.removeEventListener('abort', close));
}

/** A refusal answered before Yoga runs, in the GraphQL-over-HTTP error shape. */
/**
 * Reads a GraphQL POST body (limits.graphql.maxBodyBytes, gzip/deflate inflated) and hands it to
 * Yoga as already read; false when refused (answered). Yoga's own body limit pipes every
 * request through a web TransformStream and node's stream pipeline: ~0.2–0.4 ms of CPU per request,
 * a fifth of a small query's (bench/README.md, 2026-12-02, session 10).
 */
async function readGraphQLBody(req: IncomingMessage, res: ServerResponse, max: number): Promise<boolean> {
  const encoding = contentEncoding(req);
  if (!SUPPORTED_ENCODINGS.includes(encoding)) {
    refuse(res, 415, 'GW_BAD_ARGUMENT', `unsupported Content-Encoding ${JSON.stringify(encoding)}; use ${SUPPORTED_ENCODINGS_TEXT}`, { connection: 'close' });
    return false;
  }
  const declared = declaredLength(req);
  let body: Buffer;
  try {
    if (declared !== undefined && declared > max) throw new RequestBodyError('too-large', `request body of ${declared} bytes exceeds the limit of ${max} bytes`);
    body = await readRequestBody(req, encoding, max);
  } catch (err) {
    if (!(err instanceof RequestBodyError)) throw err;
    if (err.kind === 'too-large') refuse(res, 413, 'GW_QUERY_TOO_LARGE', `${err.message} (limits.graphql.maxBodyBytes)`, { connection: 'close' });
    else refuse(res, err.kind === 'unsupported' ? 415 : 400, 'GW_BAD_ARGUMENT', err.message, { connection: 'close' });
    return false;
  }
  if (encoding !== 'identity') {
    delete req.headers['content-encoding'];
    req.headers['content-length'] = String(body.length);
  }
  // whatwg-node takes `req.body` as read (as behind Express' body parsers). It first lists the
  // body's own keys, one string per byte of a Buffer, so a larger body goes as an iterable of itself.
  (req as IncomingMessage & { body?: unknown }).body =
    body.length <= 4096 ? body : { body, async *[Symbol.asyncIterator]() { yield body; } };
  return true;
}

/** Turns an admission failure into its HTTP answer; false when `err` is not one. */
function refuseAdmission(res: ServerResponse, err: unknown): boolean {
  if (err instanceof AuthError) {
    if (err.kind === 'unauthenticated') refuse(res, 401, 'GW_UNAUTHENTICATED', err.publicMessage, { 'www-authenticate': 'Bearer' });
    else refuse(res, 403, 'GW_FORBIDDEN', err.publicMessage);
    return true;
  }
  if (err instanceof InvalidTenantError) return refuse(res, 400, 'GW_BAD_ARGUMENT', err.message), true;
  if (err instanceof RateLimitedError) {
    refuse(res, 429, 'GW_RATE_LIMITED', err.message, { 'retry-after': String(err.retryAfterSeconds) });
    return true;
  }
  return false;
}

/** Puts the backends' remarks (context.notes, filled by resolvers) into the response's `extensions.notes`. */
const queryNotesPlugin: Plugin = {
  onExecute: () => ({
    onExecuteDone: ({ args, result, setResult }) => {
      const notes = (args.contextValue as { notes?: string[] }).notes;
      if (!notes?.length || Symbol.asyncIterator in result) return;
      setResult({ ...result, extensions: { ...result.extensions, notes: [...new Set(notes)] } });
    },
  }),
};

/**
 * Mutations change a tenant's alerting (rules, silences): the admin scope, for every mutation the
 * schema has or gains, over HTTP and graphql-ws alike. A read-only key (Grafana's) can still query.
 */
const mutationScopePlugin: Plugin = {
  onExecute: ({ args, setResultAndStopExecution }) => {
    if (getOperationAST(args.document, args.operationName)?.operation !== 'mutation') return;
    const principal = (args.contextValue as { principal?: Principal }).principal;
    if (principal && hasScope(principal, 'admin')) return;
    setResultAndStopExecution({
      errors: [new GatewayError('GW_FORBIDDEN', 'mutations need the admin scope; this credential has ' + [...(principal?.scopes ?? [])].join(', '), { http: { status: 403 } })],
    });
  },
};

/** The deadline of one graphql-ws query or mutation: aborts when it passes or the socket closes. */
function operationDeadline(timeoutMs: number, socket: { once(event: 'close', fn: () => void): unknown; off(event: 'close', fn: () => void): unknown }) {
  const abort = new AbortController();
  const timer = timeoutMs > 0 ? setTimeout(() => abort.abort(new DeadlineError(timeoutMs)), timeoutMs) : undefined;
  const onClose = () => abort.abort(new Error('the client closed the connection'));
  socket.once('close', onClose);
  return {
    signal: abort.signal,
    done: () => {
      clearTimeout(timer);
      socket.off('close', onClose);
    },
  };
}

/**
 * An error as graphql-ws sends it, without the `http` extension: the HTTP status Yoga answers with
 * (and drops from what it sends), which says nothing to a WebSocket client.
 */
function withoutHttpExtension(err: GraphQLError | GraphQLFormattedError): GraphQLFormattedError {
  const formatted = err instanceof GraphQLError ? err.toJSON() : err;
  const { extensions, ...json } = formatted;
  if (!extensions || !('http' in extensions)) return formatted;
  const { http: _http, ...rest } = extensions;
  return Object.keys(rest).length ? { ...json, extensions: rest } : json;
}

/** Runs `done` once `result` (a value or a promise) has settled. */
function settle<T>(result: T | Promise<T>, done: () => void): T | Promise<T> {
  if (!(result instanceof Promise)) {
    done();
    return result;
  }
  return result.finally(done);
}

/** A GraphQL-over-SSE request (a live tail, or a query answered as a stream). */
const acceptsEventStream = (req: IncomingMessage) => String(req.headers.accept ?? '').includes('text/event-stream');

export function createGraphQLServer(opts: GraphQLServerOptions): GraphQLServer {
  const authenticator = opts.authenticator ?? createAuthenticator(defaultAuthConfig(), opts.logger);
  const limits = opts.limits ?? defaultLimitsConfig().graphql;
  const connections = opts.connections ?? defaultConnectionLimits();
  const rateLimit = createTenantRateLimit('limits.graphql.requestsPerSecond', limits.requestsPerSecond);
  // DuckDB read time, charged after each request from its meter; checked before the next is parsed.
  const queryTime = createTenantRateLimit('limits.graphql.duckdbMsPerSecond', limits.duckdbMsPerSecond);
  // The cost budget is charged after parsing (the cost needs the document); a tenant that has used
  // it up or owes is refused before its next document is parsed.
  const cost = costBudget(limits);
  const spendQueryTime = (tenant: string, ms: number) =>
    queryTime.spend(tenant, Math.ceil(ms)).catch((err: unknown) => opts.logger.error({ err }, 'charging DuckDB query time failed'));
  const concurrency = createTenantConcurrency(limits.concurrentPerTenant);
  // An HTTP request's concurrency slot, given back early when the request is a subscription.
  const slots = new WeakMap<object, () => void>();
  const refusalDelay = opts.refusalDelay ?? noRefusalDelay;
  // GraphQL's own refusal windows: a tenant flooding queries is told apart from one flooding ingest.
  const refusals = createRefusalPenalty();
  /**
   * Answers a 429 now, or late when the tenant keeps sending after its 429s (limits.refusalDelay).
   * The socket is not paused: a GraphQL body (≤ maxQueryBytes) comes with its headers, and a socket
   * that is read shows a client that gives up at once.
   */
  const refuseRateLimited = (req: IncomingMessage, tenant: string, retryAfterSeconds: number, answer: () => void) => {
    if (!holdHttpRefusal(refusalDelay, 'graphql', tenant, refusals.refused(tenant, retryAfterSeconds), req.socket, false, answer)) answer();
  };
  // Set when a request (HTTP) or connection (graphql-ws) is admitted; read when its context is built.
  const principals = new WeakMap<object, Principal>();
  const signals = new WeakMap<object, AbortSignal>();
  const principalOf = (key: object | undefined): Principal => {
    const p = key && principals.get(key);
    // Only reachable if a request bypassed admission: fail closed.
    if (!p) throw new GatewayError('GW_UNAUTHENTICATED', 'missing or invalid credentials');
    return p;
  };
  const requestSeconds = new Histogram(
    'teleql_graphql_request_duration_seconds',
    'GraphQL HTTP requests by HTTP status, from arrival to the answer sent (refusals included; SSE tails not counted)',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  // An SSE tail gives back its request's concurrency slot once Yoga subscribes it (graphql-ws
  // operations give theirs back in onSubscribe below): tails count against the tail.* caps.
  const subscriptionsHoldNoSlot: Plugin = {
    onSubscribe: ({ args }) => {
      const req = (args.contextValue as { req?: object }).req;
      if (req) slots.get(req)?.();
    },
  };
  // Held tail frames go out on the flusher's rounds; stop() sends what is held.
  const frameFlusher = new FrameFlusher(opts.tailFlush ?? { intervalMs: 0, busyIntervalMs: 0 });
  const yoga = createYoga<{ req?: IncomingMessage; connectionParams?: Record<string, unknown>; wsConnection?: object }>({
    schema: opts.schema,
    graphqlEndpoint: opts.path,
    landingPage: false,
    // Yoga's default answers every origin, with credentials.
    cors: opts.cors?.allowedOrigins.length
      ? { origin: opts.cors.allowedOrigins.includes('*') ? '*' : opts.cors.allowedOrigins, credentials: false, methods: ['GET', 'POST'] }
      : false,
    graphiql: opts.graphiql ? { subscriptionsProtocol: 'WS', title: 'teleql' } : false,
    // GraphiQL's scripts and styles in the page itself: Yoga's default loads them from unpkg.com,
    // and a gateway beside its systems often has no route to the internet. Loaded at the first page
    // (4.5 MB of text: ~85 ms to import, kept off the start-up path).
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    maskedErrors: { isDev: opts.exposeInternalErrors },
    maxRequestBodySize: false, // read and limited in serveGraphQL (readGraphQLBody)
    parserAndValidationCache: boundedParserCache(limits.documentCacheBytes),
    plugins: [
      subscriptionsHoldNoSlot,
      validDocumentsPlugin(),
      queryNotesPlugin,
      mutationScopePlugin,
      persistedQueriesPlugin(limits.persistedQueries, limits.maxQueryBytes, (ctx) => principalOf((ctx as { req?: object }).req).tenant),
      variableErrorCodePlugin,
      queryTextLimitPlugin(limits.maxQueryBytes),
      inputDepthPlugin,
      armorPlugin(limits),
      costLimitPlugin(limits, cost),
      limitStatusPlugin,
      deadlinePlugin,
      compiledSubscriptionsPlugin(opts.compileSubscriptions ?? true, opts.exposeInternalErrors, frameFlusher, compiledDocumentChars(limits.documentCacheBytes)),
      compiledQueriesPlugin(opts.compiledQueries ?? true, compiledDocumentChars(limits.documentCacheBytes)),
    ],
    logging: {
      debug: (...args) => opts.logger.debug(yogaLogFields(args), 'yoga'),
      info: (...args) => opts.logger.info(yogaLogFields(args), 'yoga'),
      warn: (...args) => opts.logger.warn(yogaLogFields(args), 'yoga'),
      error: (...args) => opts.logger.error(yogaLogFields(args), 'yoga'),
    },
    context: (initial: YogaInitialContext & { req?: IncomingMessage; connectionParams?: Record<string, unknown>; wsConnection?: object }) => {
      const principal = principalOf(initial.wsConnection ?? initial.req);
      const requestSignal = initial.req && signals.get(initial.req);
      return { ...opts.contextFor(principal.tenant, initial.wsConnection ?? initial.request), principal, requestSignal };
    },
  });

  /** Admits, rate-limits and runs one GraphQL HTTP request under its deadline. */
  async function serveGraphQL(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let tenant: string;
    let principal: Principal | undefined;
    try {
      principal = await authenticator.admit(nodeHeaders(req.headers), opts.tenantHeader, 'query');
      await rateLimit.charge(principal.tenant);
      await queryTime.check(principal.tenant);
      await cost.check(principal.tenant);
      tenant = principal.tenant;
      principals.set(req, principal);
      // A GraphQL-over-SSE tail lives as long as a graphql-ws one: its stream ends when its
      // credential expires or is withdrawn (before, a removed API key's SSE tails ran on).
      const stream: ClosableSocket = { close: () => res.destroy(), once: (_event, fn) => res.once('close', fn) };
      if (principal.validUntilMs !== undefined) closeWhenExpired(stream, principal.validUntilMs);
      if (principal.revoked) closeWhenRevoked(stream, principal.revoked);
      if (acceptsEventStream(req)) {
        const who = principal.tenant;
        cutStalledEventStream(res, connections.sseStalledMs, () => opts.logger.info({ tenant: who }, `cut an SSE stream whose client took nothing for ${connections.sseStalledMs} ms (limits.connections.sseStalledMs)`));
      }
    } catch (err) {
      if (principal && err instanceof RateLimitedError) return refuseRateLimited(req, principal.tenant, err.retryAfterSeconds, () => void refuseAdmission(res, err));
      if (refuseAdmission(res, err)) return;
      throw err;
    }
    const crossSite = req.method === 'POST' ? crossSiteContentType(req) : undefined;
    if (crossSite) {
      return refuse(res, 415, 'GW_BAD_ARGUMENT', `Content-Type ${crossSite} is not accepted: send application/json (a form on any web page could post that type here)`, { connection: 'close' });
    }
    if (req.method === 'POST' && !(await readGraphQLBody(req, res, limits.maxBodyBytes))) return;
    if (req.method === 'GET') {
      const problem = badGetParameter(req.url ?? '');
      if (problem) return refuse(res, 400, 'GW_BAD_ARGUMENT', problem);
    }
    // Held until the answer is sent, or until the request turns out to be a subscription (an SSE tail).
    const release = concurrency.acquire(tenant);
    if (!release) {
      refuseRateLimited(req, tenant, CONCURRENCY_RETRY_AFTER_SECONDS, () =>
        refuse(res, 429, 'GW_RATE_LIMITED', concurrency.refusal, { 'retry-after': String(CONCURRENCY_RETRY_AFTER_SECONDS) }),
      );
      return;
    }
    res.once('close', release);
    slots.set(req, release);
    const abort = new AbortController();
    signals.set(req, abort.signal);
    const timer = limits.timeoutMs > 0 ? setTimeout(() => abort.abort(new DeadlineError(limits.timeoutMs)), limits.timeoutMs) : undefined;
    // The client going away before the answer is sent also interrupts its queries.
    res.once('close', () => {
      if (!res.writableFinished) abort.abort(new Error('the client closed the connection'));
    });
    const meter = { ms: 0, tenant };
    try {
      await withQueryMeter(meter, () => withQuerySignal(abort.signal, () => withRequestClock(() => yoga.handle(req, res))));
    } finally {
      clearTimeout(timer);
      if (meter.ms > 0) await spendQueryTime(tenant, meter.ms);
    }
  }

  async function serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (authenticator.mode !== 'none' && opts.metricsAccess !== 'open') {
      try {
        // The metrics scope, or admin with auth.metrics: admin (the authenticator adds it then).
        await authenticator.admit(nodeHeaders(req.headers), opts.tenantHeader, 'metrics');
      } catch (err) {
        if (refuseAdmission(res, err)) return;
        throw err;
      }
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(formatPrometheus([...opts.metrics(), ...frameFlusher.metrics(), ...requestSeconds.samples()]));
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    // The path alone: Prometheus' scrape `params` and probes may add a query string.
    const url = (req.url ?? '/').split('?')[0]!;
    const failed = (err: unknown) => {
      opts.logger.error({ err }, 'graphql request failed unexpectedly');
      if (!res.headersSent) refuse(res, 500, 'INTERNAL_SERVER_ERROR', 'Unexpected error.');
      else res.destroy();
    };
    if (answerProbe(url, req, res, opts.readiness, authenticator)) return;
    if (url === '/metrics') {
      serveMetrics(req, res).catch(failed);
      return;
    }
    // Live tails over SSE last as long as the client listens: not a request duration.
    if (!acceptsEventStream(req)) {
      const started = performance.now();
      res.once('finish', () => requestSeconds.observe((performance.now() - started) / 1000, { status: String(res.statusCode) }));
    }
    if (isPreflight(req, url)) {
      answerPreflight(req, res).catch(failed);
      return;
    }
    serveGraphQL(req, res).catch(failed);
  };

  /**
   * A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) to the GraphQL path:
   * browsers send it without credentials (Fetch standard), so with auth on it must be answered
   * before authentication, or no listed origin could ever send its authenticated request (security
   * QA). A listed origin gets Yoga's answer (204 and the headers Yoga's CORS gives it, and nothing
   * runs); any other origin 204 with no Access-Control-Allow-* header, so the browser sends nothing.
   * Every other OPTIONS request, and any other path, is authenticated as before.
   */
  function isPreflight(req: IncomingMessage, url: string): boolean {
    return req.method === 'OPTIONS' && url === opts.path && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined;
  }
  async function answerPreflight(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const allowed = opts.cors?.allowedOrigins ?? [];
    if (allowed.includes('*') || allowed.includes(req.headers.origin!)) await yoga.handle(req, res);
    else res.writeHead(204, { 'content-length': '0', vary: 'Origin' }).end();
  }

  // ws accepts 100 MiB messages by default: an admitted connection's are held to the HTTP body
  // limit, and before admission a connection may send far less in all (ws-admission.ts).
  // noServer, and the upgrade handed over below: given the server, ws would re-emit its errors (a
  // port in use at start-up) as its own, which graphql-ws prints to the console as an internal one.
  const wss = new WebSocketServer({
    noServer: true,
    path: opts.path,
    maxPayload: limits.maxBodyBytes,
    // A connection the server closes is cut when the peer has not finished the closing handshake by
    // then (ws ≥ 8.23's option; @types/ws does not list it yet).
    ...({ closeTimeout: CLOSE_HANDSHAKE_MS } as object),
    // CORS does not cover WebSockets: a page of another origin could open one to a local gateway.
    verifyClient: ({ origin, req }: { origin: string | undefined; req: IncomingMessage }) => webSocketOriginAllowed(origin, req.headers.host, opts.cors?.allowedOrigins ?? []),
  });
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  const beforeAdmission = new WeakMap<object, () => void>();
  // Per graphql-ws context: told when an operation ends, so idle time counts from then.
  const watches = new WeakMap<object, WebSocketWatch>();
  const maxUnadmittedBytes = unadmittedBytes(limits.maxBodyBytes);
  // Registered before graphql-ws' own listener, so counting starts before any message is handled.
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    beforeAdmission.set(socket, limitUntilAdmitted(socket, request.socket, maxUnadmittedBytes));
  });
  const wsCleanup = serveGraphQLWs(
    {
      // Credentials come in connection_init (top level or under `headers`), else the upgrade request.
      onConnect: async (ctx) => {
        const headers = connectionParamHeaders(ctx.connectionParams, nodeHeaders(ctx.extra.request.headers));
        try {
          const principal = await authenticator.admit(headers, opts.tenantHeader, 'query');
          // Closed while its credential was checked (its client left, or sent too much meanwhile):
          // nothing to watch, and its close listeners have already run.
          if (ctx.extra.socket.readyState !== WebSocket.OPEN) return false;
          beforeAdmission.get(ctx.extra.socket)?.();
          principals.set(ctx, principal);
          watches.set(ctx, watchWebSocket(ctx.extra.socket, connections, () => Object.keys(ctx.subscriptions).length));
          if (principal.validUntilMs !== undefined) closeWhenExpired(ctx.extra.socket, principal.validUntilMs);
          if (principal.revoked) closeWhenRevoked(ctx.extra.socket, principal.revoked);
          return true;
        } catch (err) {
          if (!(err instanceof AuthError) && !(err instanceof InvalidTenantError)) throw err;
          // Closed here rather than by graphql-ws (4403 "Forbidden") so the reason carries the code.
          if (err instanceof InvalidTenantError) ctx.extra.socket.close(4400, closeReason('GW_BAD_ARGUMENT', err.message));
          else if (err.kind === 'unauthenticated') ctx.extra.socket.close(4401, closeReason('GW_UNAUTHENTICATED', err.publicMessage));
          else ctx.extra.socket.close(4403, closeReason('GW_FORBIDDEN', err.publicMessage));
          return false;
        }
      },
      // graphql-ws calls onComplete when an operation ends (by the server or the client), onError
      // when it fails or is refused.
      onComplete: (ctx) => watches.get(ctx)?.operationEnded(),
      onError: (ctx, _id, _payload, errors) => {
        watches.get(ctx)?.operationEnded();
        return errors.map(withoutHttpExtension);
      },
      onNext: (_ctx, _id, _payload, _args, result: ExecutionResult) =>
        result.errors?.some((e) => e.extensions?.['http']) ? { ...result, errors: result.errors.map(withoutHttpExtension) } : undefined,
      execute: (args) => (args.rootValue as { execute: typeof graphqlExecute }).execute(args),
      subscribe: (args) => (args.rootValue as { subscribe: typeof graphqlSubscribe }).subscribe(args),
      onSubscribe: async (ctx, id, payload) => {
        const tooLarge = checkQueryText(payload.query, limits.maxQueryBytes);
        if (tooLarge) return [tooLarge];
        const tenant = principalOf(ctx).tenant;
        try {
          await rateLimit.charge(tenant);
          await queryTime.check(tenant);
          await cost.check(tenant);
        } catch (err) {
          if (err instanceof RateLimitedError) {
            // A tenant that keeps sending after its refusals gets this one late (limits.refusalDelay).
            await refusalDue(refusalDelay, 'graphql', tenant, refusals.refused(tenant, err.retryAfterSeconds), ctx.extra.socket);
            return [new GatewayError('GW_RATE_LIMITED', err.message, { retryAfterSeconds: err.retryAfterSeconds })];
          }
          throw err;
        }
        // A query or mutation holds a slot of limits.graphql.concurrentPerTenant until it has run,
        // as over HTTP; a subscription gives it back once parsed, and so does a refused operation.
        const release = concurrency.acquire(tenant);
        if (!release) {
          await refusalDue(refusalDelay, 'graphql', tenant, refusals.refused(tenant, CONCURRENCY_RETRY_AFTER_SECONDS), ctx.extra.socket);
          return [new GatewayError('GW_RATE_LIMITED', concurrency.refusal, { retryAfterSeconds: CONCURRENCY_RETRY_AFTER_SECONDS })];
        }
        let running = false;
        try {
          const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
            ...ctx,
            req: ctx.extra.request,
            socket: ctx.extra.socket,
            params: payload,
            // POST: Yoga refuses a mutation in a GET (cacheable) request, which a Request without a
            // method is; a graphql-ws operation is never cacheable.
            request: new Request('http://localhost' + opts.path, { method: 'POST', headers: ctx.extra.request.headers as Record<string, string> }),
            connectionParams: ctx.connectionParams,
            // The graphql-ws context is one object per socket: tail limits count per connection.
            wsConnection: ctx,
          });
          let document: DocumentNode;
          try {
            document = parse(payload.query);
            const errors = validate(schema, document);
            if (errors.length) return errors;
          } catch (err) {
            // Syntax errors and the query limits (graphql-armor) are thrown from parse and validate:
            // they are this operation's error message, as over HTTP. Thrown on, graphql-ws would close
            // the socket with 4500 and end the connection's other subscriptions too.
            if (err instanceof GraphQLError) return [err];
            throw err;
          }
          const operation = getOperationAST(document, payload.operationName);
          // (Yoga's validation refuses an unknown operation name first.) graphql-ws would answer this
          // itself, without executing: the slot would never be given back.
          if (!operation) return [new GraphQLError('Could not determine what operation to execute.')];
          const context = await contextFactory();
          // Queries and mutations over WebSocket get the HTTP deadline: their DuckDB statements are
          // interrupted when it passes or the socket closes. Subscriptions run until completed.
          if (operation.operation === 'subscription') {
            return {
              schema,
              operationName: payload.operationName,
              document,
              variableValues: payload.variables,
              contextValue: context,
              // Compiled tails write their events to the socket directly (compiled-subscriptions.ts).
              rootValue: { execute, subscribe, push: { id, socket: ctx.extra.socket } },
            };
          }
          const deadline = operationDeadline(limits.timeoutMs, ctx.extra.socket);
          const meter = { ms: 0, tenant };
          const done = () => {
            release();
            deadline.done();
            if (meter.ms > 0) void spendQueryTime(tenant, meter.ms);
          };
          // graphql-ws calls execute right after this returns; the slot is given back when it settles.
          const run = (a: ExecutionArgs) => {
            try {
              return settle(execute(a), done);
            } catch (err) {
              done();
              throw err;
            }
          };
          running = true;
          return {
            schema,
            operationName: payload.operationName,
            document,
            variableValues: payload.variables,
            contextValue: { ...context, requestSignal: deadline.signal },
            rootValue: { execute: (a: ExecutionArgs) => withQueryMeter(meter, () => withQuerySignal(deadline.signal, () => withRequestClock(() => run(a)))), subscribe, push: { id, socket: ctx.extra.socket } },
          };
        } finally {
          if (!running) release();
        }
      },
    },
    wss,
    opts.logger,
  );

  return {
    async start() {
      opts.listener.serve(handler, upgrade);
    },
    async stop() {
      // Held refusals are answered now: a stop never waits for the tarpit.
      refusalDelay.close();
      frameFlusher.flush();
      wsCleanup.dispose();
      wss.close();
      await opts.listener.close();
    },
    address: () => opts.listener.address,
  };
}
