// serviceDependencies: from Jaeger's classic /api/dependencies (served from the real document in
// shared/fixtures), and the service graph's edges when traces are read from DuckDB.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixtureServer, type FixtureServer } from '../helpers/fixture-server.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql, gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { encodeRequest } from '../../src/otlp/encode.ts';
import { resource, span, spanId, traceId, MS, SEC, T0 } from '../helpers/telemetry-builders.ts';
import { createJaegerTraceStore } from '../../src/stores/jaeger/index.ts';
import { silentLogger } from '../../src/logger.ts';

const FIXTURE = '/work/shared/fixtures/jaeger/internal-api/dependencies.200.json';
const QUERY = `query($from: Timestamp, $to: Timestamp, $service: String) { serviceDependencies(from: $from, to: $to, service: $service) { parent child callCount } }`;
type Links = { serviceDependencies: { parent: string; child: string; callCount: number }[] };

describe('serviceDependencies from Jaeger', () => {
  let jaeger: FixtureServer;
  let gw: TestGateway;
  before(async () => {
    jaeger = await startFixtureServer([{ method: 'GET', path: '/api/dependencies', headers: { 'content-type': 'application/json' }, bodyFile: FIXTURE }]);
    gw = await startGateway({ storage: { read: { traces: 'jaeger' }, jaeger: { url: jaeger.url } } });
  });
  after(async () => {
    await gw?.stop();
    await jaeger?.close();
  });

  test('asks GET /api/dependencies with endTs and lookback in ms and answers every link, sorted', async () => {
    const data = await gqlData<Links>(gw.graphqlUrl, QUERY, { from: '2024-01-01T00:00:00Z', to: '2024-01-02T00:00:00Z' });
    assert.deepEqual(data.serviceDependencies, [
      { parent: 'Service1', child: 'Service2', callCount: 30489 },
      { parent: 'Service1', child: 'Service3', callCount: 30491 },
      { parent: 'Service1', child: 'Service5', callCount: 8560 },
      { parent: 'Service2', child: 'Service4', callCount: 129216 },
      { parent: 'Service3', child: 'Service7', callCount: 30491 },
      { parent: 'Service6', child: 'Service1', callCount: 30489 },
      { parent: 'Service8', child: 'Service6', callCount: 30489 },
    ]);
    const req = jaeger.requests.at(-1)!;
    assert.equal(req.path, '/api/dependencies');
    assert.deepEqual(req.query, { endTs: [String(Date.parse('2024-01-02T00:00:00Z'))], lookback: ['86400000'] });
    // The read source shows up in backends as READ and healthy after answering.
    const b = await gqlData<{ backends: { id: string; roles: string[]; healthy: boolean }[] }>(gw.graphqlUrl, '{ backends(role: READ) { id roles healthy } }');
    assert.deepEqual(b.backends.find((x) => x.id === 'jaeger/read/traces'), { id: 'jaeger/read/traces', roles: ['READ'], healthy: true });
  });

  test('a Jaeger that is down is GW_BACKEND_UNAVAILABLE and marks the read backend unhealthy', async () => {
    const store = createJaegerTraceStore({ baseUrl: jaeger.url, logger: silentLogger() });
    jaeger.setRoutes([{ method: 'GET', path: '/api/dependencies', status: 503, body: 'down' }]);
    try {
      const r = await gql<Links>(gw.graphqlUrl, QUERY, {});
      assert.equal(r.errors?.[0]?.extensions?.code, 'GW_BACKEND_UNAVAILABLE');
      const b = await gqlData<{ backends: { id: string; healthy: boolean; lastError: string }[] }>(gw.graphqlUrl, '{ backends(kind: "jaeger") { id healthy lastError } }');
      assert.equal(b.backends[0]!.healthy, false);
      assert.match(b.backends[0]!.lastError, /503/);
      await assert.rejects(store.dependencies('default', { from: 0n, to: 1_000_000_000n }), /503/);
    } finally {
      jaeger.setRoutes([{ method: 'GET', path: '/api/dependencies', headers: { 'content-type': 'application/json' }, bodyFile: FIXTURE }]);
    }
  });
});

describe('serviceDependencies computed from DuckDB spans', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(async () => {
    await gw?.stop();
  });

  test('counts parent → child calls across services, not within one', async () => {
    const now = BigInt(Date.now()) * MS;
    const web = resource('web');
    const api = resource('api');
    const db = resource('db');
    const spans = [
      span({ resource: web, traceId: traceId(1), spanId: spanId(1), startTimeUnixNano: now, endTimeUnixNano: now + MS }),
      span({ resource: api, traceId: traceId(1), spanId: spanId(2), parentSpanId: spanId(1), startTimeUnixNano: now, endTimeUnixNano: now + MS }),
      span({ resource: api, traceId: traceId(1), spanId: spanId(3), parentSpanId: spanId(2), startTimeUnixNano: now, endTimeUnixNano: now + MS }),
      span({ resource: db, traceId: traceId(1), spanId: spanId(4), parentSpanId: spanId(3), startTimeUnixNano: now, endTimeUnixNano: now + MS }),
      span({ resource: api, traceId: traceId(2), spanId: spanId(5), parentSpanId: spanId(9), startTimeUnixNano: now, endTimeUnixNano: now + MS }),
      span({ resource: web, traceId: traceId(3), spanId: spanId(6), startTimeUnixNano: now, endTimeUnixNano: now + MS }),
      span({ resource: api, traceId: traceId(3), spanId: spanId(7), parentSpanId: spanId(6), startTimeUnixNano: now, endTimeUnixNano: now + MS }),
    ];
    const res = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from(encodeRequest('traces', spans)) });
    assert.equal(res.status, 200);
    const data = await waitFor(
      () => gqlData<Links>(gw.graphqlUrl, QUERY, {}),
      (d) => d.serviceDependencies.length === 2 && d.serviceDependencies[1]!.callCount === 2,
      'the graph',
    );
    assert.deepEqual(data.serviceDependencies, [
      { parent: 'api', child: 'db', callCount: 1 },
      { parent: 'web', child: 'api', callCount: 2 },
    ]);
    const onlyDb = await gqlData<Links>(gw.graphqlUrl, QUERY, { service: 'db' });
    assert.deepEqual(onlyDb.serviceDependencies, [{ parent: 'api', child: 'db', callCount: 1 }]);
  });

  test('a caller whose span started before the range and came in another request is a call, in serviceDependencies as in serviceGraph', async () => {
    // gw's span (T0 − 10 s … T0 + 30 s) is exported when it ends, after api's (T0 + 5 s … T0 + 6 s):
    // two OTLP requests, two batches. The range starts at T0 (long before the other test's last 24 h).
    const trace = traceId(20);
    const child = span({ resource: resource('api'), traceId: trace, spanId: spanId(22), parentSpanId: spanId(21), startTimeUnixNano: T0 + 5n * SEC, endTimeUnixNano: T0 + 6n * SEC });
    const parent = span({ resource: resource('gw'), traceId: trace, spanId: spanId(21), startTimeUnixNano: T0 - 10n * SEC, endTimeUnixNano: T0 + 30n * SEC });
    for (const s of [child, parent]) {
      const res = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from(encodeRequest('traces', [s])) });
      assert.equal(res.status, 200);
      await waitFor(
        () => gqlData<{ span: unknown }>(gw.graphqlUrl, `query($t: ID!, $s: ID!) { span(traceId: $t, spanId: $s) { spanId } }`, { t: trace, s: s.spanId }),
        (d) => d.span !== null,
        `span ${s.spanId} stored`,
      );
    }
    const both = await gqlData<Links & { serviceGraph: { edges: { source: string; target: string; callCount: number }[] } }>(
      gw.graphqlUrl,
      `query($from: Timestamp!, $to: Timestamp!) {
        serviceDependencies(from: $from, to: $to) { parent child callCount }
        serviceGraph(from: $from, to: $to) { edges { source target callCount } }
      }`,
      { from: String(T0), to: String(T0 + 60n * SEC) },
    );
    assert.deepEqual(both.serviceGraph.edges, [{ source: 'gw', target: 'api', callCount: 1 }]);
    assert.deepEqual(both.serviceDependencies, [{ parent: 'gw', child: 'api', callCount: 1 }]);
  });
});
