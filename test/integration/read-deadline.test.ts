// The request deadline (limits.graphql.timeoutMs) and a client that goes away stop reads from every
// read backend, not only DuckDB: each backend here is a local HTTP server that holds its answer (the
// real fixture documents, sent only after HOLD_MS), and the gateway's deadline is far shorter. Each
// test proves from the server's side, without timing the gateway, that the gateway closed the held
// connection before the hold ended (`abandoned`), and that it started no call after the abort.
// Before, an Elasticsearch read held the request until the backend answered or its own timeout
// fired, one call after another, and then said "running queries were interrupted" (QA round 34, D1).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql, gqlData, type GraphQLResponse } from '../helpers/graphql-client.ts';
import { startFixtureServer, type FixtureServer, type RecordedRequest } from '../helpers/fixture-server.ts';
import { waitFor } from '../helpers/wait-for.ts';

/** How long a backend holds its answer: far past the deadline, and short of every backend timeout. */
const HOLD_MS = 6_000;
const DEADLINE_MS = 500;
const ES_FIXTURES = new URL('../../../shared/fixtures/elasticsearch/', import.meta.url).pathname;
const JAEGER_FIXTURES = new URL('../../../shared/fixtures/jaeger/api-v3/', import.meta.url).pathname;
const esHeaders = { 'content-type': 'application/vnd.elasticsearch+json;compatible-with=8', 'x-elastic-product': 'Elasticsearch' };
const json = { 'content-type': 'application/json' };

/** A deadline's answer: GW_TIMEOUT alone, naming the setting. */
function assertDeadline(r: GraphQLResponse): void {
  assert.equal(r.errors?.length, 1, JSON.stringify(r.errors));
  assert.equal(r.errors[0]!.extensions?.['code'], 'GW_TIMEOUT', JSON.stringify(r.errors));
  assert.match(r.errors[0]!.message, new RegExp(`request deadline of ${DEADLINE_MS} ms \\(limits\\.graphql\\.timeoutMs\\) passed`));
}

/** Each held exchange ended with the gateway closing it: the answer came before the hold was over. */
async function assertAbandoned(requests: readonly RecordedRequest[], what: string): Promise<void> {
  assert.ok(requests.length > 0, `the server got ${what}`);
  for (const req of requests) assert.equal(await req.ended, 'abandoned', `${what}: ${req.method} ${req.url}`);
}

async function readSourceHealth(gw: TestGateway, id: string) {
  const d = await gqlData<{ backends: { id: string; healthy: boolean; lastError: string | null }[] }>(gw.graphqlUrl, '{ backends { id healthy lastError } }');
  return d.backends.find((b) => b.id === id);
}

describe('logs read from Elasticsearch', () => {
  let es: FixtureServer;
  let gw: TestGateway;
  const routes = (hold: 'pit' | 'search') => [
    { method: 'POST', path: /\/_pit$/, headers: esHeaders, bodyFile: `${ES_FIXTURES}open-pit.200.json`, ...(hold === 'pit' && { delayMs: HOLD_MS }) },
    { method: 'DELETE', path: '/_pit', headers: esHeaders, bodyFile: `${ES_FIXTURES}close-pit.200.json` },
    { method: 'POST', path: '/_search', headers: esHeaders, bodyFile: `${ES_FIXTURES}search.200.pit-last-page-no-total.json`, delayMs: HOLD_MS },
  ];

  before(async () => {
    es = await startFixtureServer();
    gw = await startGateway({ limits: { graphql: { timeoutMs: DEADLINE_MS } }, storage: { read: { logs: 'elasticsearch' }, elasticsearch: { node: es.url } } });
  });
  after(async () => {
    await gw?.stop();
    await es?.close();
  });

  it('a held search ends at the deadline with GW_TIMEOUT, its connection closed, its point in time freed, the backend still healthy', async () => {
    es.setRoutes(routes('search'));
    es.clearRequests();
    assertDeadline(await gql(gw.graphqlUrl, '{ logs(first: 2) { nodes { id } } }'));
    await assertAbandoned(es.requests.filter((r) => r.path === '/_search'), 'the PIT search');
    await waitFor(async () => es.requests.filter((r) => r.method === 'DELETE' && r.path === '/_pit').length, (n) => n === 1, 'the point in time closed');
    const health = await readSourceHealth(gw, 'elasticsearch/read/logs');
    assert.deepEqual(health && { healthy: health.healthy, lastError: health.lastError }, { healthy: true, lastError: null }, 'a deadline is not the backend failing');
  });

  it('a search whose answer stalls after its headers ends at the deadline too, the backend still healthy', async () => {
    // Once the headers are in, the Elasticsearch transport takes an abort for a connection fault (and
    // would wait out a retry backoff before seeing it): the store ends the read at the abort itself.
    es.setRoutes([routes('search')[0]!, routes('search')[1]!, { method: 'POST', path: '/_search', headers: esHeaders, bodyFile: `${ES_FIXTURES}search.200.pit-last-page-no-total.json`, stallAfterBytes: 40 }]);
    es.clearRequests();
    assertDeadline(await gql(gw.graphqlUrl, '{ logs(first: 2) { nodes { id } } }'));
    await assertAbandoned(es.requests.filter((r) => r.path === '/_search'), 'the stalled search');
    assert.equal(es.requests.filter((r) => r.path === '/_search').length, 1, 'not sent again');
    const health = await readSourceHealth(gw, 'elasticsearch/read/logs');
    assert.deepEqual(health && { healthy: health.healthy, lastError: health.lastError }, { healthy: true, lastError: null });
  });

  it('a held point-in-time open ends at the deadline, and the search after it is never sent', async () => {
    es.setRoutes(routes('pit'));
    es.clearRequests();
    assertDeadline(await gql(gw.graphqlUrl, '{ logs(first: 2) { nodes { id } } }'));
    await assertAbandoned(es.requests.filter((r) => r.path.endsWith('/_pit')), 'the point-in-time open');
    assert.deepEqual(es.requests.map((r) => `${r.method} ${r.path}`), ['POST /logs-teleql-*/_pit'], 'no call after the abort');
  });

  it('a client that goes away ends the search it was waiting for', async () => {
    const patient = await startGateway({ limits: { graphql: { timeoutMs: 60_000 } }, storage: { read: { logs: 'elasticsearch' }, elasticsearch: { node: es.url } } });
    try {
      es.setRoutes(routes('search'));
      es.clearRequests();
      const client = new AbortController();
      const answer = fetch(patient.graphqlUrl, { method: 'POST', headers: json, body: JSON.stringify({ query: '{ logs { nodes { id } } }' }), signal: client.signal });
      const search = await waitFor(async () => es.requests.find((r) => r.path === '/_search'), (r) => r !== undefined, 'the search sent');
      client.abort();
      await assert.rejects(answer);
      assert.equal(await search!.ended, 'abandoned');
    } finally {
      await patient.stop();
    }
  });
});

describe('traces read from Jaeger', () => {
  let jaeger: FixtureServer;
  let gw: TestGateway;
  const ids = Array.from({ length: 12 }, (_, i) => (i + 1).toString(16).padStart(32, '0'));

  before(async () => {
    jaeger = await startFixtureServer([
      { method: 'GET', path: /^\/api\/v3\/traces\/[0-9a-f]{32}$/, headers: json, bodyFile: `${JAEGER_FIXTURES}get-trace.200.json`, delayMs: HOLD_MS },
    ]);
    gw = await startGateway({ limits: { graphql: { timeoutMs: DEADLINE_MS } }, storage: { read: { traces: 'jaeger' }, jaeger: { url: jaeger.url } } });
  });
  after(async () => {
    await gw?.stop();
    await jaeger?.close();
  });

  it('held GetTrace calls end at the deadline with GW_TIMEOUT, and the IDs not yet asked for are never asked', async () => {
    assertDeadline(await gql(gw.graphqlUrl, `{ traces(filter: { traceId: ${JSON.stringify(ids)} }) { traceId } }`));
    const sent = jaeger.requests.length;
    // The store asks for 8 traces at a time: the other 4 would have gone once those answered.
    assert.ok(sent > 0 && sent < ids.length, `${sent} of ${ids.length} traces asked for`);
    await assertAbandoned(jaeger.requests, 'GetTrace');
    assert.equal(jaeger.requests.length, sent, 'no call after the abort');
    const health = await readSourceHealth(gw, 'jaeger/read/traces');
    assert.equal(health?.healthy, true, 'a deadline is not the backend failing');
  });
});

describe('metrics read from Prometheus', () => {
  let prom: FixtureServer;
  let gw: TestGateway;
  // Prometheus' HTTP API envelope (https://prometheus.io/docs/prometheus/latest/querying/api/).
  const empty = JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } });

  const buildinfo = JSON.stringify({ status: 'success', data: { version: '3.1.0', revision: '', branch: '', buildUser: '', buildDate: '', goVersion: '' } });

  before(async () => {
    prom = await startFixtureServer([
      { method: 'POST', path: '/api/v1/query', headers: json, body: empty, delayMs: HOLD_MS },
      { method: 'GET', path: '/api/v1/status/buildinfo', headers: json, body: buildinfo, delayMs: HOLD_MS },
    ]);
    gw = await startGateway({ limits: { graphql: { timeoutMs: DEADLINE_MS } }, storage: { read: { metrics: 'prometheus' }, prometheus: { url: prom.url } } });
  });
  after(async () => {
    await gw?.stop();
    await prom?.close();
  });

  it('a held PromQL query ends at the deadline with GW_TIMEOUT and its connection closed', async () => {
    assertDeadline(await gql(gw.graphqlUrl, '{ promql(query: "up") { resultType } }'));
    await assertAbandoned(prom.requests, 'the instant query');
    const health = await readSourceHealth(gw, 'prometheus/read/metrics');
    assert.equal(health?.healthy, true, 'a deadline is not the backend failing');
  });

  it("a request waiting for the version lookup it shares with others ends at its deadline, and the lookup is not cut for them", async () => {
    prom.clearRequests();
    assertDeadline(await gql(gw.graphqlUrl, '{ metrics(from: "now-1h") { name } }'));
    const lookup = prom.requests.find((r) => r.path === '/api/v1/status/buildinfo');
    assert.ok(lookup, 'Prometheus was asked its version');
    const now = Symbol('still held');
    assert.equal(await Promise.race([lookup.ended, Promise.resolve(now)]), now, 'the answer came while the lookup was held');
    assert.ok(!prom.requests.some((r) => r.path === '/api/v1/query'), 'no query after the abort');
  });
});
