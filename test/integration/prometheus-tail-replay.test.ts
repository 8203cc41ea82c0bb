// tailMetrics(since:) with Prometheus as the metrics read source (the real binary), over graphql-ws.
// When the metrics pipeline writes DuckDB too (the default pipelines), the replay reads DuckDB: each
// point as received, histograms too, and a point received just before the subscription is in it
// (the replay waits for the pipeline's batches, not for remote write). When only Prometheus is
// written, a counter named as the SDK names it is replayed in the shape live points have (its OTel
// name, the resource and scope its labels came from, the labels filtered on under their OTel keys),
// then continues live; a histogram, whose raw points Prometheus cannot give back, is not replayed,
// the first event says so, and its live points still follow.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from 'graphql-ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { prometheusAvailable, startPrometheus, writingAndReadingPrometheus, type PrometheusServer } from '../helpers/prometheus-server.ts';
import { gaugeBody, nowNs, postOtlp, subscriptions, tail, wsClient } from '../helpers/tail-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const skip = prometheusAvailable() ? false : 'needs /usr/bin/prometheus (apt-get install prometheus)';
const TENANT = 'prom-tail';

const TAIL_METRICS = `subscription($name: String!, $labels: JSON, $since: Timestamp) {
  tailMetrics(name: $name, labels: $labels, since: $since) {
    replayed
    point { name value count attributes time resource { attributes } scope { name version } }
  }
}`;

interface MetricEvent {
  tailMetrics: {
    replayed: boolean;
    point: { name: string; value: number | null; count: number | null; attributes: Record<string, unknown>; time: string; resource: { attributes: Record<string, unknown> }; scope: { name: string; version: string } };
  };
}

const str = (key: string, value: string) => ({ key, value: { stringValue: value } });
const RESOURCE = { attributes: [str('service.name', 'orders'), str('service.namespace', 'shop'), str('service.instance.id', 'pod-1')] };

/** A cumulative counter `items.done` ({item}: Prometheus family items_done_total), one point per time, counting up. */
function counterBody(points: { timeNs: bigint; value: number; method: string }[], start: bigint): unknown {
  return {
    resourceMetrics: [{
      resource: RESOURCE,
      scopeMetrics: [{
        scope: { name: 'orders-lib', version: '2.1.0' },
        metrics: [{
          name: 'items.done', unit: '{item}',
          sum: {
            aggregationTemporality: 2, isMonotonic: true,
            dataPoints: points.map((p) => ({ startTimeUnixNano: String(start), timeUnixNano: String(p.timeNs), asDouble: p.value, attributes: [str('http.method', p.method)] })),
          },
        }],
      }],
    }],
  };
}

/** A cumulative histogram `req.latency` in ms. */
function histogramBody(timeNs: bigint, start: bigint, count: number): unknown {
  return {
    resourceMetrics: [{
      resource: RESOURCE,
      scopeMetrics: [{
        scope: { name: 'orders-lib' },
        metrics: [{
          name: 'req.latency', unit: 'ms',
          histogram: {
            aggregationTemporality: 2,
            dataPoints: [{ startTimeUnixNano: String(start), timeUnixNano: String(timeNs), count: String(count), sum: count * 5, explicitBounds: [10], bucketCounts: [String(count), '0'] }],
          },
        }],
      }],
    }],
  };
}

const isoOf = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString();
const SECOND = 1_000_000_000n;

describe('tailMetrics since with Prometheus as the metrics read source, the pipeline writing DuckDB too', { skip }, () => {
  // A Prometheus of its own: plain Prometheus has no tenants, so another gateway's points would be read.
  let prom: PrometheusServer;
  let gw: TestGateway;
  const clients: Client[] = [];
  const base = nowNs() - 60n * SECOND;

  before(async () => {
    prom = await startPrometheus();
    gw = await startGateway({ ...writingAndReadingPrometheus(prom), tail: { maxReplay: 4 } });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await gw?.stop();
    await prom?.destroy();
  });

  test('points replay from DuckDB as received, by the OTel or the family name, histograms too, with no gap at the seam', async () => {
    const client = wsClient(gw, TENANT);
    clients.push(client);
    // Sent right before the subscriptions, not waited for in Prometheus: the replay has them all the same.
    const stored = [
      { timeNs: base + 10n * SECOND, value: 3, method: 'GET' },
      { timeNs: base + 20n * SECOND, value: 5, method: 'GET' },
    ];
    assert.equal(await postOtlp(gw, '/v1/metrics', counterBody(stored, base), TENANT), 200);
    assert.equal(await postOtlp(gw, '/v1/metrics', histogramBody(base + 10n * SECOND, base, 4), TENANT), 200);
    const byName = tail<MetricEvent>(client, TAIL_METRICS, { name: 'items.done', labels: { 'http.method': 'GET', 'service.name': 'orders' }, since: isoOf(base) });
    const byFamily = tail<MetricEvent>(client, TAIL_METRICS, { name: 'items_done_total', since: isoOf(base) });
    const histogram = tail<MetricEvent>(client, TAIL_METRICS, { name: 'req.latency', since: isoOf(base) });
    await waitFor(async () => [byName, byFamily, histogram].map((t) => t.events.length + t.errors.length), ([a, b, c]) => a! >= 2 && b! >= 2 && c! >= 1, 'the replays');
    assert.equal(await postOtlp(gw, '/v1/metrics', counterBody([{ timeNs: base + 30n * SECOND, value: 9, method: 'GET' }], base), TENANT), 200);
    assert.equal(await postOtlp(gw, '/v1/metrics', histogramBody(base + 40n * SECOND, base, 6), TENANT), 200);
    await waitFor(async () => [byName, byFamily, histogram].map((t) => t.events.length + t.errors.length), ([a, b, c]) => a! >= 3 && b! >= 3 && c! >= 2, 'replayed and live points');
    for (const t of [byName, byFamily, histogram]) {
      t.stop();
      assert.deepEqual(t.errors, []);
    }
    const view = (e: MetricEvent) => {
      const p = e.tailMetrics.point;
      return { replayed: e.tailMetrics.replayed, name: p.name, value: p.value, attributes: p.attributes, resource: p.resource.attributes, scope: [p.scope.name, p.scope.version] };
    };
    const source = { resource: { 'service.name': 'orders', 'service.namespace': 'shop', 'service.instance.id': 'pod-1' }, scope: ['orders-lib', '2.1.0'] };
    const counter = [
      { replayed: true, name: 'items.done', value: 3, attributes: { 'http.method': 'GET' }, ...source },
      { replayed: true, name: 'items.done', value: 5, attributes: { 'http.method': 'GET' }, ...source },
      { replayed: false, name: 'items.done', value: 9, attributes: { 'http.method': 'GET' }, ...source },
    ];
    assert.deepEqual(byName.events.map(view), counter);
    assert.deepEqual(byFamily.events.map(view), counter);
    assert.deepEqual(histogram.events.map((e) => [e.tailMetrics.replayed, e.tailMetrics.point.name, e.tailMetrics.point.count]), [[true, 'req.latency', 4], [false, 'req.latency', 6]]);
  });

  test('by family name, points of the OTel name in another unit or type that fill the replay fail it as too long, never leave the family out unsaid', async () => {
    // Found in review: the newest maxReplay + 1 points of items.done were read, then those of another
    // family dropped, so the counter's older points were silently not replayed.
    const client = wsClient(gw, TENANT);
    clients.push(client);
    assert.equal(await postOtlp(gw, '/v1/metrics', gaugeBody('orders', 'items.done', [1, 2, 3, 4, 5].map((i) => ({ timeNs: base + 50n * SECOND + BigInt(i) * SECOND, value: i }))), TENANT), 200);
    const t = tail<MetricEvent>(client, TAIL_METRICS, { name: 'items_done_total', since: isoOf(base) });
    await waitFor(async () => t.events.length + t.errors.length, (n) => n >= 1, 'an answer');
    t.stop();
    assert.deepEqual(t.events, []);
    assert.equal(t.errors[0]?.extensions?.code, 'GW_LIMIT_EXCEEDED');
  });
});

describe('tailMetrics since with Prometheus as the metrics read source and the only store written', { skip }, () => {
  let prom: PrometheusServer;
  let gw: TestGateway;
  const clients: Client[] = [];
  const client = () => {
    const c = wsClient(gw, TENANT);
    clients.push(c);
    return c;
  };
  const base = nowNs() - 60n * SECOND;

  before(async () => {
    prom = await startPrometheus();
    gw = await startGateway({ ...writingAndReadingPrometheus(prom), pipelines: { metrics: { receivers: ['otlp'], processors: ['batch'], exporters: ['prometheus'] } } });
    // Stored before any tail: two GET points and a POST one of the counter, and a histogram point.
    const stored = [
      { timeNs: base + 10n * SECOND, value: 3, method: 'GET' },
      { timeNs: base + 10n * SECOND, value: 7, method: 'POST' },
      { timeNs: base + 20n * SECOND, value: 5, method: 'GET' },
    ];
    assert.equal(await postOtlp(gw, '/v1/metrics', counterBody(stored, base), TENANT), 200);
    assert.equal(await postOtlp(gw, '/v1/metrics', histogramBody(base + 10n * SECOND, base, 4), TENANT), 200);
    await inPrometheus(3);
  });

  /**
   * Waits until Prometheus holds `n` points of the counter: remote write delivers after the
   * gateway's ingest batches are written, so a replay right after a send may not find them yet.
   */
  const inPrometheus = (n: number) =>
    waitFor(
      () => gqlData<{ metricPoints: unknown[] }>(gw.graphqlUrl, 'query($f: Timestamp) { metricPoints(name: "items.done", from: $f, limit: 10) { time } }', { f: isoOf(base) }, { 'X-Scope-OrgID': TENANT }),
      (d) => d.metricPoints.length === n,
      `${n} counter points in Prometheus`,
    );
  after(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await gw?.stop();
    await prom?.destroy();
  });

  test('a counter named by its OTel name replays its stored points shaped as live ones, then live points follow', async () => {
    const t = tail<MetricEvent>(client(), TAIL_METRICS, { name: 'items.done', labels: { 'http.method': 'GET', 'service.name': 'orders' }, since: isoOf(base) });
    await waitFor(async () => t.events.length + t.errors.length, (n) => n >= 2, 'the two stored GET points');
    await subscriptions(gw, 1);
    assert.equal(await postOtlp(gw, '/v1/metrics', counterBody([{ timeNs: base + 30n * SECOND, value: 9, method: 'GET' }, { timeNs: base + 30n * SECOND, value: 9, method: 'POST' }], base), TENANT), 200);
    await waitFor(async () => t.events.length + t.errors.length, (n) => n >= 3, 'the live GET point');
    t.stop();
    assert.deepEqual(t.errors, []);
    const view = (e: MetricEvent) => {
      const p = e.tailMetrics.point;
      return { replayed: e.tailMetrics.replayed, name: p.name, value: p.value, attributes: p.attributes, resource: p.resource.attributes, scope: [p.scope.name, p.scope.version] };
    };
    const source = { resource: { 'service.namespace': 'shop', 'service.name': 'orders', 'service.instance.id': 'pod-1' }, scope: ['orders-lib', '2.1.0'] };
    assert.deepEqual(t.events.map(view), [
      { replayed: true, name: 'items.done', value: 3, attributes: { 'http.method': 'GET' }, ...source },
      { replayed: true, name: 'items.done', value: 5, attributes: { 'http.method': 'GET' }, ...source },
      { replayed: false, name: 'items.done', value: 9, attributes: { 'http.method': 'GET' }, ...source },
    ]);
  });

  test('named by its Prometheus family, as metricSeries takes it, the counter replays and its live points follow too', async () => {
    await inPrometheus(5);
    const t = tail<MetricEvent>(client(), TAIL_METRICS, { name: 'items_done_total', labels: { 'http.method': 'POST' }, since: isoOf(base) });
    await waitFor(async () => t.events.length + t.errors.length, (n) => n >= 2, 'the two stored POST points');
    await subscriptions(gw, 1);
    assert.equal(await postOtlp(gw, '/v1/metrics', counterBody([{ timeNs: base + 35n * SECOND, value: 11, method: 'POST' }], base), TENANT), 200);
    await waitFor(async () => t.events.length + t.errors.length, (n) => n >= 3, 'the live POST point');
    t.stop();
    assert.deepEqual(t.errors, []);
    // Prometheus cannot say which OTel name wrote a family: replayed points carry the name asked for.
    assert.deepEqual(t.events.map((e) => [e.tailMetrics.replayed, e.tailMetrics.point.name, e.tailMetrics.point.value]), [
      [true, 'items_done_total', 7],
      [true, 'items_done_total', 9],
      [false, 'items.done', 11],
    ]);
  });

  test('a histogram is not replayed from Prometheus: the first event says so, and live points still follow', async () => {
    const t = tail<MetricEvent>(client(), TAIL_METRICS, { name: 'req.latency', since: isoOf(base) });
    await waitFor(async () => t.errors.length, (n) => n >= 1, 'the notice');
    await subscriptions(gw, 1);
    assert.equal(await postOtlp(gw, '/v1/metrics', histogramBody(base + 40n * SECOND, base, 6), TENANT), 200);
    await waitFor(async () => t.events.length, (n) => n >= 1, 'the live histogram point');
    t.stop();
    assert.equal(t.errors.length, 1);
    assert.equal(t.errors[0]!.extensions?.code, 'GW_NOT_SUPPORTED');
    assert.match(t.errors[0]!.message, /no stored point was replayed.*histogram.*live points follow/);
    assert.deepEqual(t.events.map((e) => [e.tailMetrics.replayed, e.tailMetrics.point.name, e.tailMetrics.point.count]), [[false, 'req.latency', 6]]);
  });

  test('over GraphQL SSE (not compiled) the first event says so too, and the stream stays open', async () => {
    const abort = new AbortController();
    const res = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'X-Scope-OrgID': TENANT },
      body: JSON.stringify({ query: TAIL_METRICS, variables: { name: 'req.latency', since: isoOf(base) } }),
      signal: abort.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let first: { data: unknown; errors?: { extensions?: { code?: string } }[] } | undefined;
    while (!first) {
      const { value, done } = await reader.read();
      assert.equal(done, false, 'the stream stays open');
      text += decoder.decode(value, { stream: true });
      const block = text.split('\n\n').slice(0, -1).find((b) => b.split('\n').includes('event: next'));
      const data = block?.split('\n').find((l) => l.startsWith('data: '));
      if (data) first = JSON.parse(data.slice(6)) as typeof first;
    }
    await subscriptions(gw, 1);
    abort.abort();
    assert.equal(first!.data, null);
    assert.equal(first!.errors?.[0]?.extensions?.code, 'GW_NOT_SUPPORTED');
  });
});
