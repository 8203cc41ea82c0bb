// RED from a real Prometheus (2.42, started on a free loopback port) over spanmetrics-style series
// written with Prometheus' remote-write protocol (protobuf + snappy), at chosen timestamps so that
// every figure is exact.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSpanmetricsRedStore } from '../../src/stores/prometheus/spanmetrics-red.ts';
import type { RedMetricsStore } from '../../src/stores/correlation-types.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startGateway } from '../helpers/gateway.ts';
import { gql } from '../helpers/graphql-client.ts';
import { freePort } from '../helpers/free-port.ts';
import { remoteWrite } from '../helpers/prometheus-server.ts';

const SEC = 1_000_000_000n;
const MS_F = 1e6;


interface Series {
  labels: Record<string, string>;
  /** Increase per 15 s sample. */
  perSample: number;
}

// Every 15 s: payments serves 3 OK and 1 failed request (durations: 2 ≤ 100 ms, 1 ≤ 200 ms,
// 1 ≤ 400 ms); checkout serves 2, and makes 100 CLIENT calls that are not requests.
const entry = (service: string, status: string) => ({ service_name: service, span_kind: 'SPAN_KIND_SERVER', status_code: status, span_name: 'POST /pay' });
const SERIES: Series[] = [
  { labels: { __name__: 'traces_span_metrics_calls_total', ...entry('payments', 'STATUS_CODE_UNSET') }, perSample: 3 },
  { labels: { __name__: 'traces_span_metrics_calls_total', ...entry('payments', 'STATUS_CODE_ERROR') }, perSample: 1 },
  { labels: { __name__: 'traces_span_metrics_calls_total', ...entry('checkout', 'STATUS_CODE_UNSET') }, perSample: 2 },
  {
    labels: { __name__: 'traces_span_metrics_calls_total', service_name: 'checkout', span_kind: 'SPAN_KIND_CLIENT', status_code: 'STATUS_CODE_UNSET', span_name: 'POST payments' },
    perSample: 100,
  },
  ...(
    [
      ['100', 2],
      ['200', 3],
      ['400', 4],
      ['+Inf', 4],
    ] as const
  ).map(([le, n]) => ({ labels: { __name__: 'traces_span_metrics_duration_milliseconds_bucket', ...entry('payments', 'STATUS_CODE_UNSET'), le }, perSample: n })),
  { labels: { __name__: 'traces_span_metrics_duration_milliseconds_bucket', ...entry('checkout', 'STATUS_CODE_UNSET'), le: '+Inf' }, perSample: 2 },
];

describe('RED from Prometheus spanmetrics series', () => {
  let prom: ChildProcess;
  let dir: string;
  let url: string;
  let store: RedMetricsStore;
  // A whole minute about 20 minutes ago; samples every 15 s from 2 minutes before to 8 after.
  const from = (BigInt(Date.now()) / 60_000n - 20n) * 60n * SEC;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'teleql-prom-'));
    await writeFile(join(dir, 'prometheus.yml'), 'global: { scrape_interval: 1h }\n');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    prom = spawn(
      'prometheus',
      [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver'],
      { stdio: 'ignore' },
    );
    await waitFor(() => fetch(`${url}/-/ready`).then((r) => r.status), (s) => s === 200, 'prometheus ready', 30_000);
    const startMs = Number((from - 120n * SEC) / 1_000_000n);
    const timeseries = SERIES.map((s) => ({
      labels: Object.entries(s.labels)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, value]) => ({ name, value })),
      samples: Array.from({ length: 41 }, (_, i) => ({ value: s.perSample * (i + 1), timestamp: startMs + i * 15_000 })),
    }));
    await remoteWrite(`${url}/api/v1/write`, timeseries);
    store = createSpanmetricsRedStore({ baseUrl: url });
  });
  after(async () => {
    prom?.kill('SIGTERM');
    if (prom && prom.exitCode === null) await new Promise((resolve) => prom.once('exit', resolve));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('per-minute requests, errors and quantiles of entry spans, for several services in one call', async () => {
    const range = { from, to: from + 240n * SEC };
    const [payments, checkout, nobody] = await store.redSeries('any', [
      { service: 'payments', range, stepNano: 60n * SEC },
      { service: 'checkout', range, stepNano: 60n * SEC },
      { service: 'nobody', range, stepNano: 60n * SEC },
    ]);
    assert.equal(store.backend, 'prometheus (spanmetrics)');
    assert.equal(payments!.points.length, 5);
    for (const p of payments!.points) {
      assert.deepEqual([p.requests, p.errors], [16, 4]);
      assert.equal(p.requestRate, 16 / 60);
      // Per minute: 8 ≤ 100 ms, 12 ≤ 200 ms, 16 ≤ 400 ms (linear within a bucket).
      assert.equal(p.p50Nano! / MS_F, 100);
      assert.ok(Math.abs(p.p95Nano! / MS_F - 360) < 1e-9);
      assert.ok(Math.abs(p.p99Nano! / MS_F - 392) < 1e-9);
    }
    assert.deepEqual([payments!.total.requests, payments!.total.errors], [64, 16]);
    // CLIENT calls are not requests.
    assert.deepEqual(checkout!.points.map((p) => [p.requests, p.errors]), Array(5).fill([8, 0]));
    assert.deepEqual([nobody!.total.requests, nobody!.points[0]!.p95Nano], [0, null]);
  });

  test('with correlation.red.source prometheus, Trace.metrics answers from Prometheus and says so', async () => {
    const gw = await startGateway({ correlation: { red: { source: 'prometheus', prometheusUrl: url } } });
    try {
      const start = from + 120n * SEC;
      const traceId = 'abcdef0123456789abcdef0123456789';
      const body = {
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'payments' } }] },
            scopeSpans: [{ spans: [{ traceId, spanId: '0123456789abcdef', name: 'POST /pay', kind: 2, startTimeUnixNano: String(start), endTimeUnixNano: String(start + 100_000_000n) }] }],
          },
        ],
      };
      const sent = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(sent.status, 200);
      const q = `{ trace(traceId: "${traceId}") { metrics(window: "2m", step: "1m") { service source requests points { requests errors } } } }`;
      const r = await waitFor(() => gql<{ trace: { metrics: { service: string; source: string; points: { requests: number; errors: number }[] }[] } | null }>(gw.graphqlUrl, q), (x) => x.data?.trace != null, 'the trace');
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      const [m] = r.data!.trace!.metrics;
      assert.equal(m!.source, 'prometheus (spanmetrics)');
      assert.deepEqual(m!.points, Array(5).fill({ requests: 16, errors: 4 }));
      assert.ok((r.extensions?.notes as string[]).includes('Trace.metrics: from prometheus (spanmetrics)'));
    } finally {
      await gw.stop();
    }
  });

  test('a Prometheus that is down is UNAVAILABLE, naming prometheus', async () => {
    const dead = createSpanmetricsRedStore({ baseUrl: `http://127.0.0.1:${await freePort()}` });
    await assert.rejects(dead.redSeries('any', [{ service: 'payments', range: { from, to: from + 60n * SEC }, stepNano: 60n * SEC }]), {
      code: 'UNAVAILABLE',
      backend: 'prometheus',
    });
  });
});
