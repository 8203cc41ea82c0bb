// Starts a real gateway on free loopback ports with an in-memory (or given) DuckDB store.
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { silentLogger } from '../../src/logger.ts';

export interface TestGateway {
  app: App;
  graphqlUrl: string;
  wsUrl: string;
  otlpGrpc: string; // host:port
  otlpHttp: string; // http://host:port
  stop(): Promise<void>;
}

export async function startGateway(overrides: Record<string, unknown> = {}, dataPath = ':memory:'): Promise<TestGateway> {
  const cfg = loadConfig({
    env: {},
    overrides: deepMerge(
      {
        log: { level: 'silent' },
        graphql: { port: 0 },
        storage: { duckdb: { path: dataPath } },
        receivers: { otlp: { grpc: { port: 0 }, http: { port: 0 } } },
        processors: { batch: { timeoutMs: 20 } },
      },
      overrides,
    ),
  });
  const app = buildApp(cfg, { logger: silentLogger() });
  await app.start();
  const a = app.addresses();
  return {
    app,
    graphqlUrl: `http://${a.graphql}/graphql`,
    wsUrl: `ws://${a.graphql}/graphql`,
    otlpGrpc: a.otlpGrpc!,
    otlpHttp: `http://${a.otlpHttp!}`,
    stop: () => app.stop(),
  };
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      prev && typeof prev === 'object' && !Array.isArray(prev) && v && typeof v === 'object' && !Array.isArray(v)
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
