// Delivery guarantee with a real Prometheus: it is stopped mid-ingest while teleql keeps receiving;
// teleql is then restarted (its unsent batches wait in the exporter's DuckDB spill) and Prometheus
// too, and every sample must arrive, in order, with its own value.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { prometheusAvailable, startPrometheus, type PrometheusServer } from '../helpers/prometheus-server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const skip = prometheusAvailable() ? false : 'needs /usr/bin/prometheus (apt-get install prometheus)';
const BEFORE = 20; // samples sent while Prometheus is up
const DURING = 40; // samples sent while it is down

/** One OTLP/JSON request with one gauge point: value i at base + i seconds. */
async function sendSample(otlpHttp: string, i: number, baseMs: number): Promise<void> {
  const body = {
    resourceMetrics: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'delivery' } }] },
      scopeMetrics: [{
        metrics: [{ name: 'delivery.sample', gauge: { dataPoints: [{ timeUnixNano: `${BigInt(baseMs + i * 1000) * 1_000_000n}`, asInt: `${i}` }] } }],
      }],
    }],
  };
  const res = await fetch(`${otlpHttp}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, await res.text());
}

async function queued(gw: TestGateway): Promise<number> {
  const text = await (await fetch(gw.graphqlUrl.replace('/graphql', '/metrics'))).text();
  const m = /teleql_exporter_queue_items\{exporter="prometheus\/metrics"[^}]*\} (\d+)/.exec(text);
  return m ? Number(m[1]) : -1;
}

describe('Prometheus delivery across an outage and a gateway restart', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-delivery-'));
  let prom: PrometheusServer | undefined;
  let gw: TestGateway | undefined;

  after(async () => {
    await gw?.stop();
    await prom?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every sample sent while Prometheus was down arrives after both restart', async () => {
    prom = await startPrometheus();
    const overrides = {
      exporters: {
        duckdb: {},
        prometheus: {
          endpoint: prom.writeUrl,
          timeoutMs: 2_000,
          batch: { maxItems: 8, flushIntervalMs: 10 },
          retry: { initialIntervalMs: 50, maxIntervalMs: 300, multiplier: 1.5, randomizationFactor: 0.2, maxElapsedMs: 0 },
          spill: { enabled: true, directory: join(dir, 'spill'), maxBytes: 16 * 1024 * 1024 },
          shutdownTimeoutMs: 500,
        },
      },
      pipelines: { metrics: { receivers: ['otlp'], processors: ['batch'], exporters: ['duckdb', 'prometheus'] } },
      storage: { read: { metrics: 'prometheus' }, prometheus: { url: prom.url } },
    };
    const dbPath = join(dir, 'teleql.duckdb');
    gw = await startGateway(overrides, dbPath);
    const baseMs = Date.now() - 10 * 60_000;

    for (let i = 0; i < BEFORE; i++) await sendSample(gw.otlpHttp, i, baseMs);
    await waitFor(() => queued(gw!), (n) => n === 0, 'the first samples to be sent');

    // Prometheus goes away; teleql keeps acknowledging OTLP and queues (and spills) what it cannot send.
    await prom.stop();
    for (let i = BEFORE; i < BEFORE + DURING; i++) await sendSample(gw.otlpHttp, i, baseMs);
    await waitFor(() => queued(gw!), (n) => n > 0, 'samples waiting for Prometheus');

    // teleql restarts with Prometheus still down: the queue survives in the spill file.
    await gw.stop();
    gw = undefined;
    await prom.start();
    gw = await startGateway(overrides, dbPath);

    type R = { promql: { resultType: string; series: { labels: Record<string, string>; points: { time: string; value: number }[] }[] } };
    const read = () => gqlData<R>(gw!.graphqlUrl, 'query($q: String!) { promql(query: $q) { resultType series { labels points { time value } } } }', { q: 'delivery_sample[1h]' });
    const all = BEFORE + DURING;
    const r = await waitFor(read, (d) => d.promql.series[0]?.points.length === all, `all ${all} samples in Prometheus`, 60_000);
    assert.equal(r.promql.resultType, 'MATRIX');
    assert.equal(r.promql.series.length, 1);
    assert.deepEqual(r.promql.series[0]!.labels, { __name__: 'delivery_sample', job: 'delivery' });
    const points = r.promql.series[0]!.points;
    assert.deepEqual(points.map((p) => p.value), Array.from({ length: all }, (_, i) => i));
    assert.deepEqual(points.map((p) => Date.parse(p.time)), Array.from({ length: all }, (_, i) => baseMs + i * 1000));
    await waitFor(() => queued(gw!), (n) => n === 0, 'the spill to be empty');
  });
});
