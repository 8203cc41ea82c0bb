// One HTTP server for the query side: GraphQL over HTTP and GraphiQL (Yoga), graphql-ws on the same
// path, and the health endpoints. Tenants come from the X-Scope-OrgID header (HTTP) or the
// connection_init payload / upgrade request headers (WebSocket).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLSchema, execute as graphqlExecute, subscribe as graphqlSubscribe } from 'graphql';
import { createYoga, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.ts';
import { InvalidTenantError, resolveTenant } from '../tenant.ts';
import { formatPrometheus, type MetricsSource } from './metrics.ts';

export interface GraphQLServerOptions {
  host: string;
  port: number;
  path: string;
  graphiql: boolean;
  exposeInternalErrors: boolean;
  tenantHeader: string;
  schema: GraphQLSchema;
  /**
   * Builds the per-request context (stores, fresh DataLoaders) for a tenant. `connection` is stable
   * for one client connection (the graphql-ws socket; for HTTP and SSE, the request).
   */
  contextFor: (tenant: string, connection: object) => object;
  ready: () => boolean;
  /** The gateway's own metrics, served on /metrics. */
  metrics: MetricsSource;
  logger: Logger;
}

export interface GraphQLServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  address(): string;
}

function tenantOrError(value: string | readonly string[] | undefined | null): string {
  try {
    return resolveTenant(value);
  } catch (err) {
    if (err instanceof InvalidTenantError) throw new GatewayError('GW_BAD_ARGUMENT', err.message);
    throw err;
  }
}

function connectionParamTenant(params: Readonly<Record<string, unknown>> | undefined, header: string): string | undefined {
  if (!params) return undefined;
  for (const [key, value] of Object.entries(params)) {
    if (key.toLowerCase() === header && typeof value === 'string') return value;
    if (key.toLowerCase() === 'headers' && value && typeof value === 'object') {
      const nested = connectionParamTenant(value as Record<string, unknown>, header);
      if (nested !== undefined) return nested;
    }
  }
  return undefined;
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

export function createGraphQLServer(opts: GraphQLServerOptions): GraphQLServer {
  const header = opts.tenantHeader.toLowerCase();
  const yoga = createYoga<{ req?: IncomingMessage; connectionParams?: Record<string, unknown>; wsConnection?: object }>({
    schema: opts.schema,
    graphqlEndpoint: opts.path,
    landingPage: false,
    graphiql: opts.graphiql ? { subscriptionsProtocol: 'WS', title: 'teleql' } : false,
    maskedErrors: { isDev: opts.exposeInternalErrors },
    plugins: [queryNotesPlugin],
    logging: {
      debug: (...args) => opts.logger.debug({ args }, 'yoga'),
      info: (...args) => opts.logger.info({ args }, 'yoga'),
      warn: (...args) => opts.logger.warn({ args }, 'yoga'),
      error: (...args) => opts.logger.error({ args }, 'yoga'),
    },
    context: (initial: YogaInitialContext & { connectionParams?: Record<string, unknown>; wsConnection?: object }) => {
      const fromWs = connectionParamTenant(initial.connectionParams, header);
      const tenant = tenantOrError(fromWs ?? initial.request.headers.get(header));
      return opts.contextFor(tenant, initial.wsConnection ?? initial.request);
    },
  });

  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (url === '/readyz') {
      const ready = opts.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ready ? 'ready' : 'starting' }));
      return;
    }
    if (url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(formatPrometheus(opts.metrics()));
      return;
    }
    void yoga.handle(req, res);
  });

  const wss = new WebSocketServer({ server, path: opts.path });
  const wsCleanup = useServer(
    {
      execute: (args) => (args.rootValue as { execute: typeof graphqlExecute }).execute(args),
      subscribe: (args) => (args.rootValue as { subscribe: typeof graphqlSubscribe }).subscribe(args),
      onSubscribe: async (ctx, _id, payload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          request: new Request('http://localhost' + opts.path, { headers: ctx.extra.request.headers as Record<string, string> }),
          connectionParams: ctx.connectionParams,
          // The graphql-ws context is one object per socket: tail limits count per connection.
          wsConnection: ctx,
        });
        const args = {
          schema,
          operationName: payload.operationName,
          document: parse(payload.query),
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args;
      },
    },
    wss,
  );

  let address = '';
  return {
    async start() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port, opts.host, () => {
          server.off('error', reject);
          const a = server.address() as AddressInfo;
          address = `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
          resolve();
        });
      });
    },
    async stop() {
      await wsCleanup.dispose();
      wss.close();
      await new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    address: () => address,
  };
}
