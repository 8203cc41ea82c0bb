// Live tails end to end: real gateway, subscriptions over graphql-ws and GraphQL SSE, telemetry sent
// with the real SDK exporters and as hand-built OTLP/JSON.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import type { Client } from 'graphql-ws';
import { assertBurstAccounted, subscriptions, tail, wsClient } from '../helpers/tail-client.ts';
import { sendLogs, sendTrace } from '../helpers/otel-sdk.ts';

const SPAN_FIELDS = `dropped span {
  traceId spanId parentSpanId name kind status { code message } attributes
  events { name attributes } links { traceId spanId attributes }
  resource { serviceName } scope { name version } service
}`;
const LOG_FIELDS = `dropped log { id severityNumber severityText severity bodyText body attributes traceId spanId eventName service scope { name version } }`;

const TAIL_SPANS = `subscription($filter: TelemetryFilter) { tailSpans(filter: $filter) { ${SPAN_FIELDS} } }`;
const TAIL_LOGS = `subscription($filter: TelemetryFilter) { tailLogs(filter: $filter) { ${LOG_FIELDS} } }`;

async function postOtlpJson(gw: TestGateway, path: '/v1/traces' | '/v1/logs', body: unknown, tenant: string): Promise<{ status: number }> {
  const res = await fetch(`${gw.otlpHttp}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'X-Scope-OrgID': tenant },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return { status: res.status };
}

function spansJson(service: string, spans: { name: string; attributes?: Record<string, string> }[]): unknown {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [
          {
            scope: { name: 'hand-built', version: '0.0.1' },
            spans: spans.map((s, i) => ({
              traceId: '5bf92f3577b34da6a3ce929d0e0e4736',
              spanId: (i + 1).toString(16).padStart(16, '0'),
              name: s.name,
              kind: 2,
              startTimeUnixNano: String(now),
              endTimeUnixNano: String(now + 1_000_000n),
              attributes: Object.entries(s.attributes ?? {}).map(([key, v]) => ({ key, value: { stringValue: v } })),
            })),
          },
        ],
      },
    ],
  };
}

interface SpanEvent {
  tailSpans: {
    dropped: number;
    span: {
      traceId: string;
      spanId: string;
      parentSpanId: string | null;
      name: string;
      kind: string;
      status: { code: string; message: string };
      attributes: Record<string, unknown>;
      events: { name: string; attributes: Record<string, unknown> }[];
      links: { traceId: string; spanId: string; attributes: Record<string, unknown> }[];
      resource: { serviceName: string };
      scope: { name: string; version: string };
      service: string;
    };
  };
}
interface LogEvent {
  tailLogs: {
    dropped: number;
    log: {
      id: string;
      severityNumber: number;
      severityText: string;
      severity: string | null;
      bodyText: string | null;
      body: unknown;
      attributes: Record<string, unknown>;
      traceId: string | null;
      spanId: string | null;
      eventName: string | null;
      service: string;
      scope: { name: string; version: string };
    };
  };
}

describe('live tails over graphql-ws and SSE', () => {
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

  test('a span tail delivers only the spans matching its filter, field by field, and nothing to another tenant', async () => {
    const filter = { service: ['tail-checkout'], attributes: [{ key: 'db.system', eq: 'postgresql' }] };
    const mine = tail<SpanEvent>(client('tail-a'), TAIL_SPANS, { filter });
    const theirs = tail<SpanEvent>(client('tail-b'), TAIL_SPANS, { filter });
    await subscriptions(gw, 2);

    // Same service, other tenant; and the same tenant, another service: neither matches tail-a's tail.
    await sendTrace('grpc', gw, { service: 'tail-checkout', headers: { 'x-scope-orgid': 'tail-c' } });
    await sendTrace('http-proto', gw, { service: 'tail-other', headers: { 'x-scope-orgid': 'tail-a' } });
    const s = await sendTrace('http-json', gw, { service: 'tail-checkout', headers: { 'x-scope-orgid': 'tail-a' } });

    await waitFor(async () => mine.events.length, (n) => n >= 1, 'the matching span on the tail');
    // Once the trace is queryable everything sent has passed the tap: nothing more can arrive.
    await waitFor(
      () => gqlData<{ trace: { spanCount: number } | null }>(gw.graphqlUrl, 'query($id: ID!) { trace(traceId: $id) { spanCount } }', { id: s.traceId }, { 'X-Scope-OrgID': 'tail-a' }),
      (d) => d.trace?.spanCount === 2,
      'the trace in the store',
    );
    assert.deepEqual(mine.errors, []);
    assert.equal(mine.events.length, 1, 'only the CLIENT span of tail-checkout in tail-a has db.system = postgresql');
    const e = mine.events[0]!.tailSpans;
    assert.equal(e.dropped, 0);
    assert.equal(e.span.traceId, s.traceId);
    assert.equal(e.span.spanId, s.childSpanId);
    assert.equal(e.span.parentSpanId, s.rootSpanId);
    assert.equal(e.span.name, 'SELECT orders');
    assert.equal(e.span.kind, 'CLIENT');
    assert.deepEqual(e.span.status, { code: 'ERROR', message: 'db timeout' });
    assert.deepEqual(e.span.attributes, {
      'db.system': 'postgresql',
      'db.statement': 'SELECT * FROM orders WHERE id = 42',
      'retry.enabled': true,
      'db.rows': 17,
      'db.duration.ratio': 0.25,
      'tags.list': ['a', 'b'],
      'ints.list': [1, 2, 3],
      'bools.list': [true, false],
    });
    assert.deepEqual(e.span.events, [{ name: 'exception', attributes: { 'exception.type': 'TimeoutError', 'exception.message': 'query timed out after 5000 ms' } }]);
    assert.deepEqual(e.span.links, [{ traceId: s.linkedTraceId, spanId: s.linkedSpanId, attributes: { 'link.reason': 'follows', 'link.count': 3 } }]);
    assert.equal(e.span.resource.serviceName, 'tail-checkout');
    assert.equal(e.span.service, 'tail-checkout');
    assert.deepEqual(e.span.scope, { name: 'teleql-test-scope', version: '0.9.1' });

    assert.deepEqual(theirs.events, [], 'tail-b subscribed with the same filter and sees none of tail-a’s or tail-c’s spans');
    assert.deepEqual(theirs.errors, []);
    mine.stop();
    theirs.stop();
    await subscriptions(gw, 0);
  });

  test('a log tail delivers matching records from the SDK and from hand-built OTLP/JSON with synthetic ids', async () => {
    const filter = { service: ['tail-payments'], attributes: [{ key: 'user.tier', eq: 'gold' }] };
    const t = tail<LogEvent>(client('tail-logs'), TAIL_LOGS, { filter });
    const other = tail<LogEvent>(client('tail-logs-other'), TAIL_LOGS, { filter });
    await subscriptions(gw, 2);

    const sent = await sendLogs('grpc', gw, { service: 'tail-payments', headers: { 'x-scope-orgid': 'tail-logs' } });
    await sendLogs('grpc', gw, { service: 'tail-payments', headers: { 'x-scope-orgid': 'tail-logs-elsewhere' } });
    const now = String(BigInt(Date.now()) * 1_000_000n);
    const record = (tier: string, body: string) => ({
      timeUnixNano: now,
      severityNumber: 13,
      severityText: 'WARN',
      body: { stringValue: body },
      attributes: [{ key: 'user.tier', value: { stringValue: tier } }],
    });
    const r = await postOtlpJson(
      gw,
      '/v1/logs',
      {
        resourceLogs: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'tail-payments' } }] },
            scopeLogs: [{ scope: { name: 'hand-built', version: '0.0.1' }, logRecords: [record('silver', 'not me'), record('gold', 'refund issued')] }],
          },
        ],
      },
      'tail-logs',
    );
    assert.equal(r.status, 200);

    await waitFor(async () => t.events.length, (n) => n >= 2, 'two matching log records on the tail');
    await new Promise((res) => setTimeout(res, 100));
    assert.deepEqual(t.errors, []);
    assert.equal(t.events.length, 2);
    const [fromSdk, fromJson] = t.events.map((e) => e.tailLogs);
    assert.equal(fromSdk!.dropped, 0);
    assert.match(fromSdk!.log.id, /^tail:[\w-]{8}:\d+$/);
    assert.equal(fromSdk!.log.severityNumber, 17);
    assert.equal(fromSdk!.log.severityText, 'ERROR');
    assert.equal(fromSdk!.log.severity, 'ERROR');
    assert.equal(fromSdk!.log.bodyText, 'payment failed for order 42');
    assert.deepEqual(fromSdk!.log.attributes, { 'order.id': 42, 'user.tier': 'gold' });
    assert.equal(fromSdk!.log.traceId, sent.traceId);
    assert.equal(fromSdk!.log.spanId, sent.spanId);
    assert.equal(fromSdk!.log.eventName, 'payment.failed');
    assert.equal(fromSdk!.log.service, 'tail-payments');
    assert.deepEqual(fromSdk!.log.scope, { name: 'teleql-test-logger', version: '2.0.0' });

    assert.match(fromJson!.log.id, /^tail:[\w-]{8}:\d+$/);
    assert.notEqual(fromJson!.log.id, fromSdk!.log.id);
    assert.equal(fromJson!.log.bodyText, 'refund issued');
    assert.equal(fromJson!.log.severity, 'WARN');
    assert.deepEqual(fromJson!.log.attributes, { 'user.tier': 'gold' });
    assert.equal(fromJson!.log.traceId, null);
    assert.deepEqual(fromJson!.log.scope, { name: 'hand-built', version: '0.0.1' });

    assert.deepEqual(other.events, [], 'another tenant sees none of these logs');
    t.stop();
    other.stop();
    await subscriptions(gw, 0);
  });

  test('a subscriber that does not keep up gets the newest spans with a correct dropped count, and ingest is not slowed', async () => {
    const c = client('tail-burst');
    const t = tail<SpanEvent>(c, TAIL_SPANS, { filter: { service: ['burst'] } });
    await subscriptions(gw, 1);
    // An in-process subscriber that never reads while the burst is published.
    const idle = gw.app.internals.tail().subscribe('tail-burst', 'spans', () => true);

    const spans = Array.from({ length: 200 }, (_, i) => ({ name: `op-${i}` }));
    const r = await postOtlpJson(gw, '/v1/traces', spansJson('burst', spans), 'tail-burst');
    // Neither subscriber read before this answer came (the idle one never does until below).
    assert.equal(r.status, 200, 'the export was accepted while both subscribers lagged');

    // The idle subscriber's buffer (tail.bufferSize = 5) holds the newest five; the first carries the rest.
    const idleEvents = [];
    for (let i = 0; i < 5; i++) idleEvents.push((await idle.next()).value!);
    idle.close();
    assert.deepEqual(idleEvents.map((e) => e.record.name), ['op-195', 'op-196', 'op-197', 'op-198', 'op-199']);
    assert.deepEqual(idleEvents.map((e) => e.dropped), [195, 0, 0, 0, 0]);

    // The socket subscriber reads as fast as the socket takes frames (push delivery,
    // compiled-subscriptions.ts), so it may get every span; whatever it did not get is counted in
    // `dropped`, in order, ending with the newest. (A socket that stops reading:
    // test/integration/tail-push.test.ts.)
    const accounted = () => t.events.length + t.events.reduce((n, e) => n + e.tailSpans.dropped, 0);
    await waitFor(async () => accounted(), (n) => n >= 200, 'every span delivered or counted as dropped');
    await new Promise((res) => setTimeout(res, 100));
    assertBurstAccounted(t.events.map((e) => ({ name: e.tailSpans.span.name, dropped: e.tailSpans.dropped })), 200);
    const total = t.events.length + t.events.reduce((n, e) => n + e.tailSpans.dropped, 0);
    assert.equal(total, 200, 'delivered + dropped accounts for every matching span');
    t.stop();
    await subscriptions(gw, 0);
  });

  test('the per-connection limit fails the next subscription with GW_LIMIT_EXCEEDED naming the limit and its value', async () => {
    const c = client('tail-limit');
    const open = [0, 1, 2].map(() => tail<SpanEvent>(c, TAIL_SPANS));
    await subscriptions(gw, 3);
    const fourth = tail<SpanEvent>(c, TAIL_SPANS);
    await fourth.done;
    assert.equal(fourth.errors.length, 1);
    assert.equal(fourth.errors[0]!.extensions?.code, 'GW_LIMIT_EXCEEDED');
    assert.equal(fourth.errors[0]!.extensions?.limit, 'tail.maxPerConnection');
    assert.equal(fourth.errors[0]!.extensions?.value, 3);
    assert.match(fourth.errors[0]!.message, /tail\.maxPerConnection = 3/);

    // Another connection is not affected, and closing one subscription frees its slot.
    const elsewhere = tail<SpanEvent>(client('tail-limit'), TAIL_SPANS);
    await subscriptions(gw, 4);
    open[0]!.stop();
    await subscriptions(gw, 3);
    const again = tail<SpanEvent>(c, TAIL_SPANS);
    await subscriptions(gw, 4);
    assert.deepEqual(again.errors, []);
    for (const s of [...open, elsewhere, again]) s.stop();
    await subscriptions(gw, 0);
  });

  test('an invalid tail filter fails the subscription at once with GW_BAD_FILTER', async () => {
    const c = client('tail-bad');
    const cases: [string, string, Record<string, unknown>, RegExp][] = [
      ['a bad regex', TAIL_SPANS, { attributes: [{ key: 'http.route', regex: '(' }] }, /regex/],
      ['a time range', TAIL_SPANS, { from: '2024-01-01T00:00:00Z' }, /filter\.from.*no time range/],
      ['a nested time range', TAIL_LOGS, { or: [{ to: '2024-01-01T00:00:00Z' }] }, /filter\.or\[0\]\.to/],
      ['a span field on logs', TAIL_LOGS, { status: ['ERROR'] }, /status.*does not apply to logs/],
      ['two operators on a condition', TAIL_SPANS, { attributes: [{ key: 'k', eq: 'a', neq: 'b' }] }, /exactly one operator/],
    ];
    for (const [what, query, filter, message] of cases) {
      const t = tail<SpanEvent>(c, query, { filter });
      await t.done;
      assert.equal(t.errors.length, 1, what);
      assert.equal(t.errors[0]!.extensions?.code, 'GW_BAD_FILTER', what);
      assert.match(t.errors[0]!.message, message, what);
      assert.deepEqual(t.events, [], what);
    }
    assert.equal(gw.app.internals.tail().size(), 0, 'no slot is held by a failed subscription');
  });

  test('the same span tail works over GraphQL SSE and frees its slot when the client goes away', async () => {
    const abort = new AbortController();
    const res = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'X-Scope-OrgID': 'tail-sse' },
      body: JSON.stringify({ query: TAIL_SPANS, variables: { filter: { service: ['sse-svc'], attributes: [{ key: 'pick', eq: 'yes' }] } } }),
      signal: abort.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    await subscriptions(gw, 1);

    const r = await postOtlpJson(gw, '/v1/traces', spansJson('sse-svc', [{ name: 'skip me', attributes: { pick: 'no' } }, { name: 'take me', attributes: { pick: 'yes' } }]), 'tail-sse');
    assert.equal(r.status, 200);

    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const events: SpanEvent[] = [];
    while (events.length === 0) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      for (const block of text.split('\n\n').slice(0, -1)) {
        const lines = block.split('\n');
        if (!lines.includes('event: next')) continue;
        const data = lines.find((l) => l.startsWith('data: '));
        if (data) events.push((JSON.parse(data.slice(6)) as { data: SpanEvent }).data);
      }
    }
    assert.equal(events.length, 1);
    const e = events[0]!.tailSpans;
    assert.equal(e.span.name, 'take me');
    assert.equal(e.span.kind, 'SERVER');
    assert.equal(e.span.service, 'sse-svc');
    assert.deepEqual(e.span.attributes, { pick: 'yes' });
    assert.equal(e.span.traceId, '5bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(e.span.spanId, '0000000000000002');
    assert.equal(e.dropped, 0);

    abort.abort();
    await reader.cancel().catch(() => {});
    await subscriptions(gw, 0);
  });

  test('tail subscriptions and drops are exported on /metrics', async () => {
    const metrics = await (await fetch(gw.graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
    assert.match(metrics, /^teleql_tail_subscriptions 0$/m);
    assert.match(metrics, /^teleql_tail_dropped_total [1-9]\d*$/m);
  });
});

describe('the per-tenant tail cap', () => {
  let gw: TestGateway;
  const clients: Client[] = [];
  const client = (tenant: string) => {
    const c = wsClient(gw, tenant);
    clients.push(c);
    return c;
  };
  before(async () => {
    gw = await startGateway({ tail: { maxPerConnection: 2, maxPerTenant: 3 } });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await gw?.stop();
  });

  test('a tenant at tail.maxPerTenant gets GW_LIMIT_EXCEEDED on any connection; another tenant does not', async () => {
    const first = client('cap-a');
    const second = client('cap-a');
    const open = [tail<SpanEvent>(first, TAIL_SPANS), tail<SpanEvent>(first, TAIL_SPANS), tail<SpanEvent>(second, TAIL_SPANS)];
    await subscriptions(gw, 3);
    // A fresh connection of the same tenant is under its per-connection limit but not the tenant's.
    const fourth = tail<SpanEvent>(client('cap-a'), TAIL_SPANS);
    await fourth.done;
    assert.equal(fourth.errors.length, 1);
    assert.equal(fourth.errors[0]!.extensions?.code, 'GW_LIMIT_EXCEEDED');
    assert.equal(fourth.errors[0]!.extensions?.limit, 'tail.maxPerTenant');
    assert.equal(fourth.errors[0]!.extensions?.value, 3);
    assert.match(fourth.errors[0]!.message, /this tenant already has 3 live tail subscriptions open \(tail\.maxPerTenant = 3\)/);

    const other = tail<SpanEvent>(client('cap-b'), TAIL_SPANS);
    await subscriptions(gw, 4);
    assert.deepEqual(other.errors, []);

    // Closing one frees the tenant's slot.
    open[0]!.stop();
    await subscriptions(gw, 3);
    const again = tail<SpanEvent>(second, TAIL_SPANS);
    await subscriptions(gw, 4);
    assert.deepEqual(again.errors, []);
    for (const s of [...open, other, again]) s.stop();
    await subscriptions(gw, 0);
  });
});
