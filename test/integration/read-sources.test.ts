// Reading from the backends people already run: the gateway configured to answer trace queries from
// Jaeger gives the same GraphQL answer as DuckDB for the same data. Jaeger cannot run here, so its
// real api_v3 documents (../shared/fixtures/jaeger) are served from a local HTTP server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startFixtureServer, type FixtureServer } from '../helpers/fixture-server.ts';

const FIXTURES = new URL('../../../shared/fixtures/jaeger/api-v3/', import.meta.url).pathname;
const getTrace = JSON.parse(readFileSync(`${FIXTURES}get-trace.200.json`, 'utf8')) as { result: { resourceSpans: { scopeSpans: { spans: { traceId: string }[] }[] }[] } };
const traceId = getTrace.result.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId;
const json = { 'content-type': 'application/json' };

const QUERY = `query($id: ID!) { trace(traceId: $id) {
  traceId spanCount errorCount services startTime duration
  rootSpan { spanId }
  spans { spanId parentSpanId name kind startTimeUnixNano endTimeUnixNano traceState flags status { code message }
          attributes typedAttributes { key type value } events { name timeUnixNano attributes } links { traceId spanId attributes }
          resource { attributes } scope { name version } service droppedAttributesCount }
} }`;

let jaeger: FixtureServer;
let fromJaeger: TestGateway;
let fromDuckDb: TestGateway;

before(async () => {
  jaeger = await startFixtureServer([
    { method: 'GET', path: `/api/v3/traces/${traceId}`, headers: json, bodyFile: `${FIXTURES}get-trace.200.json` },
    { method: 'GET', path: /^\/api\/v3\/traces\/[0-9a-f]+$/, status: 404, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }, bodyFile: `${FIXTURES}error.404.no-traces-found.json` },
    { method: 'GET', path: '/api/v3/services', headers: json, bodyFile: `${FIXTURES}services.200.json` },
    { method: 'GET', path: '/api/v3/traces', headers: json, bodyFile: `${FIXTURES}find-traces.200.json` },
  ]);
  fromJaeger = await startGateway({ storage: { read: { traces: 'jaeger' }, jaeger: { url: jaeger.url } } });
  fromDuckDb = await startGateway();
});
after(async () => {
  await fromJaeger?.stop();
  await fromDuckDb?.stop();
  await jaeger?.close();
});

test('a trace read from Jaeger answers exactly as the same trace stored in DuckDB', async () => {
  // The same OTLP/JSON document Jaeger serves, ingested into the embedded store.
  const res = await fetch(`${fromDuckDb.otlpHttp}/v1/traces`, { method: 'POST', headers: json, body: JSON.stringify(getTrace.result) });
  assert.equal(res.status, 200);
  const duck = await waitFor(() => gqlData<{ trace: unknown }>(fromDuckDb.graphqlUrl, QUERY, { id: traceId }), (d) => d.trace !== null, 'the trace in DuckDB');
  const viaJaeger = await gqlData<{ trace: { spanCount: number } | null }>(fromJaeger.graphqlUrl, QUERY, { id: traceId });
  assert.ok(viaJaeger.trace && viaJaeger.trace.spanCount > 0);
  assert.deepEqual(viaJaeger, duck);
  assert.equal(jaeger.requests.at(-1)?.path, `/api/v3/traces/${traceId}`);
});

test('an unknown trace is null, not an error, and services come from Jaeger', async () => {
  const d = await gqlData<{ trace: unknown; services: string[] }>(fromJaeger.graphqlUrl, '{ trace(traceId: "0123456789abcdef0123456789abcdef") { traceId } services }');
  assert.equal(d.trace, null);
  const expected = (JSON.parse(readFileSync(`${FIXTURES}services.200.json`, 'utf8')) as { services: string[] }).services;
  assert.deepEqual([...d.services].sort(), [...expected].sort());
});

test('when Jaeger is down, the query fails with a code naming the backend and the gateway keeps serving', async () => {
  const down = await startGateway({ storage: { read: { traces: 'jaeger' }, jaeger: { url: 'http://127.0.0.1:1', timeoutMs: 2000 } } });
  try {
    const r = await fetch(down.graphqlUrl, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ query: `{ trace(traceId: "${traceId}") { traceId } }` }),
    });
    const body = (await r.json()) as { errors: { message: string; extensions: { code: string; backend: string } }[] };
    assert.equal(body.errors[0]!.extensions.code, 'GW_BACKEND_UNAVAILABLE');
    assert.equal(body.errors[0]!.extensions.backend, 'jaeger');
    assert.doesNotMatch(body.errors[0]!.message, /127\.0\.0\.1/, 'no address leaks');
    const logs = await gqlData<{ logs: { edges: unknown[] } }>(down.graphqlUrl, '{ logs { edges { cursor } } }');
    assert.deepEqual(logs.logs.edges, [], 'the other signals still answer from DuckDB');
  } finally {
    await down.stop();
  }
});

test('a filter Jaeger cannot evaluate is applied by the gateway, and the response says so in extensions', async () => {
  const r = await fetch(fromJaeger.graphqlUrl, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ query: '{ traces(filter: { from: "0", or: [{ status: [ERROR] }, { kind: [SERVER] }] }, limit: 10) { traceId } }' }),
  });
  const body = (await r.json()) as { data: { traces: { traceId: string }[] }; extensions?: { notes?: string[] } };
  assert.ok(Array.isArray(body.data.traces));
  assert.ok(body.extensions?.notes?.some((n) => /gateway/i.test(n)), JSON.stringify(body.extensions));
  const search = jaeger.requests.findLast((q) => q.path === '/api/v3/traces');
  assert.ok(search, 'Jaeger was asked to search');
  assert.ok(search.query['query.startTimeMin']?.[0], 'with the time range Jaeger requires');
});
