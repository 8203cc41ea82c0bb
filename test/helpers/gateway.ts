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

/** A gateway config for tests: silent, free ports, in-memory (or given) store, 20 ms batches, then `overrides`. */
export function testConfig(overrides: Record<string, unknown> = {}, dataPath = ':memory:'): ReturnType<typeof loadConfig> {
  return loadConfig({
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
}

export async function startGateway(overrides: Record<string, unknown> = {}, dataPath = ':memory:'): Promise<TestGateway> {
  const cfg = testConfig(overrides, dataPath);
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
