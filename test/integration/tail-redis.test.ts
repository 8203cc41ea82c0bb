// Live tails across replicas: two gateways share a real redis-server. A subscriber on replica B
// sees what replica A ingested; tenants stay apart across replicas; a subscriber on the ingesting
// replica gets each record once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from 'graphql-ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { redisMissing, startRedis, type TestRedis } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { hex, logsBody, nowNs, postOtlp, spansBody, tail, wsClient } from '../helpers/tail-client.ts';
import { sendTrace } from '../helpers/otel-sdk.ts';
import { Redis } from '../../src/startup/ioredis.ts';
import { gqlData } from '../helpers/graphql-client.ts';

const TAIL_SPANS = `subscription($filter: TelemetryFilter) { tailSpans(filter: $filter) { dropped span { traceId spanId name service attributes startTime } } }`;
const TAIL_LOGS = `subscription { tailLogs { log { bodyText service } } }`;
const TAIL_TRACES = `subscription { tailTraces { reason trace { traceId spanCount } } }`;

interface SpanEvent {
  tailSpans: { dropped: number; span: { traceId: string; spanId: string; name: string; service: string; attributes: Record<string, unknown>; startTime: string } };
}

describe('live tails across replicas through redis', { skip: redisMissing }, () => {
  let redis: TestRedis;
  let a: TestGateway;
  let b: TestGateway;
  const clients: Client[] = [];
  const client = (gw: TestGateway, tenant: string) => {
    const c = wsClient(gw, tenant);
    clients.push(c);
    return c;
  };
  /** Waits until replica `gw` knows that someone (here or elsewhere) listens to (tenant, topic). */
  const known = (gw: TestGateway, tenant: string, topic: 'spans' | 'logs') =>
    waitFor(async () => gw.app.internals.tail().listening(tenant, topic), (v) => v, `${tenant}/${topic} listened to, as seen from a replica`);

  before(async () => {
    redis = await startRedis();
    const cfg = { tail: { redis: { url: redis.url }, traces: { rootWaitMs: 50, quietMs: 500 } } };
    a = await startGateway(cfg);
    b = await startGateway(cfg);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  test('a subscriber on replica B receives the spans ingested at replica A, whole and filtered', async () => {
    const t = tail<SpanEvent>(client(b, 'acme'), TAIL_SPANS, { filter: { service: ['redis-checkout'] } });
    await known(a, 'acme', 'spans');
    const s = await sendTrace('grpc', a, { service: 'redis-checkout', headers: { 'x-scope-orgid': 'acme' } });
    await sendTrace('http-json', a, { service: 'redis-other', headers: { 'x-scope-orgid': 'acme' } });
    await waitFor(async () => t.events.length, (n) => n >= 3, 'the three spans on B');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(t.errors, []);
    // The SDK sends the trace's two spans and a span of the linked trace; none of redis-other's.
    assert.equal(t.events.length, 3, JSON.stringify(t.events));
    assert.ok(t.events.every((e) => e.tailSpans.span.service === 'redis-checkout'));
    const byId = new Map(t.events.map((e) => [e.tailSpans.span.spanId, e.tailSpans.span]));
    const child = byId.get(s.childSpanId)!;
    assert.equal(child.traceId, s.traceId);
    assert.equal(child.name, 'SELECT orders');
    assert.equal(child.service, 'redis-checkout');
    // Typed attributes and nanosecond times survive the trip through Redis.
    assert.equal(child.attributes['db.rows'], 17);
    assert.deepEqual(child.attributes['ints.list'], [1, 2, 3]);
    assert.match(child.startTime, /^\d{4}-\d\d-\d\dT/);
    assert.ok(byId.has(s.rootSpanId));
    t.stop();
  });

  test('tenants stay apart across replicas, and a subscriber on the ingesting replica gets each span once', async () => {
    const onB = tail<SpanEvent>(client(b, 'tenant-x'), TAIL_SPANS);
    const onA = tail<SpanEvent>(client(a, 'tenant-x'), TAIL_SPANS);
    const otherTenant = tail<SpanEvent>(client(b, 'tenant-y'), TAIL_SPANS);
    await known(a, 'tenant-y', 'spans');
    // Each replica listens to tenant-x itself, so `known` cannot tell when it has heard of the other's
    // subscriber: a probe span from each side, seen on both, can.
    const probes = ['probe-a', 'probe-b'];
    const probesSeen = (t: typeof onA) => probes.every((p) => t.events.some((e) => e.tailSpans.span.name === p));
    await waitFor(
      async () => {
        for (const [gw, name] of [[a, 'probe-a'], [b, 'probe-b']] as const) {
          if (!probesSeen(onA) || !probesSeen(onB)) await postOtlp(gw, '/v1/traces', spansBody('multi', [{ traceId: hex(999, 32), spanId: hex(999, 16), name, startNs: nowNs() }]), 'tenant-x');
        }
        await new Promise((r) => setTimeout(r, 100));
        return probesSeen(onA) && probesSeen(onB);
      },
      (v) => v,
      'a probe from each replica on both',
    );
    const probeless = (t: typeof onA) => t.events.filter((e) => !probes.includes(e.tailSpans.span.name));

    const now = nowNs();
    const spans = Array.from({ length: 50 }, (_, i) => ({ traceId: hex(i + 1, 32), spanId: hex(i + 1, 16), name: `op-${i}`, startNs: now + BigInt(i) }));
    assert.equal(await postOtlp(a, '/v1/traces', spansBody('multi', spans.slice(0, 25)), 'tenant-x'), 200);
    assert.equal(await postOtlp(b, '/v1/traces', spansBody('multi', spans.slice(25)), 'tenant-x'), 200);
    await waitFor(async () => Math.min(probeless(onA).length, probeless(onB).length), (n) => n >= 50, 'all fifty spans on both replicas');
    await new Promise((r) => setTimeout(r, 400));

    for (const [where, t] of [['A', onA], ['B', onB]] as const) {
      const ids = probeless(t).map((e) => e.tailSpans.span.spanId);
      assert.equal(ids.length, 50, `replica ${where}: each span once, whichever replica ingested it`);
      assert.deepEqual(new Set(ids), new Set(spans.map((s) => s.spanId)));
    }
    assert.deepEqual(otherTenant.events, [], 'tenant-y sees none of tenant-x’s spans on any replica');
    for (const t of [onA, onB, otherTenant]) t.stop();
  });

  test('logs and assembled traces cross replicas too; a trace is assembled once per replica', async () => {
    const logs = tail<{ tailLogs: { log: { bodyText: string; service: string } } }>(client(b, 'acme-logs'), TAIL_LOGS);
    const traces = tail<{ tailTraces: { reason: string; trace: { traceId: string; spanCount: number } } }>(client(b, 'acme-logs'), TAIL_TRACES);
    await known(a, 'acme-logs', 'logs');
    // B's first: A's own trace assembler, listening to spans, would make `known` true before A has heard of B's.
    await known(a, 'acme-logs', 'spans');
    const onA = a.app.internals.tail().size();
    const tracesOnA = tail<{ tailTraces: { reason: string; trace: { traceId: string; spanCount: number } } }>(client(a, 'acme-logs'), TAIL_TRACES);
    await waitFor(async () => a.app.internals.tail().size(), (n) => n === onA + 1, 'the trace tail on A open');
    const now = nowNs();
    assert.equal(await postOtlp(a, '/v1/logs', logsBody('log-svc', [{ timeNs: now, body: 'from A' }]), 'acme-logs'), 200);
    const traceId = 'cc000000000000000000000000000001';
    assert.equal(
      await postOtlp(a, '/v1/traces', spansBody('t-svc', [
        { traceId, spanId: hex(2, 16), parentSpanId: hex(1, 16), name: 'child', startNs: now + 1n },
        { traceId, spanId: hex(1, 16), name: 'root', startNs: now },
      ]), 'acme-logs'),
      200,
    );
    await waitFor(async () => logs.events.length + traces.events.length + tracesOnA.events.length, (n) => n >= 3, 'the log and the trace on both replicas');
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(logs.events.map((e) => e.tailLogs.log), [{ bodyText: 'from A', service: 'log-svc' }]);
    assert.deepEqual(traces.events.map((e) => [e.tailTraces.trace.traceId, e.tailTraces.trace.spanCount, e.tailTraces.reason]), [[traceId, 2, 'ROOT_ENDED']]);
    assert.deepEqual(tracesOnA.events.map((e) => [e.tailTraces.trace.traceId, e.tailTraces.trace.spanCount]), [[traceId, 2]]);
    for (const t of [logs, traces, tracesOnA]) t.stop();
  });

  test('a request goes to B as its body and B decodes the same records (a log without times observed at the same moment); a replica whose processors change records sends them changed', async () => {
    const TAIL_LOG_FIELDS = `subscription { tailLogs { log { bodyText time observedTime service severityNumber attributes } } }`;
    type LogEvent = { tailLogs: { log: Record<string, unknown> } };
    const onB = tail<LogEvent>(client(b, 'acme-raw'), TAIL_LOG_FIELDS);
    const onA = tail<LogEvent>(client(a, 'acme-raw'), TAIL_LOG_FIELDS);
    await waitFor(async () => (await metric(a, 'teleql_tail_redis_published_records_total')) >= 0 && a.app.internals.tail().listening('acme-raw', 'logs'), (v) => v, 'A listening');
    const requestsBefore = await metric(a, 'teleql_tail_redis_published_requests_total');
    const body = logsBody('raw-svc', [{ timeNs: nowNs(), body: 'with times', attributes: { k: 'v' } }]) as { resourceLogs: { scopeLogs: { logRecords: Record<string, unknown>[] }[] }[] };
    body.resourceLogs[0]!.scopeLogs[0]!.logRecords.push({ body: { stringValue: 'without times' }, severityNumber: 13 });
    // B's announcement may not have reached A yet: sent until B has it.
    await waitFor(
      async () => {
        if (onB.events.length === 0) assert.equal(await postOtlp(a, '/v1/logs', body, 'acme-raw'), 200);
        return onB.events.length;
      },
      (n) => n >= 2,
      'the two logs on B',
      15_000,
    );
    await waitFor(async () => onA.events.length, (n) => n >= onB.events.length, 'the same on A');
    // A's own tail got every request sent (B only those after it was heard of): the last two match.
    assert.deepEqual(onB.events.slice(-2), onA.events.slice(-2));
    const noTimes = onB.events.at(-1)!.tailLogs.log;
    assert.equal(noTimes.bodyText, 'without times');
    assert.ok(noTimes.observedTime !== null && noTimes.observedTime === noTimes.time, JSON.stringify(noTimes));
    assert.ok((await metric(a, 'teleql_tail_redis_published_requests_total')) > requestsBefore, `sent as a request: ${requestsBefore} ${await metric(a, 'teleql_tail_redis_published_requests_total')} ${await metric(a, 'teleql_tail_redis_published_records_total')}`);

    // A third replica redacts: its records change after decoding, so they travel as records.
    const c = await startGateway({ tail: { redis: { url: redis.url } }, processors: { redaction: {} } });
    try {
      const secret = 'login failed for jane@example.com';
      await waitFor(
        async () => {
          assert.equal(await postOtlp(c, '/v1/logs', logsBody('raw-svc', [{ timeNs: nowNs(), body: secret }]), 'acme-raw'), 200);
          return onB.events.filter((e) => String(e.tailLogs.log.bodyText).startsWith('login failed')).length;
        },
        (n) => n >= 1,
        'the log from C on B',
        15_000,
      );
      assert.deepEqual(
        [...new Set(onB.events.map((e) => String(e.tailLogs.log.bodyText)).filter((t) => t.startsWith('login failed')))],
        ['login failed for <redacted:email>'],
      );
      assert.equal(await metric(c, 'teleql_tail_redis_published_requests_total'), 0);
      assert.ok((await metric(c, 'teleql_tail_redis_published_records_total')) >= 1);
    } finally {
      await c.stop();
      onA.stop();
      onB.stop();
    }
  });

  test('a batch too large for one Redis message reaches B whole, and its request is answered 200 once', async () => {
    // 10,000 spans whose resource has 40 attributes: JSON repeated the resource on every record (58 MB,
    // past the 32 MB at which Redis cut every subscriber), and 1,000 logs under a 560,000-character
    // resource attribute could not be encoded at all (the request got 503 and its retry stored it twice).
    const remoteSpans = tail<SpanEvent>(client(b, 'bulk'), `subscription { tailSpans { span { spanId } } }`);
    const remoteLogs = tail<{ tailLogs: { log: { bodyText: string } } }>(client(b, 'bulk'), `subscription { tailLogs { log { bodyText } } }`);
    await known(a, 'bulk', 'spans');
    await known(a, 'bulk', 'logs');
    const resource = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k8s.attribute.${i}`, `value-${i}-${'x'.repeat(40)}`]));
    const start = nowNs();
    const spans = Array.from({ length: 10_000 }, (_, i) => ({ traceId: hex(200 + Math.floor(i / 100), 32), spanId: hex(10_000 + i, 16), name: `bulk-${i}`, startNs: start }));
    assert.equal(await postOtlp(a, '/v1/traces', spansBody('bulk', spans, resource), 'bulk'), 200);
    const logs = logsBody('bulk', Array.from({ length: 1000 }, (_, i) => ({ timeNs: start, body: `line ${i}` }))) as { resourceLogs: { resource: { attributes: unknown[] } }[] };
    logs.resourceLogs[0]!.resource.attributes.push({ key: 'process.command_args', value: { stringValue: 'a'.repeat(560_000) } });
    assert.equal(await postOtlp(a, '/v1/logs', logs, 'bulk'), 200);
    await waitFor(async () => remoteSpans.events.length + remoteLogs.events.length, (n) => n >= 11_000, 'every span and log on B');
    assert.equal(new Set(remoteSpans.events.map((e) => e.tailSpans.span.spanId)).size, 10_000);
    assert.equal(remoteLogs.events.length, 1000);
    const stored = await waitFor(
      () => gqlData<{ logs: { edges: unknown[] } }>(a.graphqlUrl, '{ logs(first: 1000, filter: { service: ["bulk"] }) { edges { cursor } } }', {}, { 'x-scope-orgid': 'bulk' }),
      (d) => d.logs.edges.length >= 1000,
      'the logs stored',
    );
    assert.equal(stored.logs.edges.length, 1000, 'each log stored once');
    remoteSpans.stop();
    remoteLogs.stop();
  });

  test('NaN and infinite doubles and bigint times cross replicas as they are', async () => {
    const query = `subscription { tailSpans { span { startTime attributes typedAttributes { key value otlpValue } } } }`;
    // B's first: A's own subscriber would make `known` true before A has heard of B's.
    const remote = tail<{ tailSpans: { span: unknown } }>(client(b, 'nan'), query);
    await known(a, 'nan', 'spans');
    const onA = a.app.internals.tail().size();
    const local = tail<{ tailSpans: { span: unknown } }>(client(a, 'nan'), query);
    await waitFor(async () => a.app.internals.tail().size(), (n) => n === onA + 1, 'the tail on A open');
    const body = spansBody('nan', [{ traceId: hex(94, 32), spanId: hex(94, 16), name: 'doubles', startNs: nowNs() }]) as { resourceSpans: { scopeSpans: { spans: { attributes: unknown[] }[] }[] }[] };
    body.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes.push(
      { key: 'ratio', value: { doubleValue: 'NaN' } },
      { key: 'limit', value: { doubleValue: 'Infinity' } },
      { key: 'floor', value: { doubleValue: '-Infinity' } },
    );
    assert.equal(await postOtlp(a, '/v1/traces', body, 'nan'), 200);
    await waitFor(async () => local.events.length + remote.events.length, (n) => n === 2, 'the span on both replicas');
    assert.deepEqual(remote.events, local.events);
    assert.deepEqual((local.events[0]!.tailSpans.span as { attributes: Record<string, string> }).attributes, { ratio: 'NaN', limit: 'Infinity', floor: '-Infinity' });
    local.stop();
    remote.stop();
  });

  test('a deployment on another Redis database does not hear these replicas (pub/sub ignores database numbers)', async () => {
    const other = await startGateway({ tail: { redis: { url: `${redis.url}/1` } } });
    try {
      const elsewhere = tail<SpanEvent>(wsClient(other, 'dbs'), TAIL_SPANS);
      const here = tail<SpanEvent>(client(b, 'dbs'), TAIL_SPANS);
      await known(a, 'dbs', 'spans');
      await waitFor(async () => other.app.internals.tail().size(), (n) => n === 1, 'the other deployment\'s tail open');
      assert.equal(await postOtlp(a, '/v1/traces', spansBody('dbs', [{ traceId: hex(95, 32), spanId: hex(95, 16), name: 'db 0 only', startNs: nowNs() }]), 'dbs'), 200);
      await waitFor(async () => here.events.length, (n) => n === 1, 'the span on replica B');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(elsewhere.events, [], 'nothing crosses to the deployment on database 1');
      elsewhere.stop();
      here.stop();
    } finally {
      await other.stop();
    }
  });

  test('a replica stops publishing to Redis once nobody else listens', async () => {
    await waitFor(async () => a.app.internals.tail().listening('acme', 'spans'), (v) => !v, 'A sees nobody listening to acme spans');
    const before = await publishedFromA();
    assert.equal(await postOtlp(a, '/v1/traces', spansBody('quiet', [{ traceId: hex(77, 32), spanId: hex(77, 16), name: 'unheard', startNs: nowNs() }]), 'acme'), 200);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await publishedFromA(), before);
  });

  /** A tail opened on B while Redis is away: the next test checks that it hears A once Redis is back. */
  let openedDuringOutage: ReturnType<typeof tail<SpanEvent>> | undefined;

  test('when Redis goes away, ingest goes on and subscribers on the ingesting replica still get their records', async () => {
    const local = tail<SpanEvent>(client(a, 'outage'), TAIL_SPANS);
    const remote = tail<SpanEvent>(client(b, 'outage'), TAIL_SPANS);
    await known(a, 'outage', 'spans');
    await waitFor(async () => a.app.internals.tail().size() + b.app.internals.tail().size(), (n) => n === 2, 'both subscriptions open');
    const publishedBefore = await publishedFromA();
    await redis.stop();
    const status = await postOtlp(a, '/v1/traces', spansBody('outage', [{ traceId: hex(88, 32), spanId: hex(88, 16), name: 'during the outage', startNs: nowNs() }]), 'outage');
    assert.equal(status, 200, 'the export is accepted');
    await waitFor(async () => local.events.length, (n) => n === 1, 'the span on the ingesting replica');
    assert.equal(local.events[0]!.tailSpans.span.name, 'during the outage');
    // The publish fails on its own schedule (ioredis gives up on the lost connection), not before the local delivery.
    const metrics = () => fetch(a.graphqlUrl.replace(/\/graphql$/, '/metrics')).then((r) => r.text());
    await waitFor(metrics, (text) => /^teleql_tail_redis_publish_errors_total [1-9]\d*$/m.test(text), 'the failed publish counted');
    assert.equal(await publishedFromA(), publishedBefore, 'a record Redis never took is not counted as published');
    // Its SUBSCRIBE fails now; ioredis would not resubscribe a channel it never had (QA round 29).
    openedDuringOutage = tail<SpanEvent>(client(b, 'during'), TAIL_SPANS);
    await waitFor(async () => b.app.internals.tail().size(), (n) => n >= 2, 'the tail opened during the outage');
    local.stop();
    remote.stop();
  });

  test('when Redis comes back, the replicas find each other again and subscribers on B get what A ingests', async () => {
    // The previous test stopped Redis; it comes back on the same port, as a restarted server does.
    redis = await startRedis(redis.port);
    for (const gw of [a, b]) await waitFor(() => metric(gw, 'teleql_tail_redis_reconnects_total'), (n) => n >= 1, 'the replica reconnected');
    const remote = tail<SpanEvent>(client(b, 'comeback'), TAIL_SPANS);
    await known(a, 'comeback', 'spans');
    // A's publisher reconnects on its own schedule (publishes fail fast meanwhile): send until one arrives.
    let sent = 0;
    await waitFor(
      async () => {
        if (remote.events.length === 0) {
          const span = { traceId: hex(91, 32), spanId: hex(100 + sent++, 16), name: 'after the outage', startNs: nowNs() };
          assert.equal(await postOtlp(a, '/v1/traces', spansBody('comeback', [span]), 'comeback'), 200);
        }
        return remote.events.length;
      },
      (n) => n >= 1,
      'a span on replica B',
    );
    assert.equal(remote.events[0]!.tailSpans.span.name, 'after the outage');
    remote.stop();
    // The tail opened while Redis was away hears replica A too.
    await known(a, 'during', 'spans');
    assert.equal(await postOtlp(a, '/v1/traces', spansBody('during', [{ traceId: hex(93, 32), spanId: hex(93, 16), name: 'to a tail opened during the outage', startNs: nowNs() }]), 'during'), 200);
    await waitFor(async () => openedDuringOutage!.events.length, (n) => n === 1, 'the span on the tail opened during the outage');
    openedDuringOutage!.stop();
  });

  test('a replica whose Redis connections drop says hello once they are back, so the others learn its channels at once, not at their next heartbeat', async () => {
    // Only the replicas' connections are cut (CLIENT KILL), so this test's own subscriber hears
    // every announcement. Before, a replica back from an outage longer than three heartbeats
    // (6 s) had been forgotten and was heard of again only at its next heartbeat.
    const remote = tail<SpanEvent>(client(b, 'hello'), TAIL_SPANS);
    await known(a, 'hello', 'spans');
    const watcher = new Redis(redis.url, { lazyConnect: true });
    const admin = new Redis(redis.url, { lazyConnect: true });
    try {
      await Promise.all([watcher.connect(), admin.connect()]);
      const mine = new Set([Number(await watcher.client('ID')), Number(await admin.client('ID'))]);
      const hellos: { replica: string; channels: string[] }[] = [];
      watcher.on('message', (_channel: string, message: string) => {
        const m = JSON.parse(message) as { replica: string; channels: string[]; hello?: boolean };
        if (m.hello) hellos.push(m);
      });
      await watcher.subscribe('teleql:tail:replicas');
      const reconnectsBefore = await Promise.all([a, b].map((gw) => metric(gw, 'teleql_tail_redis_reconnects_total')));
      const clientIds = String(await admin.client('LIST'))
        .split('\n')
        .map((line) => Number(/\bid=(\d+)/.exec(line)?.[1]))
        .filter((id) => id > 0 && !mine.has(id));
      assert.ok(clientIds.length >= 4, `each replica's publisher and subscriber (and alerting's lease): ${clientIds.length} connections`);
      for (const id of clientIds) await admin.client('KILL', 'ID', String(id));
      await waitFor(async () => new Set(hellos.map((h) => h.replica)).size, (n) => n === 2, 'a hello from each replica');
      assert.ok(
        hellos.some((h) => h.channels.includes('teleql:tail:v2:spans:hello')),
        `replica B's hello names its channel: ${JSON.stringify(hellos)}`,
      );
      const reconnectsAfter = await Promise.all([a, b].map((gw) => metric(gw, 'teleql_tail_redis_reconnects_total')));
      assert.deepEqual(reconnectsAfter, reconnectsBefore.map((n) => n + 1));
      assert.equal(await postOtlp(a, '/v1/traces', spansBody('hello', [{ traceId: hex(92, 32), spanId: hex(92, 16), name: 'after the reconnect', startNs: nowNs() }]), 'hello'), 200);
      await waitFor(async () => remote.events.length, (n) => n === 1, 'the span on replica B');
    } finally {
      watcher.disconnect();
      admin.disconnect();
      remote.stop();
    }
  });

  async function metric(gw: TestGateway, name: string): Promise<number> {
    const text = await (await fetch(gw.graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
    const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  }

  async function publishedFromA(): Promise<number> {
    const text = await (await fetch(a.graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
    const m = /^teleql_tail_redis_published_records_total (\d+)$/m.exec(text);
    assert.ok(m, 'the Redis transport reports on /metrics');
    return Number(m[1]);
  }
});
