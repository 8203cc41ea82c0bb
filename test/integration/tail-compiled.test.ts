// Subscription events run compiled (graphql-jit, src/server/compiled-subscriptions.ts), with the
// filter inline or as a TelemetryFilter variable; a gateway with `tail.compiled: false` runs them on
// the ordinary executor. Both paths must give the same events, errors, `dropped` counts and replays.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from 'graphql-ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { assertBurstAccounted, hex, logsBody, nowNs, postOtlp, spansBody, subscriptions, tail, wsClient, type SpanSpec } from '../helpers/tail-client.ts';

const SPAN_FIELDS = `dropped replayed span {
  traceId spanId parentSpanId name kind status { code message } attributes attribute(key: "http.route")
  startTime durationNano resource { serviceName } scope { name version } service
}`;
const LOG_FIELDS = 'dropped replayed log { severityNumber severityText bodyText body attributes traceId spanId service scope { name version } }';

/** The filter as a TelemetryFilter variable (as `teleql tail` sends it). */
const FILTER_SPANS = `subscription($filter: TelemetryFilter, $since: Timestamp) { tailSpans(filter: $filter, since: $since) { ${SPAN_FIELDS} } }`;
const FILTER_LOGS = `subscription($filter: TelemetryFilter) { tailLogs(filter: $filter) { ${LOG_FIELDS} } }`;
/** The filter inline, its values a string list variable. */
const INLINE_SPANS = `subscription($s: [String!], $since: Timestamp) { tailSpans(filter: { service: $s }, since: $since) { ${SPAN_FIELDS} } }`;
const INLINE_LOGS = `subscription($s: [String!]) { tailLogs(filter: { service: $s, minSeverity: 9 }) { ${LOG_FIELDS} } }`;

interface SpanEvent {
  tailSpans: { dropped: number; replayed: boolean; span: { spanId: string; name: string } & Record<string, unknown> };
}
interface LogEvent {
  tailLogs: { dropped: number; replayed: boolean; log: Record<string, unknown> };
}

describe('compiled subscriptions', () => {
  let gw: TestGateway;
  /** tail.compiled: false — every event on graphql-js' executor. */
  let ordinaryGw: TestGateway;
  const clients: Client[] = [];
  const client = (tenant: string, on: TestGateway = gw) => {
    const c = wsClient(on, tenant);
    clients.push(c);
    return c;
  };

  before(async () => {
    [gw, ordinaryGw] = await Promise.all([
      startGateway({ tail: { bufferSize: 5, maxPerConnection: 3 } }),
      startGateway({ tail: { bufferSize: 5, maxPerConnection: 3, compiled: false } }),
    ]);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await Promise.all([gw?.stop(), ordinaryGw?.stop()]);
  });

  test('compiled span and log tails deliver the same events, field by field, as the ordinary executor', async () => {
    const c = client('jit-same');
    const o = client('jit-same', ordinaryGw);
    const byFilter = { filter: { service: ['jit-a'] } };
    const compiled = [tail<SpanEvent>(c, FILTER_SPANS, byFilter), tail<SpanEvent>(c, INLINE_SPANS, { s: ['jit-a'] })];
    const ordinary = [tail<SpanEvent>(o, FILTER_SPANS, byFilter), tail<SpanEvent>(o, INLINE_SPANS, { s: ['jit-a'] })];
    const logFilter = { filter: { service: ['jit-a'], minSeverity: 9 } };
    const compiledLogs = [tail<LogEvent>(c, FILTER_LOGS, logFilter), tail<LogEvent>(client('jit-same'), INLINE_LOGS, { s: ['jit-a'] })];
    const ordinaryLogs = [tail<LogEvent>(o, FILTER_LOGS, logFilter), tail<LogEvent>(client('jit-same', ordinaryGw), INLINE_LOGS, { s: ['jit-a'] })];
    await Promise.all([subscriptions(gw, 4), subscriptions(ordinaryGw, 4)]);

    const t0 = nowNs();
    const spans: SpanSpec[] = [
      { traceId: hex(1, 32), spanId: hex(1, 16), name: 'GET /cart', startNs: t0, attributes: { 'http.route': '/cart' } },
      { traceId: hex(1, 32), spanId: hex(2, 16), parentSpanId: hex(1, 16), name: 'SELECT', startNs: t0 + 1000n, status: 2 },
    ];
    const logs = [
      { timeNs: t0, body: 'pool exhausted', severityNumber: 17, attributes: { 'db.system': 'postgresql' } },
      { timeNs: t0, body: 'debug noise', severityNumber: 5 },
    ];
    for (const g of [gw, ordinaryGw]) {
      assert.equal(await postOtlp(g, '/v1/traces', spansBody('jit-a', spans), 'jit-same'), 200);
      assert.equal(await postOtlp(g, '/v1/traces', spansBody('jit-b', [{ ...spans[0]!, spanId: hex(3, 16) }]), 'jit-same'), 200);
      assert.equal(await postOtlp(g, '/v1/logs', logsBody('jit-a', logs), 'jit-same'), 200);
    }

    const all = [...compiled, ...ordinary, ...compiledLogs, ...ordinaryLogs];
    await waitFor(async () => all.reduce((n, t) => n + t.events.length, 0), (n) => n >= 12, 'twelve events');
    await new Promise((r) => setTimeout(r, 200));
    for (const t of all) assert.deepEqual(t.errors, []);
    assert.deepEqual(compiled[0]!.events.map((e) => e.tailSpans.span.name), ['GET /cart', 'SELECT']);
    assert.equal(compiled[0]!.events[0]!.tailSpans.span.attribute, '/cart');
    assert.deepEqual(compiledLogs[0]!.events.map((e) => e.tailLogs.log.bodyText), ['pool exhausted']);
    for (const i of [0, 1]) {
      assert.deepEqual(compiled[i]!.events, ordinary[i]!.events);
      assert.deepEqual(compiledLogs[i]!.events, ordinaryLogs[i]!.events);
    }
    assert.deepEqual(compiled[1]!.events, compiled[0]!.events);
    for (const t of all) t.stop();
    await Promise.all([subscriptions(gw, 0), subscriptions(ordinaryGw, 0)]);
  });

  test('a document with two subscription operations runs the one each subscriber names', async () => {
    // Compiled forms were kept per document only: the second operation subscribed ran the first's.
    const c = client('jit-named');
    const document = `subscription Spans { tailSpans(filter: { service: ["jit-n"] }) { span { name } } }
      subscription Logs { tailLogs(filter: { service: ["jit-n"] }) { log { bodyText } } }`;
    const got: Record<string, unknown[]> = { Spans: [], Logs: [] };
    const stops = (['Spans', 'Logs'] as const).map((operationName) =>
      c.subscribe({ query: document, operationName }, { next: (r) => void got[operationName]!.push(r.data ?? r.errors), error: (e) => void got[operationName]!.push(e), complete: () => {} }),
    );
    await subscriptions(gw, 2);
    assert.equal(await postOtlp(gw, '/v1/traces', spansBody('jit-n', [{ traceId: hex(7, 32), spanId: hex(7, 16), name: 'a span', startNs: nowNs() }]), 'jit-named'), 200);
    assert.equal(await postOtlp(gw, '/v1/logs', logsBody('jit-n', [{ timeNs: nowNs(), body: 'a log' }]), 'jit-named'), 200);
    await waitFor(async () => got.Spans!.length + got.Logs!.length, (n) => n >= 2, 'two events');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(got, { Spans: [{ tailSpans: { span: { name: 'a span' } } }], Logs: [{ tailLogs: { log: { bodyText: 'a log' } } }] });
    stops.forEach((stop) => stop());
    await subscriptions(gw, 0);
  });

  test('errors are the same on the compiled path: a bad inline filter, and a limit', async () => {
    const c = client('jit-errors');
    const bad = tail<SpanEvent>(c, 'subscription { tailSpans(filter: { service: ["x"], from: "2024-01-01T00:00:00Z" }) { dropped } }');
    const badOrdinary = tail<SpanEvent>(client('jit-errors', ordinaryGw), 'subscription { tailSpans(filter: { service: ["x"], from: "2024-01-01T00:00:00Z" }) { dropped } }');
    await Promise.all([bad.done, badOrdinary.done]);
    assert.equal(bad.errors.length, 1);
    assert.equal(bad.errors[0]!.extensions?.code, 'GW_BAD_FILTER');
    assert.deepEqual(bad.errors, badOrdinary.errors);

    // tail.maxPerConnection = 3: the fourth compiled subscription on one socket fails, naming the limit.
    const open = [0, 1, 2].map(() => tail<SpanEvent>(c, INLINE_SPANS, { s: ['jit-limit'] }));
    await subscriptions(gw, 3);
    const fourth = tail<SpanEvent>(c, INLINE_SPANS, { s: ['jit-limit'] });
    await fourth.done;
    assert.equal(fourth.errors.length, 1);
    assert.equal(fourth.errors[0]!.extensions?.code, 'GW_LIMIT_EXCEEDED');
    assert.equal(fourth.errors[0]!.extensions?.limit, 'tail.maxPerConnection');
    for (const t of open) t.stop();
    await subscriptions(gw, 0);
  });

  test('a compiled subscriber that does not keep up gets the newest spans with a correct dropped count', async () => {
    const c = client('jit-burst');
    const t = tail<SpanEvent>(c, INLINE_SPANS, { s: ['jit-burst'] });
    await subscriptions(gw, 1);
    const t0 = nowNs();
    const spans = Array.from({ length: 200 }, (_, i) => ({ traceId: hex(9, 32), spanId: hex(i + 1, 16), name: `op-${i}`, startNs: t0 + BigInt(i) }));
    assert.equal(await postOtlp(gw, '/v1/traces', spansBody('jit-burst', spans), 'jit-burst'), 200);
    // Compiled tails are pushed to the socket as fast as it takes them, so this one may get every
    // span; whatever it missed is counted in `dropped`, in order, the newest last (a socket that
    // stops reading: tail-push.test.ts).
    const accounted = () => t.events.length + t.events.reduce((n, e) => n + e.tailSpans.dropped, 0);
    await waitFor(async () => accounted(), (n) => n >= 200, 'every span delivered or counted as dropped');
    await new Promise((r) => setTimeout(r, 100));
    assertBurstAccounted(t.events.map((e) => ({ name: e.tailSpans.span.name, dropped: e.tailSpans.dropped })), 200);
    t.stop();
    await subscriptions(gw, 0);
  });

  test('a compiled tail with since replays the stored spans, then continues live, each once', async () => {
    const c = client('jit-since');
    const t0 = nowNs();
    const stored = [0, 1, 2].map((i) => ({ traceId: hex(7, 32), spanId: hex(100 + i, 16), name: `stored-${i}`, startNs: t0 + BigInt(i) }));
    assert.equal(await postOtlp(gw, '/v1/traces', spansBody('jit-since', stored), 'jit-since'), 200);
    const t = tail<SpanEvent>(c, INLINE_SPANS, { s: ['jit-since'], since: String(t0 - 1_000_000n) });
    await subscriptions(gw, 1);
    await waitFor(async () => t.events.length, (n) => n >= 3, 'the replay');
    const live = [{ traceId: hex(7, 32), spanId: hex(200, 16), name: 'live-0', startNs: nowNs() }];
    assert.equal(await postOtlp(gw, '/v1/traces', spansBody('jit-since', live), 'jit-since'), 200);
    await waitFor(async () => t.events.length, (n) => n >= 4, 'the live span');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(t.errors, []);
    assert.deepEqual(
      t.events.map((e) => [e.tailSpans.span.name, e.tailSpans.replayed]),
      [['stored-0', true], ['stored-1', true], ['stored-2', true], ['live-0', false]],
    );
    t.stop();
    await subscriptions(gw, 0);
  });
});
