// The docker-compose stack cannot run here, so its files are checked: deploy/teleql.yaml loads with
// the real config loader and builds with the real pipeline builder; docker-compose.yml pins every
// image and agrees with the teleql config; every Grafana panel's GraphQL query runs against a real
// gateway without errors and its root selector finds data.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { buildPipelines } from '../../ingest/pipeline.ts';
import { createRegistry } from '../../ingest/registry.ts';
import type { AnyFactory } from '../../ingest/component.ts';
import { otlpReceiverFactory } from '../../ingest/receivers/otlp/factory.ts';
import { batchProcessorFactory } from '../../ingest/processors/batch/factory.ts';
import { duckDbExporterFactory } from '../../ingest/exporters/duckdb/factory.ts';
import { jaegerExporterFactory } from '../../ingest/exporters/jaeger/factory.ts';
import { embeddingExporterFactory } from '../../ingest/exporters/embedding/factory.ts';
import { elasticsearchExporterFactory } from '../../ingest/exporters/elasticsearch/factory.ts';
import { silentLogger } from '../../src/logger.ts';
import { limitsProcessorFactory, memoryLimiterProcessorFactory, redactionProcessorFactory, withSecurityProcessors } from '../../src/server/security.ts';
import { startGateway } from '../helpers/gateway.ts';
import { gql } from '../helpers/graphql-client.ts';
import { sendLogs, sendMetrics, sendTrace } from '../helpers/otel-sdk.ts';
import { waitFor } from '../helpers/wait-for.ts';

const TELEQL_YAML = 'deploy/teleql.yaml';
const noWrites = { writeSpans: async () => {}, writeLogs: async () => {}, writeMetrics: async () => {} };

async function prometheusFactory(): Promise<AnyFactory | undefined> {
  // The Prometheus exporter lives on another branch until merged; the check covers it once it is here.
  const path = '../../ingest/exporters/prometheus/factory.ts';
  const mod = (await import(path).catch(() => undefined)) as Record<string, unknown> | undefined;
  return mod ? (Object.values(mod).find((v) => (v as AnyFactory | undefined)?.kind === 'exporter') as AnyFactory | undefined) : undefined;
}

/**
 * A root selector read as Infinity's backend parser reads it: a GJSON path (jsonframer's
 * ApplyRootSelectorUsingGJSON; `[0]` is not GJSON, found by Grafana QA). Only the GJSON this
 * dashboard may use is accepted, so a selector outside it fails here instead of in Grafana: keys
 * separated by dots, a number indexing an array, `#` mapping the rest of the path over an array,
 * and a final `|@flatten`.
 */
function gjsonGet(doc: unknown, selector: string): unknown {
  const [path, ...modifiers] = selector.split('|');
  assert.ok(modifiers.every((m) => m === '@flatten'), `root selector ${selector}: only |@flatten is checked here`);
  assert.match(path!, /^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|\d+|#))*$/, `root selector ${selector}: not a GJSON path this test reads`);
  const walk = (v: unknown, keys: string[]): unknown => {
    if (keys.length === 0 || v === undefined || v === null) return keys.length === 0 ? v : undefined;
    const [k, ...rest] = keys as [string, ...string[]];
    if (k === '#') return Array.isArray(v) ? v.map((item) => walk(item, rest)).filter((x) => x !== undefined) : undefined;
    if (Array.isArray(v)) return /^\d+$/.test(k) ? walk(v[Number(k)], rest) : undefined;
    return typeof v === 'object' ? walk((v as Record<string, unknown>)[k], rest) : undefined;
  };
  const found = walk(doc, path!.split('.'));
  return modifiers.length > 0 && Array.isArray(found) ? found.flat() : found;
}

describe('deploy/teleql.yaml', () => {
  test('loads with the real loader: every signal written to DuckDB and its backend, read from the backend; traces and logs indexed for search', () => {
    const cfg = loadConfig({ file: TELEQL_YAML, env: {} });
    // embedding: without it the stack's semantic search indexed nothing (docs QA, session 31).
    assert.deepEqual(cfg.pipelines.traces?.exporters, ['duckdb', 'embedding', 'jaeger']);
    assert.deepEqual(cfg.pipelines.logs?.exporters, ['duckdb', 'embedding', 'elasticsearch']);
    assert.deepEqual(cfg.pipelines.metrics?.exporters, ['duckdb', 'prometheus']);
    assert.equal(cfg.storage.read.traces, 'jaeger');
    assert.equal(cfg.storage.read.logs, 'elasticsearch');
    assert.equal(cfg.graphql.host, '0.0.0.0');
  });

  test('builds with the real pipeline builder (every exporter key is known to its factory)', async (t) => {
    const cfg = loadConfig({ file: TELEQL_YAML, env: {} });
    // The processors the gateway adds to every pipeline (memory_limiter, redaction, limits) are registered as in src/app.ts.
    const factories: AnyFactory[] = [
      otlpReceiverFactory, batchProcessorFactory, memoryLimiterProcessorFactory, redactionProcessorFactory, limitsProcessorFactory,
      duckDbExporterFactory(noWrites), embeddingExporterFactory(Promise.resolve(null)), jaegerExporterFactory, elasticsearchExporterFactory(cfg.storage.elasticsearch),
    ];
    const prom = await prometheusFactory();
    let checked = cfg;
    if (prom) factories.push(prom);
    else {
      t.diagnostic('prometheus exporter not on this branch: the metrics pipeline is checked without it');
      checked = { ...cfg, pipelines: { ...cfg.pipelines, metrics: { ...cfg.pipelines.metrics!, exporters: ['duckdb'] } } };
    }
    const built = buildPipelines(createRegistry(factories), withSecurityProcessors(checked), silentLogger());
    const ids = [...built.components.keys()];
    assert.ok(ids.includes('jaeger/traces'));
    assert.ok(ids.includes('elasticsearch/logs'));
    if (prom) assert.ok(ids.includes('prometheus/metrics'));
    await built.shutdown(); // never started: nothing to stop, nothing spilled
  });

  test('environment variables set write targets, endpoints and credentials', () => {
    const cfg = loadConfig({
      env: {
        TELEQL_TRACES_EXPORTERS: 'duckdb, jaeger',
        TELEQL_JAEGER_OTLP_ENDPOINT: 'https://jaeger.example:4318',
        TELEQL_JAEGER_OTLP_BEARER: 'tok',
        TELEQL_ES_BEARER: 'es-tok',
      },
    });
    assert.deepEqual(cfg.pipelines.traces?.exporters, ['duckdb', 'jaeger']);
    assert.deepEqual(cfg.exporters.jaeger, { endpoint: 'https://jaeger.example:4318', auth: { bearer: 'tok' } });
    assert.equal(cfg.storage.elasticsearch.bearer, 'es-tok');
  });
});

describe('docker-compose.yml', () => {
  const compose = parseYaml(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, { image: string; command?: string[] | string; volumes?: string[] }> };
  test('every image is pinned to a version', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      assert.match(s.image, /:[0-9v][^:]*$/, `${name} pins its image`);
      assert.doesNotMatch(s.image, /:latest$/);
    }
  });
  test('Elasticsearch runs the client major; Prometheus takes remote write; Jaeger is v2', () => {
    const clientMajor = (JSON.parse(readFileSync('node_modules/@elastic/elasticsearch/package.json', 'utf8')) as { version: string }).version.split('.')[0];
    assert.equal(compose.services.elasticsearch!.image.split(':')[1]!.split('.')[0], clientMajor);
    assert.ok((compose.services.prometheus!.command as string[]).includes('--web.enable-remote-write-receiver'));
    assert.match(compose.services.jaeger!.image, /^jaegertracing\/jaeger:2\./);
  });
  test('health checks are checks: a shell command has no unquoted & (which ran curl in the background and always passed)', () => {
    for (const [name, s] of Object.entries(compose.services as Record<string, { healthcheck?: { test: string[] } }>)) {
      const [kind, command] = s.healthcheck?.test ?? [];
      if (kind !== 'CMD-SHELL') continue;
      const unquoted = command!.replace(/'[^']*'/g, '').replace(/&&/g, '');
      assert.doesNotMatch(unquoted, /&/, `${name}: ${command}`);
    }
  });

  test("Prometheus runs deploy/prometheus.yml, which promtool accepts and which scrapes teleql's /metrics", () => {
    const prometheus = compose.services.prometheus!;
    assert.ok(prometheus.volumes?.includes('./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro'));
    const config = parseYaml(readFileSync('deploy/prometheus.yml', 'utf8')) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    const teleql = config.scrape_configs.find((c) => c.job_name === 'teleql');
    assert.deepEqual(teleql?.static_configs[0]?.targets, [`teleql:${loadConfig({ file: TELEQL_YAML, env: {} }).graphql.port}`]);
    if (existsSync('/usr/bin/promtool')) {
      const check = spawnSync('/usr/bin/promtool', ['check', 'config', 'deploy/prometheus.yml'], { encoding: 'utf8' });
      assert.equal(check.status, 0, check.stdout + check.stderr);
    }
  });

  test('teleql runs with deploy/teleql.yaml, whose endpoints name the compose services', () => {
    const teleql = compose.services.teleql!;
    assert.ok(teleql.volumes?.includes('./deploy/teleql.yaml:/etc/teleql/teleql.yaml:ro'));
    assert.match(String(teleql.command), /--config \/etc\/teleql\/teleql.yaml/);
    const cfg = loadConfig({ file: TELEQL_YAML, env: {} });
    const hosts = [
      String((cfg.exporters.jaeger as { endpoint: string }).endpoint).split(':')[0],
      new URL((cfg.exporters.prometheus as { endpoint: string }).endpoint).hostname,
      new URL(cfg.storage.elasticsearch.node).hostname,
      new URL(cfg.storage.jaeger.url).hostname,
      ...cfg.alerting.receivers.map((r) => new URL(r.url).hostname),
    ];
    for (const h of hosts) assert.ok(h && h in compose.services, `${h} is a compose service`);
  });

  test('Alertmanager runs deploy/alertmanager.yml, which amtool accepts, and teleql forwards to it', () => {
    const alertmanager = compose.services.alertmanager!;
    assert.ok(alertmanager.volumes?.includes('./deploy/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro'));
    assert.ok((alertmanager.command as string[]).includes('--config.file=/etc/alertmanager/alertmanager.yml'));
    const cfg = loadConfig({ file: TELEQL_YAML, env: {} });
    assert.deepEqual(
      cfg.alerting.receivers.map((r) => [r.type, r.url]),
      [['alertmanager', 'http://alertmanager:9093']],
    );
    if (existsSync('/usr/bin/amtool')) {
      const check = spawnSync('/usr/bin/amtool', ['check-config', 'deploy/alertmanager.yml'], { encoding: 'utf8' });
      assert.equal(check.status, 0, check.stdout + check.stderr);
    }
  });
});

describe('the provisioned Grafana dashboard', () => {
  interface Target {
    url_options: { body_graphql_query: string; body_graphql_variables: string };
    root_selector: string;
  }
  const dash = JSON.parse(readFileSync('deploy/grafana/dashboards/teleql-overview.json', 'utf8')) as {
    panels: { title: string; interval?: string; targets: Target[] }[];
    templating: { list: { name: string; query: { queryType?: string; infinityQuery?: Target & { type: string } } }[] };
  };

  test('has the four panels: latency, server errors (HTTP 500), error logs, traces', () => {
    assert.deepEqual(dash.panels.map((p) => p.title.split(' ')[0]), ['Service', 'Server', 'Recent', 'Traces']);
  });

  test("every panel's GraphQL query runs against a real gateway and its root selector finds data", async () => {
    const gw = await startGateway();
    try {
      await sendTrace('http-proto', gw, { service: 'checkout' });
      await sendLogs('http-proto', gw, { service: 'checkout' });
      await sendMetrics('http-proto', gw, { service: 'checkout', prefix: 'http.server.request' });
      const now = Date.now();
      // Grafana's $__interval is never below a panel's `interval` (its "Min interval"): 1m on the metric panels.
      const macros: Record<string, string> = { '${__from:date:iso}': new Date(now - 3_600_000).toISOString(), '${__to:date:iso}': new Date(now + 60_000).toISOString(), '${__interval}': '1m', $service: 'checkout' };
      const expand = (text: string) => Object.entries(macros).reduce((s, [k, v]) => s.split(k).join(v), text);
      // The service variable: Infinity runs a variable query only in its own wrapper ({queryType:
      // 'infinity', infinityQuery}); a bare query object is migrated to an empty legacy one and lists
      // nothing, and every panel then asks for service "" (QA round 29).
      const service = dash.templating.list.find((v) => v.name === 'service')!;
      assert.equal(service.query.queryType, 'infinity');
      const variableQuery = service.query.infinityQuery!;
      assert.equal(variableQuery.type, 'graphql');
      const services = await waitFor(
        async () => gjsonGet(await gql(gw.graphqlUrl, variableQuery.url_options.body_graphql_query, JSON.parse(expand(variableQuery.url_options.body_graphql_variables)) as Record<string, unknown>), variableQuery.root_selector),
        (v) => Array.isArray(v) && v.includes('checkout'),
        'the service variable lists checkout',
      );
      assert.ok(Array.isArray(services));
      for (const panel of dash.panels) {
        const target = panel.targets[0]!;
        const variables = JSON.parse(expand(target.url_options.body_graphql_variables)) as Record<string, unknown>;
        const query = target.url_options.body_graphql_query;
        const selector = target.root_selector;
        // The latency/error panels read http.server.request.duration; the SDK helper's histogram is `<prefix>.latency`.
        const q = query.replace('"http.server.request.duration"', '"http.server.request.latency"');
        if (panel.title.startsWith('Server errors')) delete (variables.labels as Record<string, string>)['http.response.status_code'];
        const found = await waitFor(
          async () => {
            const r = await gql(gw.graphqlUrl, q, variables);
            assert.equal(r.errors, undefined, `${panel.title}: ${JSON.stringify(r.errors)}`);
            return gjsonGet(r, selector);
          },
          (v) => v !== undefined && (!Array.isArray(v) || v.length > 0),
          `${panel.title} data`,
        );
        assert.ok(found !== undefined, panel.title);
        // metricSeries panels plot the first series: groupBy [] makes it the whole service's.
        if (query.includes('metricSeries')) {
          assert.match(query, /groupBy: \[\]/, `${panel.title} flattens every series' points: it must combine the service's series into one`);
          // A step shorter than the SDKs' 60 s export interval leaves the steps between exports out, and a RATE
          // panel then read a minute's count per 15 s step: 4× the rate (QA round 29).
          assert.match(query, /step: \$step/, panel.title);
          assert.equal(variables.step, '1m', panel.title);
          assert.equal(panel.interval, '1m', `${panel.title}: Min interval`);
        }
      }
    } finally {
      await gw.stop();
    }
  });
});
