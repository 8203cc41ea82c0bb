// `since` on live tails (replay stored matches, then live, no gap, no duplicate), tailTraces and
// tailMetrics, against a real gateway over graphql-ws with hand-built OTLP/JSON.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from 'graphql-ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { gaugeBody, hex, logsBody, nowNs, postOtlp, spansBody, subscriptions, tail, wsClient, type SpanSpec } from '../helpers/tail-client.ts';

const TAIL_SPANS = `subscription($filter: TelemetryFilter, $since: Timestamp) {
  tailSpans(filter: $filter, since: $since) { dropped replayed span { spanId name startTime service } }
}`;
const TAIL_LOGS = `subscription($filter: TelemetryFilter, $since: Timestamp) {
  tailLogs(filter: $filter, since: $since) { dropped replayed log { id bodyText time } }
}`;
const TAIL_TRACES = `subscription($filter: TelemetryFilter, $since: Timestamp) {
  tailTraces(filter: $filter, since: $since) { dropped replayed reason complete droppedSpans trace { traceId spanCount errorCount rootSpan { name } spans { spanId name } } }
}`;
const TAIL_METRICS = `subscription($name: String!, $labels: JSON, $since: Timestamp) {
  tailMetrics(name: $name, labels: $labels, since: $since) { dropped replayed point { name value attributes time resource { serviceName } } }
}`;

interface SpanEvent {
  tailSpans: { dropped: number; replayed: boolean; span: { spanId: string; name: string; startTime: string; service: string } };
}
interface LogEvent {
  tailLogs: { dropped: number; replayed: boolean; log: { id: string; bodyText: string; time: string } };
}
interface TraceEvent {
  tailTraces: {
    dropped: number;
    replayed: boolean;
    reason: string;
    complete: boolean;
    droppedSpans: number;
    trace: { traceId: string; spanCount: number; errorCount: number; rootSpan: { name: string } | null; spans: { spanId: string; name: string }[] };
  };
}
interface MetricEvent {
  tailMetrics: { dropped: number; replayed: boolean; point: { name: string; value: number; attributes: Record<string, unknown>; time: string; resource: { serviceName: string } } };
}

const TRACE_ID = 'aa000000000000000000000000000001';
const isoOf = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString();

async function spanCount(gw: TestGateway, tenant: string, service: string): Promise<number> {
  const d = await gqlData<{ spans: { edges: unknown[] } }>(
    gw.graphqlUrl,
    'query($f: TelemetryFilter) { spans(filter: $f, first: 1000) { edges { cursor } } }',
    { f: { service: [service], from: '2000-01-01T00:00:00Z' } },
    { 'X-Scope-OrgID': tenant },
  );
  return d.spans.edges.length;
}

describe('live tails with since, tailTraces and tailMetrics', () => {
  let gw: TestGateway;
  const clients: Client[] = [];
  const client = (tenant: string) => {
    const c = wsClient(gw, tenant);
    clients.push(c);
    return c;
  };

  before(async () => {
    gw = await startGateway({
      // A long batch timeout keeps records in the ingest queue when a replay starts: the replay
      // must wait for them (bus.settled) or they would fall between store and live.
      processors: { batch: { timeoutMs: 300 } },
      tail: { maxReplay: 5000, traces: { rootWaitMs: 100, quietMs: 400, maxSpansPerTrace: 3 } },
    });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await gw?.stop();
  });

  test('since replays stored spans oldest first, then live, with no gap and no duplicate while spans keep arriving', async () => {
    const tenant = 'replay-spans';
    const base = nowNs() - 60_000_000_000n;
    const since = base + 10_000_000n; // spans 0–9 start before it
    let n = 0;
    const sent: string[] = [];
    const batch = (count: number, offsetMs?: number): SpanSpec[] =>
      Array.from({ length: count }, () => {
        const i = n++;
        const spanId = hex(i + 1, 16);
        return { traceId: hex(i + 1, 32), spanId, name: `op-${i}`, startNs: base + BigInt(offsetMs ?? i) * 1_000_000n };
      });
    const post = async (spans: SpanSpec[]) => {
      // Another service in the same request: never matches.
      const other = spansBody('replay-other', [{ traceId: hex(9999, 32), spanId: hex(900_000 + n, 16), name: 'noise', startNs: base + 20_000_000n }]);
      assert.equal(await postOtlp(gw, '/v1/traces', other, tenant), 200);
      assert.equal(await postOtlp(gw, '/v1/traces', spansBody('replay-svc', spans), tenant), 200);
      for (const s of spans) if (s.startNs >= since) sent.push(s.spanId);
    };

    // Stored before anyone subscribes (10 of them before `since`).
    await post(batch(60));
    await waitFor(() => spanCount(gw, tenant, 'replay-svc'), (c) => c === 60, 'the first spans in the store');

    // Keep ingesting while the subscription replays and goes live.
    let ingesting = true;
    const ingester = (async () => {
      while (ingesting) {
        await post(batch(7));
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    const sentAtSubscribe = sent.length;
    const t = tail<SpanEvent>(client(tenant), TAIL_SPANS, { filter: { service: ['replay-svc'] }, since: isoOf(since) });
    await waitFor(async () => t.events.length, (c) => c > 0, 'the first replayed span');
    const sentAtFirstEvent = sent.length;
    await waitFor(async () => t.events.filter((e) => !e.tailSpans.replayed).length, (c) => c >= 30, 'live spans after the replay');
    ingesting = false;
    await ingester;
    const total = sent.length;
    await waitFor(async () => t.events.length, (c) => c >= total, `all ${total} spans on the tail`);
    await new Promise((r) => setTimeout(r, 200));

    assert.deepEqual(t.errors, []);
    const ids = t.events.map((e) => e.tailSpans.span.spanId);
    assert.equal(new Set(ids).size, ids.length, 'no span is delivered twice');
    assert.deepEqual(new Set(ids), new Set(sent), 'every span at or after since is delivered: stored, queued, and live');
    assert.ok(!ids.includes(hex(1, 16)), 'spans before since are not replayed');
    assert.ok(t.events.every((e) => e.tailSpans.span.service === 'replay-svc'), 'only the filtered service');
    assert.ok(t.events.every((e) => e.tailSpans.dropped === 0));

    const replayed = t.events.filter((e) => e.tailSpans.replayed);
    const firstLive = t.events.findIndex((e) => !e.tailSpans.replayed);
    assert.ok(replayed.length >= 50, `the stored spans are replayed (${replayed.length})`);
    assert.equal(firstLive, replayed.length, 'every replayed span comes before the first live one');
    const starts = replayed.map((e) => Date.parse(e.tailSpans.span.startTime));
    assert.deepEqual(starts, [...starts].sort((a, b) => a - b), 'the replay is oldest first');
    assert.ok(sentAtFirstEvent > sentAtSubscribe, `spans arrived during the replay (${sentAtFirstEvent - sentAtSubscribe})`);
    t.stop();
    await subscriptions(gw, 0);
  });

  test('since on logs replays stored records with their stored ids, then live records with synthetic ids', async () => {
    const tenant = 'replay-logs';
    const base = nowNs() - 30_000_000_000n;
    const old = Array.from({ length: 5 }, (_, i) => ({ timeNs: base + BigInt(i) * 1_000_000_000n, body: `stored ${i}`, attributes: { pick: 'yes' } }));
    assert.equal(await postOtlp(gw, '/v1/logs', logsBody('replay-logs-svc', [...old, { timeNs: base, body: 'not picked', attributes: { pick: 'no' } }]), tenant), 200);
    await waitFor(
      () => gqlData<{ logs: { edges: unknown[] } }>(gw.graphqlUrl, 'query { logs(filter: { from: "2000-01-01T00:00:00Z" }, first: 100) { edges { cursor } } }', {}, { 'X-Scope-OrgID': tenant }),
      (d) => d.logs.edges.length === 6,
      'the logs in the store',
    );
    const t = tail<LogEvent>(client(tenant), TAIL_LOGS, { filter: { attributes: [{ key: 'pick', eq: 'yes' }] }, since: isoOf(base + 1_000_000_000n) });
    await waitFor(async () => t.events.length, (c) => c >= 4, 'the replay');
    assert.equal(await postOtlp(gw, '/v1/logs', logsBody('replay-logs-svc', [{ timeNs: nowNs(), body: 'live one', attributes: { pick: 'yes' } }]), tenant), 200);
    await waitFor(async () => t.events.length, (c) => c >= 5, 'the live record');
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(t.errors, []);
    const got = t.events.map((e) => [e.tailLogs.log.bodyText, e.tailLogs.replayed]);
    assert.deepEqual(got, [
      ['stored 1', true],
      ['stored 2', true],
      ['stored 3', true],
      ['stored 4', true],
      ['live one', false],
    ]);
    for (const e of t.events.slice(0, 4)) assert.match(e.tailLogs.log.id, /^\d+$/, 'a replayed record has its stored id');
    assert.match(t.events[4]!.tailLogs.log.id, /^tail:[\w-]{8}:\d+$/);
    t.stop();
    await subscriptions(gw, 0);
  });

  test('a since that matches more than tail.maxReplay stored records fails with GW_LIMIT_EXCEEDED and holds no slot', async () => {
    const small = await startGateway({ tail: { maxReplay: 3 }, limits: { graphql: { maxTraceSpans: 5 } } });
    const c = wsClient(small, 'replay-limit');
    try {
      const base = nowNs() - 10_000_000_000n;
      const spans = Array.from({ length: 4 }, (_, i) => ({ traceId: TRACE_ID, spanId: hex(i + 1, 16), name: 'x', startNs: base + BigInt(i) * 1_000_000n }));
      assert.equal(await postOtlp(small, '/v1/traces', spansBody('limit-svc', spans), 'replay-limit'), 200);
      const over = tail<SpanEvent>(c, TAIL_SPANS, { since: isoOf(base - 1_000_000n) });
      await over.done;
      assert.equal(over.errors.length, 1);
      assert.equal(over.errors[0]!.extensions?.code, 'GW_LIMIT_EXCEEDED');
      assert.equal(over.errors[0]!.extensions?.limit, 'tail.maxReplay');
      assert.match(over.errors[0]!.message, /tail\.maxReplay = 3/);
      assert.deepEqual(over.events, []);
      assert.equal(small.app.internals.tail().size(), 0);
      // Three match a later since: exactly the limit is fine.
      const ok = tail<SpanEvent>(c, TAIL_SPANS, { since: isoOf(base + 1_000_000n) });
      await waitFor(async () => ok.events.length, (n) => n === 3, 'three replayed spans');
      assert.deepEqual(ok.errors, []);
      ok.stop();
      // tailMetrics counts the points whose labels match: four of another region do not count.
      const points = [1, 2, 3, 4].map((i) => ({ timeNs: base + BigInt(i) * 1_000_000n, value: i, attributes: { region: 'us' } }));
      points.push({ timeNs: base, value: 0, attributes: { region: 'eu' } });
      assert.equal(await postOtlp(small, '/v1/metrics', gaugeBody('limit-svc', 'queue.depth', points), 'replay-limit'), 200);
      const eu = tail<MetricEvent>(c, TAIL_METRICS, { name: 'queue.depth', labels: { region: 'eu' }, since: isoOf(base - 1_000_000n) });
      await waitFor(async () => eu.events.length + eu.errors.length, (n) => n === 1, 'the one eu point');
      assert.deepEqual(eu.errors, []);
      assert.deepEqual(eu.events.map((e) => [e.tailMetrics.point.value, e.tailMetrics.replayed]), [[0, true]]);
      eu.stop();
      // tailTraces counts traces against tail.maxReplay, and their spans against limits.graphql.maxTraceSpans.
      const traces = tail<TraceEvent>(c, TAIL_TRACES, { since: isoOf(base - 1_000_000n) });
      await waitFor(async () => traces.events.length, (n) => n === 1, 'the one stored trace, four spans');
      assert.equal(traces.events[0]!.tailTraces.trace.spanCount, 4);
      traces.stop();
      const post = async (traceId: string, ids: number[], total: number) => {
        const spans = ids.map((i) => ({ traceId, spanId: hex(i, 16), name: 'y', startNs: base + BigInt(i) * 1_000_000n }));
        assert.equal(await postOtlp(small, '/v1/traces', spansBody('limit-svc', spans), 'replay-limit'), 200);
        await waitFor(() => spanCount(small, 'replay-limit', 'limit-svc'), (n) => n === total, `${total} spans stored`);
      };
      const refusal = async (variables: Record<string, unknown>) => {
        const t = tail<TraceEvent>(c, TAIL_TRACES, { since: isoOf(base - 1_000_000n), ...variables });
        await t.done;
        assert.deepEqual(t.events, []);
        assert.equal(t.errors[0]?.extensions?.code, 'GW_LIMIT_EXCEEDED');
        return t.errors[0]!;
      };
      await post(hex(2, 32), [5, 6], 6);
      // Six matching spans: refused while the spans are searched, no trace read.
      const six = await refusal({});
      assert.equal(six.extensions?.limit, 'limits.graphql.maxTraceSpans');
      assert.match(six.message, /more than 5 spans \(limits\.graphql\.maxTraceSpans = 5\)/);
      // One matching span of a trace of six: refused on the trace's size.
      await post(hex(2, 32), [7, 8, 9, 10], 10);
      assert.equal((await refusal({ filter: { spanId: [hex(5, 16)] } })).extensions?.limit, 'limits.graphql.maxTraceSpans');
      // Four traces with one matching span each: one more than tail.maxReplay, found before any is read.
      await post(hex(3, 32), [11], 11);
      await post(hex(4, 32), [12], 12);
      assert.equal((await refusal({ filter: { spanId: [hex(1, 16), hex(5, 16), hex(11, 16), hex(12, 16)] } })).extensions?.limit, 'tail.maxReplay');
      assert.equal(small.app.internals.tail().size(), 0);
    } finally {
      await c.dispose();
      await small.stop();
    }
  });

  test('tailTraces sends a matching trace once its root arrives, a rootless one after the quiet period, and caps spans per trace', async () => {
    const tenant = 'tail-traces';
    const t = tail<TraceEvent>(client(tenant), TAIL_TRACES, { filter: { status: ['ERROR'] } });
    await subscriptions(gw, 1);
    const now = nowNs();
    const tid = (n: number) => `bb${hex(n, 30)}`;
    const sid = (n: number) => hex(n, 16);
    // Trace 1: an erroring child, then (another request) its root.
    await postOtlp(gw, '/v1/traces', spansBody('svc-a', [{ traceId: tid(1), spanId: sid(2), parentSpanId: sid(1), name: 'db', startNs: now + 1n, status: 2 }]), tenant);
    // Trace 2: no error anywhere, complete: filtered out.
    await postOtlp(gw, '/v1/traces', spansBody('svc-a', [{ traceId: tid(2), spanId: sid(1), name: 'fine', startNs: now }]), tenant);
    // Trace 3: an erroring span whose root never comes.
    await postOtlp(gw, '/v1/traces', spansBody('svc-b', [{ traceId: tid(3), spanId: sid(5), parentSpanId: sid(4), name: 'orphan', startNs: now, status: 2 }]), tenant);
    // Trace 4: five spans and a root; only three are kept.
    const four = [1, 2, 3, 4, 5].map((i) => ({ traceId: tid(4), spanId: sid(i + 1), parentSpanId: sid(1), name: `c${i}`, startNs: now + BigInt(i), status: 2 as const }));
    await postOtlp(gw, '/v1/traces', spansBody('svc-c', [...four, { traceId: tid(4), spanId: sid(1), name: 'root4', startNs: now }]), tenant);
    await postOtlp(gw, '/v1/traces', spansBody('svc-a', [{ traceId: tid(1), spanId: sid(1), name: 'GET /', startNs: now }]), tenant);

    await waitFor(async () => t.events.length, (c) => c >= 3, 'three traces');
    // A late span of trace 1 is not sent again as a second copy.
    await postOtlp(gw, '/v1/traces', spansBody('svc-a', [{ traceId: tid(1), spanId: sid(9), parentSpanId: sid(1), name: 'late', startNs: now, status: 2 }]), tenant);
    await new Promise((r) => setTimeout(r, 900));
    assert.deepEqual(t.errors, []);
    const byId = new Map(t.events.map((e) => [e.tailTraces.trace.traceId, e.tailTraces]));
    assert.equal(t.events.length, 3, `one event per matching trace: ${JSON.stringify([...byId.keys()])}`);
    assert.ok(!byId.has(tid(2)), 'a trace without an error span does not match');

    const one = byId.get(tid(1))!;
    assert.equal(one.reason, 'ROOT_ENDED');
    assert.equal(one.complete, true);
    assert.equal(one.trace.spanCount, 2);
    assert.equal(one.trace.errorCount, 1);
    assert.equal(one.trace.rootSpan?.name, 'GET /');
    assert.deepEqual(one.trace.spans.map((s) => s.name), ['GET /', 'db'], 'sorted by start time');
    assert.equal(one.droppedSpans, 0);

    const three = byId.get(tid(3))!;
    assert.equal(three.reason, 'QUIET');
    assert.equal(three.complete, false);
    assert.deepEqual(three.trace.spans.map((s) => s.name), ['orphan']);

    const fourth = byId.get(tid(4))!;
    assert.equal(fourth.trace.spanCount, 3);
    assert.equal(fourth.droppedSpans, 3, 'five children and a root, three kept');
    // The root came last, when the trace was full: it is kept in place of the last child kept.
    assert.equal(fourth.reason, 'ROOT_ENDED');
    assert.equal(fourth.trace.rootSpan?.name, 'root4');
    assert.deepEqual(fourth.trace.spans.map((s) => s.name), ['root4', 'c1', 'c2']);

    const metrics = await (await fetch(gw.graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
    assert.match(metrics, /^teleql_tail_trace_late_spans_total [1-9]\d*$/m);
    assert.match(metrics, /^teleql_tail_trace_dropped_spans_total 3$/m);
    t.stop();
    await subscriptions(gw, 0);
  });

  test('tailTraces with since replays the stored traces that have a matching span from since, oldest first, then live ones; a trace replayed is not sent again', async () => {
    const tenant = 'traces-since';
    const base = nowNs() - 30_000_000_000n;
    const tid = (n: number) => `cc${hex(n, 30)}`;
    const sid = (n: number) => hex(n, 16);
    await postOtlp(gw, '/v1/traces', spansBody('svc-s', [
      // Before since: not replayed.
      { traceId: tid(1), spanId: sid(1), name: 'old', startNs: base - 10_000_000_000n, status: 2 },
      // A root and its failing child: replayed, complete.
      { traceId: tid(2), spanId: sid(1), name: 'root2', startNs: base + 1_000_000n },
      { traceId: tid(2), spanId: sid(2), parentSpanId: sid(1), name: 'fail2', startNs: base + 2_000_000n, status: 2 },
      // No failing span: does not match.
      { traceId: tid(3), spanId: sid(1), name: 'fine3', startNs: base + 3_000_000n },
      // A failing span whose root is not stored: replayed, incomplete.
      { traceId: tid(4), spanId: sid(2), parentSpanId: sid(1), name: 'fail4', startNs: base + 1_500_000n, status: 2 },
    ]), tenant);
    await waitFor(() => spanCount(gw, tenant, 'svc-s'), (n) => n === 5, 'five spans stored');
    const t = tail<TraceEvent>(client(tenant), TAIL_TRACES, { filter: { status: ['ERROR'] }, since: isoOf(base) });
    await waitFor(async () => t.events.length, (n) => n === 2, 'the replay');
    const summary = (e: TraceEvent) => [e.tailTraces.trace.traceId, e.tailTraces.reason, e.tailTraces.replayed, e.tailTraces.complete, e.tailTraces.trace.spans.map((s) => s.name).join(',')];
    // In the order of their first failing span: fail4 (1.5 ms), fail2 (2 ms).
    assert.deepEqual(t.events.map(summary), [
      [tid(4), 'STORED', true, false, 'fail4'],
      [tid(2), 'STORED', true, true, 'root2,fail2'],
    ]);
    // Live: a late failing span of replayed trace 2 (its trace is not sent again), then a new
    // rootless trace: its quiet period ends after the late span's, so once it is here the copy of 2 would be too.
    const now = nowNs();
    await postOtlp(gw, '/v1/traces', spansBody('svc-s', [{ traceId: tid(2), spanId: sid(3), parentSpanId: sid(1), name: 'late2', startNs: now, status: 2 }]), tenant);
    await postOtlp(gw, '/v1/traces', spansBody('svc-s', [{ traceId: tid(5), spanId: sid(2), parentSpanId: sid(1), name: 'fail5', startNs: now, status: 2 }]), tenant);
    await waitFor(async () => t.events.length, (n) => n >= 3, 'the live trace');
    assert.deepEqual(t.events.slice(2).map(summary), [[tid(5), 'QUIET', false, false, 'fail5']]);
    assert.deepEqual(t.errors, []);
    t.stop();
    await subscriptions(gw, 0);
  });

  test('tailMetrics sends the points of one metric whose labels match, and replays stored ones with since', async () => {
    const tenant = 'tail-metrics';
    const base = nowNs() - 20_000_000_000n;
    const stored = [0, 1, 2].map((i) => ({ timeNs: base + BigInt(i) * 1_000_000_000n, value: i, attributes: { region: 'eu' } }));
    assert.equal(await postOtlp(gw, '/v1/metrics', gaugeBody('metrics-svc', 'queue.depth', [...stored, { timeNs: base, value: 99, attributes: { region: 'us' } }]), tenant), 200);
    await waitFor(
      () => gqlData<{ metrics: { name: string }[] }>(gw.graphqlUrl, 'query { metrics(from: "2000-01-01T00:00:00Z") { name } }', {}, { 'X-Scope-OrgID': tenant }),
      (d) => d.metrics.some((m) => m.name === 'queue.depth'),
      'the points in the store',
    );
    const labels = { region: 'eu', 'service.name': 'metrics-svc' };
    const replaying = tail<MetricEvent>(client(tenant), TAIL_METRICS, { name: 'queue.depth', labels, since: isoOf(base + 500_000_000n) });
    const live = tail<MetricEvent>(client(tenant), TAIL_METRICS, { name: 'queue.depth', labels });
    await subscriptions(gw, 2);
    await waitFor(async () => replaying.events.length, (c) => c >= 2, 'the replayed points');
    const now = nowNs();
    await postOtlp(gw, '/v1/metrics', gaugeBody('metrics-svc', 'queue.depth', [
      { timeNs: now, value: 7, attributes: { region: 'eu' } },
      { timeNs: now, value: 8, attributes: { region: 'us' } },
    ]), tenant);
    await postOtlp(gw, '/v1/metrics', gaugeBody('metrics-svc', 'queue.other', [{ timeNs: now, value: 9, attributes: { region: 'eu' } }]), tenant);
    await postOtlp(gw, '/v1/metrics', gaugeBody('metrics-svc', 'queue.depth', [{ timeNs: now, value: 10, attributes: { region: 'eu' } }]), 'tail-metrics-other');
    await waitFor(async () => live.events.length, (c) => c >= 1, 'the live point');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(live.errors, []);
    assert.deepEqual(replaying.errors, []);
    assert.deepEqual(live.events.map((e) => [e.tailMetrics.point.value, e.tailMetrics.replayed]), [[7, false]]);
    assert.deepEqual(live.events[0]!.tailMetrics.point.attributes, { region: 'eu' });
    assert.equal(live.events[0]!.tailMetrics.point.resource.serviceName, 'metrics-svc');
    assert.deepEqual(replaying.events.map((e) => [e.tailMetrics.point.value, e.tailMetrics.replayed]), [[1, true], [2, true], [7, false]]);

    // The scope's labels, as metricSeries gives them and metricPoints matches them (they matched nothing).
    const byScope = tail<MetricEvent>(client(tenant), TAIL_METRICS, { name: 'queue.depth', labels: { 'otel.scope.name': 'tail-test', 'otel.scope.version': '1.0.0', region: 'eu' }, since: isoOf(base + 500_000_000n) });
    const otherScope = tail<MetricEvent>(client(tenant), TAIL_METRICS, { name: 'queue.depth', labels: { 'otel.scope.name': 'another-lib' }, since: isoOf(base) });
    await waitFor(async () => byScope.events.length, (c) => c >= 3, 'the points of the scope');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(byScope.events.map((e) => [e.tailMetrics.point.value, e.tailMetrics.replayed]), [[1, true], [2, true], [7, true]]);
    assert.deepEqual([otherScope.events, otherScope.errors], [[], []]);
    byScope.stop();
    otherScope.stop();

    const bad = tail<MetricEvent>(client(tenant), TAIL_METRICS, { name: 'queue.depth', labels: ['region'] });
    await bad.done;
    assert.equal(bad.errors[0]?.extensions?.code, 'GW_BAD_ARGUMENT');
    replaying.stop();
    live.stop();
    await subscriptions(gw, 0);
  });
});
