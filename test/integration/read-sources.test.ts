// Reading from the backends people already run: the gateway configured to answer trace queries from
// Jaeger gives the same GraphQL answer as DuckDB for the same data. Jaeger cannot run here, so its
// real api_v3 documents (../shared/fixtures/jaeger) are served from a local HTTP server.
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startFixtureServer, type FixtureServer } from '../helpers/fixture-server.ts';
import { NO_SHARD_AVAILABLE, REGEX_REFUSED } from '../fixtures/elasticsearch/error-documents.ts';

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

test('attribute catalogs come from the embedded store, and with traces read from Jaeger the answer says so', async () => {
  // They were DuckDB's alone with no word: against an existing Jaeger, [] beside a full `services`.
  const query = '{ attributeKeys(signal: SPAN) logKeys: attributeKeys(signal: LOG) attributeValues(signal: RESOURCE, key: "service.name") }';
  const send = async (gw: TestGateway) => {
    const r = await fetch(gw.graphqlUrl, { method: 'POST', headers: json, body: JSON.stringify({ query }) });
    return (await r.json()) as { data: Record<string, string[]>; extensions?: { notes?: string[] } };
  };
  const jaegerAnswer = await send(fromJaeger);
  assert.deepEqual(jaegerAnswer.extensions?.notes, [
    'attributeKeys(SPAN): from the embedded store, so only what teleql received, not all that jaeger holds',
    'attributeValues(RESOURCE): from the embedded store, so only what teleql received, not all that jaeger holds',
  ]);
  assert.equal((await send(fromDuckDb)).extensions?.notes, undefined, 'no note when the embedded store is the read source');
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

describe('span lookups and failures through Jaeger', () => {
  // find-traces.200.json with its spans moved to three hours ago: older than the last hour that a
  // search without a time range covers. The server answers FindTraces as Jaeger does, from the
  // window it is asked for: the traces when the window holds their start, else 404 "No traces found".
  const findDoc = readFileSync(`${FIXTURES}find-traces.200.json`, 'utf8');
  const started = BigInt(Date.now() - 3 * 3_600_000) * 1_000_000n;
  const shifted = findDoc.replaceAll('"1485449191639875000"', `"${started}"`).replaceAll('"1485449191639975000"', `"${started + 100_000n}"`);
  const ns = (rfc: string): bigint => {
    const [, whole, frac = ''] = /^(.*?)(?:\.(\d+))?Z$/.exec(rfc)!;
    return BigInt(Date.parse(`${whole}Z`)) * 1_000_000n + BigInt(frac.padEnd(9, '0'));
  };
  const textError = { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' };
  // What Jaeger answers when its storage is down (composed: api_v3's error document, a gRPC dial error as the message).
  const storageDown = `${JSON.stringify({ error: { httpCode: 500, message: 'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.0.3.7:16685: connect: connection refused"' } })}\n`;
  let server: FixtureServer;
  let gw: TestGateway;

  before(async () => {
    server = await startFixtureServer([
      {
        method: 'GET',
        path: '/api/v3/traces',
        respond: (req) => {
          const from = ns(req.query['query.startTimeMin']![0]!);
          const to = ns(req.query['query.startTimeMax']![0]!);
          return from <= started && started <= to
            ? { headers: json, body: shifted }
            : { status: 404, headers: textError, bodyFile: `${FIXTURES}error.404.no-traces-found.json` };
        },
      },
      { method: 'GET', path: '/api/v3/traces/00000000000000000000000000000011', headers: json, body: shifted },
      { method: 'GET', path: '/api/v3/operations', status: 500, headers: textError, body: storageDown },
    ]);
    gw = await startGateway({ storage: { read: { traces: 'jaeger' }, jaeger: { url: server.url } } });
  });
  after(async () => {
    await gw?.stop();
    await server?.close();
  });

  it('correlate(spanId) and spans(filter: {spanId}) find a span that started three hours ago', async () => {
    const d = await gqlData<{ correlate: { traceId: string; spanId: string; trace: { spanCount: number } } | null; spans: { nodes: { spanId: string; name: string }[] } }>(
      gw.graphqlUrl,
      '{ correlate(spanId: "0000000000000006") { traceId spanId trace { spanCount } } spans(filter: { spanId: ["0000000000000006"] }) { nodes { spanId name } } }',
    );
    assert.deepEqual(d.correlate, { traceId: '00000000000000000000000000000011', spanId: '0000000000000006', trace: { spanCount: 5 } });
    assert.deepEqual(d.spans.nodes, [{ spanId: '0000000000000006', name: 'example-operation-3' }]);
  });

  it('storage.jaeger.spanLookup bounds the lookup: how far back without a from time, and how many requests', async () => {
    // Two hours back at most, one request: the first window (the last hour) misses the span, and
    // the lookup stops there instead of walking back to it.
    const bounded = await startGateway({ storage: { read: { traces: 'jaeger' }, jaeger: { url: server.url, spanLookup: { lookbackMs: 7_200_000, maxRequests: 1 } } } });
    try {
      server.clearRequests();
      const r = await fetch(bounded.graphqlUrl, { method: 'POST', headers: json, body: JSON.stringify({ query: '{ spans(filter: { spanId: ["0000000000000006"] }) { nodes { spanId } } }' }) });
      const body = (await r.json()) as { data: { spans: { nodes: unknown[] } }; extensions?: { notes?: string[] } };
      assert.deepEqual(body.data.spans.nodes, []);
      const finds = server.requests.filter((q) => q.path === '/api/v3/traces');
      assert.equal(finds.length, 1, 'maxRequests: 1');
      const note = body.extensions?.notes?.find((n) => n.includes('cannot look up a span by its ID')) ?? '';
      assert.match(note, /it stops after 1 requests/);
      assert.match(note, /without a from time a span lookup covers the last 2h0m0s/);
    } finally {
      await bounded.stop();
    }
  });

  it("a failing Jaeger reaches the client as GW_BACKEND_UNAVAILABLE naming the call and status, without Jaeger's message", async () => {
    const r = await fetch(gw.graphqlUrl, { method: 'POST', headers: json, body: JSON.stringify({ query: '{ operations(service: "checkout") { name } }' }) });
    const body = (await r.json()) as { errors: { message: string; extensions: { code: string; backend: string } }[] };
    const [err] = body.errors;
    assert.equal(err!.extensions.code, 'GW_BACKEND_UNAVAILABLE');
    assert.equal(err!.extensions.backend, 'jaeger');
    assert.equal(err!.message, 'jaeger answered HTTP 500 to GetOperations (the reason is in the gateway log)');
    assert.doesNotMatch(JSON.stringify(body), /10\.0\.3\.7|dial tcp|rpc error/);
  });
});

describe('log queries through Elasticsearch: which failures are the filter', () => {
  const ES_FIXTURES = new URL('../../../shared/fixtures/elasticsearch/', import.meta.url).pathname;
  const esHeaders = { 'content-type': 'application/vnd.elasticsearch+json;compatible-with=8', 'x-elastic-product': 'Elasticsearch' };
  let es: FixtureServer;
  let gw: TestGateway;

  before(async () => {
    es = await startFixtureServer([
      { method: 'POST', path: /\/_pit$/, headers: esHeaders, bodyFile: `${ES_FIXTURES}open-pit.200.json` },
      { method: 'DELETE', path: '/_pit', headers: esHeaders, bodyFile: `${ES_FIXTURES}close-pit.200.json` },
      // Lucene cannot parse the user's regex; anything else finds the shards unavailable.
      {
        method: 'POST',
        path: '/_search',
        respond: (req) =>
          req.body.toString('utf8').includes('"regexp"')
            ? { status: 400, headers: esHeaders, body: JSON.stringify(REGEX_REFUSED) }
            : { status: 503, headers: esHeaders, body: JSON.stringify(NO_SHARD_AVAILABLE) },
      },
    ]);
    gw = await startGateway({ storage: { read: { logs: 'elasticsearch' }, elasticsearch: { node: es.url } } });
  });
  after(async () => {
    await gw?.stop();
    await es?.close();
  });

  const run = async (query: string) => {
    const r = await fetch(gw.graphqlUrl, { method: 'POST', headers: json, body: JSON.stringify({ query }) });
    return ((await r.json()) as { errors: { message: string; extensions: { code: string; backend: string } }[] }).errors[0]!;
  };

  it("a regex Elasticsearch cannot parse is GW_BAD_FILTER with Elasticsearch's reason", async () => {
    // RE2 takes a non-capturing group; Lucene's RegExp has no `(?:` (the fixture server answers
    // every regexp query with Lucene's refusal).
    const err = await run('{ logs(filter: { attributes: [{ key: "http.route", regex: "/api/(?:v1|v2)/x" }] }) { nodes { id } } }');
    assert.equal(err.extensions.code, 'GW_BAD_FILTER');
    assert.equal(err.extensions.backend, 'elasticsearch');
    assert.equal(err.message, "Elasticsearch refused the filter: failed to create query: expected ')' at position 9");
    // One that is no regex at all is refused by the gateway before any store sees it.
    const own = await run('{ logs(filter: { attributes: [{ key: "http.route", regex: "(unclosed" }] }) { nodes { id } } }');
    assert.equal(own.extensions.code, 'GW_BAD_FILTER');
    assert.equal(own.extensions.backend, undefined);
    assert.match(own.message, /filter\.attributes\[0\].*invalid regex "\(unclosed"/);
  });

  it('unavailable shards are GW_BACKEND_UNAVAILABLE, not a bad filter, whatever the filter', async () => {
    for (const filter of ['{}', '{ attributes: [{ key: "http.route", eq: "/checkout" }] }']) {
      const err = await run(`{ logs(filter: ${filter}) { nodes { id } } }`);
      assert.equal(err.extensions.code, 'GW_BACKEND_UNAVAILABLE', filter);
      assert.equal(err.message, 'Elasticsearch answered HTTP 503 no_shard_available_action_exception to the log search (the reason is in the gateway log)');
    }
  });
});
