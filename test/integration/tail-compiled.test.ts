// Subscriptions run compiled (graphql-jit, src/server/compiled-subscriptions.ts) unless their
// variables include the recursive TelemetryFilter input, which runs on the ordinary executor. Both
// paths must give the same events, errors, `dropped` counts and replays: the other tail tests mostly
// send `$filter` (the ordinary path), these send inline filters (the compiled one) beside it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from 'graphql-ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { hex, logsBody, nowNs, postOtlp, spansBody, subscriptions, tail, wsClient, type SpanSpec } from '../helpers/tail-client.ts';

const SPAN_FIELDS = `dropped replayed span {
  traceId spanId parentSpanId name kind status { code message } attributes attribute(key: "http.route")
  startTime durationNano resource { serviceName } scope { name version } service
}`;
const LOG_FIELDS = 'dropped replayed log { severityNumber severityText bodyText body attributes traceId spanId service scope { name version } }';

/** The ordinary executor: a TelemetryFilter variable is not compiled. */
const ORDINARY_SPANS = `subscription($filter: TelemetryFilter, $since: Timestamp) { tailSpans(filter: $filter, since: $since) { ${SPAN_FIELDS} } }`;
const ORDINARY_LOGS = `subscription($filter: TelemetryFilter) { tailLogs(filter: $filter) { ${LOG_FIELDS} } }`;
/** Compiled: the filter is inline, the variables are a string list and a timestamp. */
const COMPILED_SPANS = `subscription($s: [String!], $since: Timestamp) { tailSpans(filter: { service: $s }, since: $since) { ${SPAN_FIELDS} } }`;
const COMPILED_LOGS = `subscription($s: [String!]) { tailLogs(filter: { service: $s, minSeverity: 9 }) { ${LOG_FIELDS} } }`;

interface SpanEvent {
  tailSpans: { dropped: number; replayed: boolean; span: { spanId: string; name: string } & Record<string, unknown> };
}
interface LogEvent {
  tailLogs: { dropped: number; replayed: boolean; log: Record<string, unknown> };
}

describe('compiled subscriptions', () => {
  let gw: TestGateway;
  const clients: Client[] = [];
  const client = (tenant: string) => {
    const c = wsClient(gw, tenant);
    clients.push(c);
    return c;
  };

  before(async () => {
    gw = await startGateway({ tail: { bufferSize: 5, maxPerConnection: 3 } });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await gw?.stop();
  });

  test('a compiled span and log tail deliver the same events, field by field, as the ordinary executor', async () => {
    const c = client('jit-same');
    const ordinary = tail<SpanEvent>(c, ORDINARY_SPANS, { filter: { service: ['jit-a'] } });
    const compiled = tail<SpanEvent>(c, COMPILED_SPANS, { s: ['jit-a'] });
    const ordinaryLogs = tail<LogEvent>(c, ORDINARY_LOGS, { filter: { service: ['jit-a'], minSeverity: 9 } });
    const c2 = client('jit-same');
    const compiledLogs = tail<LogEvent>(c2, COMPILED_LOGS, { s: ['jit-a'] });
    await subscriptions(gw, 4);

    const t0 = nowNs();
    const spans: SpanSpec[] = [
      { traceId: hex(1, 32), spanId: hex(1, 16), name: 'GET /cart', startNs: t0, attributes: { 'http.route': '/cart' } },
      { traceId: hex(1, 32), spanId: hex(2, 16), parentSpanId: hex(1, 16), name: 'SELECT', startNs: t0 + 1000n, status: 2 },
    ];
    assert.equal(await postOtlp(gw, '/v1/traces', spansBody('jit-a', spans), 'jit-same'), 200);
    assert.equal(await postOtlp(gw, '/v1/traces', spansBody('jit-b', [{ ...spans[0]!, spanId: hex(3, 16) }]), 'jit-same'), 200);
    const logs = [
      { timeNs: t0, body: 'pool exhausted', severityNumber: 17, attributes: { 'db.system': 'postgresql' } },
      { timeNs: t0, body: 'debug noise', severityNumber: 5 },
    ];
    assert.equal(await postOtlp(gw, '/v1/logs', logsBody('jit-a', logs), 'jit-same'), 200);

    await waitFor(async () => compiled.events.length + ordinary.events.length + compiledLogs.events.length + ordinaryLogs.events.length, (n) => n >= 6, 'six events');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(compiled.errors, []);
    assert.deepEqual(compiledLogs.errors, []);
    assert.deepEqual(compiled.events.map((e) => e.tailSpans.span.name), ['GET /cart', 'SELECT']);
    assert.deepEqual(compiled.events, ordinary.events);
    assert.equal(compiled.events[0]!.tailSpans.span.attribute, '/cart');
    assert.deepEqual(compiledLogs.events.map((e) => e.tailLogs.log.bodyText), ['pool exhausted']);
    assert.deepEqual(compiledLogs.events, ordinaryLogs.events);
    for (const t of [ordinary, compiled, ordinaryLogs, compiledLogs]) t.stop();
    await subscriptions(gw, 0);
  });

  test('errors are the same on the compiled path: a bad inline filter, and a limit', async () => {
    const c = client('jit-errors');
    const bad = tail<SpanEvent>(c, 'subscription { tailSpans(filter: { service: ["x"], from: "2024-01-01T00:00:00Z" }) { dropped } }');
    const badOrdinary = tail<SpanEvent>(c, ORDINARY_SPANS, { filter: { service: ['x'], from: '2024-01-01T00:00:00Z' } });
    await Promise.all([bad.done, badOrdinary.done]);
    assert.equal(bad.errors.length, 1);
    assert.equal(bad.errors[0]!.extensions?.code, 'GW_BAD_FILTER');
    // The same error but for its location in the (different) documents.
    const unlocated = (errors: object[]) => errors.map((e) => ({ ...e, locations: undefined }));
    assert.deepEqual(unlocated(bad.errors), unlocated(badOrdinary.errors));

    // tail.maxPerConnection = 3: the fourth compiled subscription on one socket fails, naming the limit.
    const open = [0, 1, 2].map(() => tail<SpanEvent>(c, COMPILED_SPANS, { s: ['jit-limit'] }));
    await subscriptions(gw, 3);
    const fourth = tail<SpanEvent>(c, COMPILED_SPANS, { s: ['jit-limit'] });
    await fourth.done;
    assert.equal(fourth.errors.length, 1);
    assert.equal(fourth.errors[0]!.extensions?.code, 'GW_LIMIT_EXCEEDED');
    assert.equal(fourth.errors[0]!.extensions?.limit, 'tail.maxPerConnection');
    for (const t of open) t.stop();
    await subscriptions(gw, 0);
  });

  test('a compiled subscriber that does not keep up gets the newest spans with a correct dropped count', async () => {
    const c = client('jit-burst');
    const t = tail<SpanEvent>(c, COMPILED_SPANS, { s: ['jit-burst'] });
    await subscriptions(gw, 1);
    const t0 = nowNs();
    const spans = Array.from({ length: 200 }, (_, i) => ({ traceId: hex(9, 32), spanId: hex(i + 1, 16), name: `op-${i}`, startNs: t0 + BigInt(i) }));
    assert.equal(await postOtlp(gw, '/v1/traces', spansBody('jit-burst', spans), 'jit-burst'), 200);
    // The first span is handed to the waiting subscriber; the 199 after it in the same batch arrive
    // while it is sent, so the buffer (tail.bufferSize = 5) keeps the newest five.
    await waitFor(async () => t.events.length, (n) => n >= 6, 'six events');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      t.events.map((e) => [e.tailSpans.span.name, e.tailSpans.dropped]),
      [['op-0', 0], ['op-195', 194], ['op-196', 0], ['op-197', 0], ['op-198', 0], ['op-199', 0]],
    );
    t.stop();
    await subscriptions(gw, 0);
  });

  test('a compiled tail with since replays the stored spans, then continues live, each once', async () => {
    const c = client('jit-since');
    const t0 = nowNs();
    const stored = [0, 1, 2].map((i) => ({ traceId: hex(7, 32), spanId: hex(100 + i, 16), name: `stored-${i}`, startNs: t0 + BigInt(i) }));
    assert.equal(await postOtlp(gw, '/v1/traces', spansBody('jit-since', stored), 'jit-since'), 200);
    const t = tail<SpanEvent>(c, COMPILED_SPANS, { s: ['jit-since'], since: String(t0 - 1_000_000n) });
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
