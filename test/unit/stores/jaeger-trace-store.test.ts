// The Jaeger TraceStore against Jaeger's real api_v3 documents (shared/fixtures/jaeger), served with
// the status codes and headers PROVENANCE.md lists. Every test checks what teleql sent (paths, query
// parameters, headers) as well as what it made of the answer.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, beforeEach, describe, it } from 'node:test';
import { decodeTraces } from '../../../src/otlp/codec.ts';
import { silentLogger } from '../../../src/logger.ts';
import type { SpanRecord } from '../../../src/model/telemetry.ts';
import { createJaegerTraceStore, type JaegerTraceStoreOptions } from '../../../src/stores/jaeger/index.ts';
import { fromStoreError, type GatewayError } from '../../../src/errors.ts';
import { StoreError, type TraceStore, type TraceSummary } from '../../../src/stores/types.ts';
import { rejectsWith } from '../../contract/store-under-test.ts';
import { closedPort, startFixtureServer, type FixtureRoute, type FixtureServer } from '../../helpers/fixture-server.ts';
import { capturingLogger } from '../../helpers/capturing-logger.ts';

const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/jaeger/api-v3/', import.meta.url));
const fixture = (name: string) => `${FIXTURES}${name}`;

/** Success as the Go server writes it: application/json, plus the Traceresponse header. */
const OK_HEADERS = { 'content-type': 'application/json', traceresponse: '00-00000000000000000000000000000abc-0000000000000def-01' };
/** Errors as http.Error writes them: text/plain, nosniff, a JSON body ending in \n. */
const ERROR_HEADERS = { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', traceresponse: '' };

const ok = (path: string | RegExp, file: string, extra: Partial<FixtureRoute> = {}): FixtureRoute => ({
  method: 'GET', path, status: 200, headers: OK_HEADERS, bodyFile: fixture(file), ...extra,
});
const jaegerError = (path: string | RegExp, status: number, file: string): FixtureRoute => ({
  method: 'GET', path, status, headers: ERROR_HEADERS, bodyFile: fixture(file),
});
const errorBody = (status: number, message: string) => `${JSON.stringify({ error: { httpCode: status, message } })}\n`;

// The trace in get-trace.200.json (otel_traces_01.json) and the three traces of find-traces.200.json.
const TRACE = '00000000000000010000000000000000';
const MISSING = '0000000000000000000000000000dead';
const T11 = '00000000000000000000000000000011';
const T221 = '00000000000000000000000000000221';
const T222 = '00000000000000000000000000000222';
const FIND_START = 1_485_449_191_639_875_000n; // every span of find-traces starts here
/** The store's clock: a fixed "now" so the default window is known. */
const NOW = 1_485_450_000_000_000_000n;
const HOUR = 3_600_000_000_000n;

const TRACE_ROUTES: FixtureRoute[] = [
  ok(`/api/v3/traces/${TRACE}`, 'get-trace.200.json'),
  jaegerError(/^\/api\/v3\/traces\/[0-9a-f]{32}$/, 404, 'error.404.no-traces-found.json'),
];
const FIND_ROUTE = ok('/api/v3/traces', 'find-traces.200.json', { chunked: true });

/** A pino logger whose lines land in an array. */
/** What the codec makes of an api_v3 document's `result`, the reference for the store's mapping. */
function codecSpans(file: string, tenant: string): SpanRecord[] {
  const doc = JSON.parse(readFileSync(fixture(file), 'utf8')) as { result: unknown };
  return decodeTraces(Buffer.from(JSON.stringify(doc.result)), 'json', tenant).items;
}

type OtlpJson = Record<string, unknown> & { scopeSpans: { spans: Record<string, unknown>[] }[]; resource: { attributes: unknown[] } };

/**
 * A trace of one span, composed from find-traces.200.json's `query22-service` trace (its resource,
 * scope and span as Jaeger writes them) with another trace ID and the given span fields and
 * resource attributes added.
 */
function query22Trace(traceId: string, span: Record<string, unknown>, resourceAttributes: unknown[] = []): OtlpJson {
  const doc = JSON.parse(readFileSync(fixture('find-traces.200.json'), 'utf8')) as { result: { resourceSpans: OtlpJson[] } };
  const rs = structuredClone(doc.result.resourceSpans.find((r) => r.scopeSpans[0]!.spans[0]!.traceId === T221)!);
  rs.resource.attributes.push(...resourceAttributes);
  Object.assign(rs.scopeSpans[0]!.spans[0]!, { traceId }, span);
  return rs;
}

/**
 * FindTraces as Jaeger answers it: the traces its own (looser) matching found, newest first, at
 * most the search depth asked for (under any of its names), 404 "No traces found" for none.
 */
function findTracesAnswering(traces: readonly OtlpJson[]): FixtureRoute {
  return {
    method: 'GET',
    path: '/api/v3/traces',
    respond: (req) => {
      const depth = Number((req.query['query.searchDepth'] ?? req.query['query.search_depth'] ?? req.query['query.num_traces'] ?? ['100'])[0]);
      const found = traces.slice(0, depth);
      if (found.length === 0) return { status: 404, headers: ERROR_HEADERS, bodyFile: fixture('error.404.no-traces-found.json') };
      return { status: 200, headers: OK_HEADERS, body: JSON.stringify({ result: { resourceSpans: found } }) };
    },
  };
}

const tier = (value: string) => ({ key: 'user.tier', value: { stringValue: value } });

describe('Jaeger TraceStore over api_v3', () => {
  let server: FixtureServer;
  let store: TraceStore;
  const open = (extra: Partial<JaegerTraceStoreOptions> = {}) =>
    createJaegerTraceStore({ baseUrl: server.url, logger: silentLogger(), timeoutMs: 5_000, now: () => NOW, ...extra });

  before(async () => {
    server = await startFixtureServer();
    store = open();
  });
  after(() => server.close());
  beforeEach(() => {
    server.clearRequests();
    server.setRoutes([]);
  });

  describe('trace by ID', () => {
    it('asks GET /api/v3/traces/{id} once per distinct ID and answers in key order', async () => {
      server.setRoutes(TRACE_ROUTES);
      const [a, missing, upper, again] = await store.getTraces('default', [TRACE, MISSING, TRACE.toUpperCase(), TRACE]);
      assert.equal(a!.length, 1);
      assert.deepEqual(missing, [], 'a 404 "No traces found" is an empty list, not an error');
      assert.deepEqual(upper, a);
      assert.deepEqual(again, a);
      assert.deepEqual(server.requests.map((r) => `${r.method} ${r.url}`).sort(), [`GET /api/v3/traces/${MISSING}`, `GET /api/v3/traces/${TRACE}`]);
      for (const r of server.requests) {
        assert.equal(r.headers.accept, 'application/json');
        assert.equal(r.headers['x-tenant'], undefined, 'the default tenant sends no tenant header');
      }
      assert.deepEqual(await store.getTraces('default', []), []);
    });

    it('maps every field of the OTLP document exactly as the OTLP codec does', async () => {
      server.setRoutes(TRACE_ROUTES);
      const [spans] = await store.getTraces('acme', [TRACE]);
      assert.deepEqual(spans, codecSpans('get-trace.200.json', 'acme'));
    });

    it('keeps IDs, attributes of every type, events, links and status from the fixture', async () => {
      server.setRoutes(TRACE_ROUTES);
      const [[s]] = (await store.getTraces('acme', [TRACE])) as [[SpanRecord]];
      assert.equal(s.tenant, 'acme');
      assert.equal(s.traceId, TRACE);
      assert.equal(s.spanId, '0000000000000002');
      assert.equal(s.parentSpanId, '0000000000000003');
      assert.equal(s.flags, 1);
      assert.equal(s.name, 'test-general-conversion');
      assert.equal(s.kind, 0);
      assert.equal(s.startTimeUnixNano, 1_485_467_191_639_875_000n);
      assert.equal(s.endTimeUnixNano, 1_485_467_191_639_880_000n);
      assert.deepEqual(s.attributes, [
        { key: 'peer.service', value: { stringValue: 'service-y' } },
        { key: 'peer.ipv4', value: { intValue: '23456' } },
        { key: 'blob', value: { bytesValue: 'AAAwOQ==' } },
        { key: 'temperature', value: { doubleValue: 72.5 } },
      ]);
      assert.deepEqual(s.resource.attributes, [
        { key: 'service.name', value: { stringValue: 'service-x' } },
        { key: 'sdk.version', value: { stringValue: '1.2.1' } },
      ]);
      assert.deepEqual([s.scope.name, s.scope.version], ['testing-library', '1.1.1']);
      assert.deepEqual(s.events, [
        { timeUnixNano: 1_485_467_191_639_875_000n, name: 'testing-event', attributes: [{ key: 'event-x', value: { stringValue: 'event-y' } }], droppedAttributesCount: 0 },
        { timeUnixNano: 1_485_467_191_639_875_000n, name: '', attributes: [{ key: 'x', value: { stringValue: 'y' } }], droppedAttributesCount: 0 },
      ]);
      assert.deepEqual(
        s.links.map((l) => [l.traceId, l.spanId, l.attributes[0]?.value]),
        [
          [TRACE, '0000000000000004', { stringValue: 'follows_from' }],
          ['00000000000000ff0000000000000000', '00000000000000ff', { stringValue: 'child_of' }],
        ],
      );
      assert.deepEqual(s.status, { code: 2, message: '' });
    });

    it("reads the upstream GetTrace snapshot too (pretty-printed, keys sorted, empty resource)", async () => {
      const id = '00000000000000000000000000000001';
      server.setRoutes([ok(`/api/v3/traces/${id}`, 'upstream/GetTrace.json')]);
      const [[s]] = (await store.getTraces('default', [id])) as [[SpanRecord]];
      assert.deepEqual([s.name, s.kind, s.status.code, s.spanId, s.resource.attributes], ['foobar', 2, 2, '0000000000000002', []]);
    });

    it('an ID that is not 32 hex digits matches nothing and is not sent', async () => {
      server.setRoutes(TRACE_ROUTES);
      assert.deepEqual(await store.getTraces('default', ['1', '../services', '']), [[], [], []]);
      assert.equal(server.requests.length, 0);
    });

    it('getSpans fetches each distinct trace once and picks the spans, null for a missing one', async () => {
      server.setRoutes(TRACE_ROUTES);
      const found = await store.getSpans('default', [
        { traceId: TRACE, spanId: '0000000000000002' },
        { traceId: TRACE, spanId: '0000000000000099' },
        { traceId: MISSING, spanId: '0000000000000002' },
        { traceId: TRACE.toUpperCase(), spanId: '0000000000000002' },
      ]);
      assert.deepEqual(found.map((s) => s?.name ?? null), ['test-general-conversion', null, null, 'test-general-conversion']);
      assert.equal(server.requests.length, 2);
    });

    it('sends the tenant in x-tenant, or the configured header, and for default only when told to', async () => {
      server.setRoutes(TRACE_ROUTES);
      await store.getTraces('acme', [TRACE]);
      assert.equal(server.requests[0]!.headers['x-tenant'], 'acme');

      server.clearRequests();
      const custom = open({ tenantHeader: 'X-Scope-OrgID', alwaysSendTenant: true });
      await custom.getTraces('default', [TRACE]);
      assert.equal(server.requests[0]!.headers['x-scope-orgid'], 'default');
      assert.equal(server.requests[0]!.headers['x-tenant'], undefined);
    });

    it('sends configured headers, and credentials in the base URL as Basic auth under its path prefix', async () => {
      server.setRoutes([ok('/jaeger/api/v3/services', 'services.200.json')]);
      const withAuth = open({ baseUrl: `http://teleql:p%40ss@127.0.0.1:${server.port}/jaeger/`, headers: { 'X-Api-Key': 'k1' } });
      await withAuth.services('default');
      const [r] = server.requests;
      assert.equal(r!.path, '/jaeger/api/v3/services');
      assert.equal(r!.headers.authorization, `Basic ${Buffer.from('teleql:p@ss').toString('base64')}`);
      assert.equal(r!.headers['x-api-key'], 'k1');
    });

    it('spreads trace lookups over at most `concurrency` requests at once', async () => {
      let inFlight = 0;
      let peak = 0;
      server.setRoutes([
        {
          path: /^\/api\/v3\/traces\//,
          respond: () => {
            inFlight++;
            peak = Math.max(peak, inFlight);
            setTimeout(() => inFlight--, 40);
            return { status: 404, headers: ERROR_HEADERS, body: errorBody(404, 'No traces found'), delayMs: 40 };
          },
        },
      ]);
      const ids = Array.from({ length: 9 }, (_, i) => (i + 1).toString(16).padStart(32, '0'));
      assert.deepEqual(await open({ concurrency: 3 }).getTraces('default', ids), ids.map(() => []));
      assert.equal(server.requests.length, 9);
      assert.ok(peak <= 3, `peak ${peak}`);
    });
  });

  describe('search', () => {
    it('sends the FindTraces query Jaeger can evaluate: names, RFC3339Nano times, Go durations, JSON attributes', async () => {
      server.setRoutes([jaegerError('/api/v3/traces', 404, 'error.404.no-traces-found.json')]);
      const result = await store.searchTraces(
        'acme',
        {
          service: ['example-service-1'],
          name: ['example-operation-1'],
          timeRange: { from: 1_485_449_191_639_875_123n, to: 1_485_449_791_000_000_000n },
          minDuration: 1_500_000n,
          maxDuration: 90_000_000_000n,
          attributes: [{ key: 'http.method', op: 'eq', value: 'GET' }, { key: 'peer.ipv4', op: 'eq', value: '23456' }],
        },
        20,
      );
      assert.equal(result.notes, undefined, 'Jaeger found fewer traces than asked for, so nothing is missing: no note');
      assert.deepEqual(result, [], 'nothing found is a 404 from Jaeger and an empty list here');
      assert.equal(server.requests.length, 1);
      const [r] = server.requests;
      assert.equal(r!.path, '/api/v3/traces');
      assert.deepEqual(r!.query, {
        'query.serviceName': ['example-service-1'],
        'query.operationName': ['example-operation-1'],
        'query.startTimeMin': ['2017-01-26T16:46:31.639875123Z'],
        'query.startTimeMax': ['2017-01-26T16:56:31Z'],
        'query.durationMin': ['1.5ms'],
        'query.durationMax': ['1m30s'],
        'query.searchDepth': ['100'],
        'query.attributes': ['{"http.method":"GET","peer.ipv4":"23456"}'],
      });
      assert.equal(r!.headers['x-tenant'], 'acme');
    });

    it('searches the last hour when the filter has no time range, as the GraphQL layer does', async () => {
      server.setRoutes([FIND_ROUTE]);
      await store.searchTraces('default', {}, 10);
      const { query } = server.requests[0]!;
      assert.deepEqual(query['query.startTimeMin'], ['2017-01-26T16:00:00Z']);
      assert.deepEqual(query['query.startTimeMax'], ['2017-01-26T17:00:00Z']);
      assert.equal(NOW - HOUR, 1_485_446_400_000_000_000n);
    });

    it('groups the merged FindTraces answer into one summary per trace, as DuckDB summarises', async () => {
      server.setRoutes([FIND_ROUTE]);
      const summaries = await store.searchTraces('default', {}, 10);
      const expected: TraceSummary[] = [
        {
          traceId: T11,
          // Every span of this trace is parentless and starts at the same time: the root is the one with the lowest span ID, as in every store.
          rootServiceName: 'example-service-1',
          rootSpanName: 'example-operation-1',
          startTimeUnixNano: FIND_START,
          durationNano: 100_000n,
          spanCount: 5,
          errorCount: 0,
          services: ['example-service-1', 'example-service-2', 'example-service-3'],
        },
        { traceId: T221, rootServiceName: 'query22-service', rootSpanName: 'query22-operation', startTimeUnixNano: FIND_START, durationNano: 100_000n, spanCount: 1, errorCount: 0, services: ['query22-service'] },
        { traceId: T222, rootServiceName: 'query22-service', rootSpanName: 'query22-operation', startTimeUnixNano: FIND_START, durationNano: 100_000n, spanCount: 1, errorCount: 0, services: ['query22-service'] },
      ];
      assert.deepEqual(summaries, expected);
      assert.deepEqual((await store.searchTraces('default', {}, 2)).map((s) => s.traceId), [T11, T221], 'limit keeps the first in order');
      assert.deepEqual(server.requests.map((r) => r.query['query.searchDepth']), [['50'], ['10']], 'a trace search asks for limit × 5 traces (QA round 33 D3)');
    });

    it('summarises the upstream FindTraces snapshot: an error span without a service', async () => {
      server.setRoutes([ok('/api/v3/traces', 'upstream/FindTraces.json')]);
      assert.deepEqual(await store.searchTraces('default', {}, 5), [
        {
          traceId: '00000000000000000000000000000001',
          rootServiceName: 'unknown_service',
          rootSpanName: 'foobar',
          startTimeUnixNano: 0n,
          durationNano: 0n,
          spanCount: 1,
          errorCount: 1,
          services: ['unknown_service'],
        },
      ]);
    });

    it('accepts a 200 with an empty result as nothing found', async () => {
      server.setRoutes([{ path: '/api/v3/traces', headers: OK_HEADERS, body: '{"result":{}}' }]);
      assert.deepEqual(await store.searchTraces('default', {}, 5), []);
      assert.deepEqual(await store.searchSpans('default', {}, { first: 5 }), { items: [], hasNextPage: false, endCursor: null });
    });

    it('applies OR, kind and regex in the gateway, returns only matching traces and says so in a note', async () => {
      server.setRoutes([FIND_ROUTE]);
      const filter = { or: [{ kind: [3 as const] }, { attributes: [{ key: 'service.name', op: 'regex' as const, value: 'nothing-.*' }] }] };
      const found = await store.searchTraces('default', filter, 4);
      assert.deepEqual(found.map((s) => [s.traceId, s.spanCount]), [[T11, 5]], 'only trace 11 has a CLIENT span; its summary covers all its spans');
      assert.equal(found.notes?.length, 1);
      assert.match(found.notes![0]!, /jaeger cannot evaluate or; the gateway applied the filter to the 3 traces jaeger returned/);
      assert.deepEqual(server.requests[0]!.query['query.searchDepth'], ['20'], 'a post-filtered search asks for limit × 5 traces');
      assert.equal(server.requests[0]!.query['query.serviceName'], undefined);
    });

    it('post-filters spans by status and a regex on a resource attribute, tenant set on each', async () => {
      server.setRoutes([FIND_ROUTE]);
      const page = await store.searchSpans(
        'acme',
        { status: ['UNSET'], attributes: [{ key: 'service.name', op: 'regex', value: 'example-service-[23]' }] },
        { first: 10 },
      );
      assert.deepEqual(
        page.items.map((i) => [i.node.spanId, i.node.name, i.node.tenant]),
        [
          ['0000000000000005', 'example-operation-1', 'acme'],
          ['0000000000000004', 'example-operation-2', 'acme'],
        ],
        'same start time: newest first then falls back to span ID, descending',
      );
      assert.equal(page.hasNextPage, false);
      assert.match(page.notes![0]!, /jaeger cannot evaluate attributes \(regex\), status;/);
      assert.deepEqual(server.requests[0]!.query['query.searchDepth'], ['55']);
    });

    describe('attribute equality, which Jaeger matches more loosely than the gateway', () => {
      // Jaeger's storages match a tag on the span, its process (resource) or its logs (events); the
      // gateway, as DuckDB, the span's attribute, then the resource's only when the span lacks it.
      // Newest first: two traces Jaeger matches and the gateway does not, then the real match.
      const ON_EVENT = '00000000000000000000000000000a01';
      const ON_RESOURCE = '00000000000000000000000000000a02';
      const MATCH = '00000000000000000000000000000a03';
      const onEvent = query22Trace(ON_EVENT, { events: [{ timeUnixNano: String(FIND_START), name: 'audit', attributes: [tier('gold')] }] });
      const onResource = query22Trace(ON_RESOURCE, { attributes: [tier('silver')] }, [tier('gold')]);
      const match = query22Trace(MATCH, { attributes: [tier('gold')] });
      const filter = { service: ['query22-service'], attributes: [{ key: 'user.tier', op: 'eq' as const, value: 'gold' }] };

      it('asks for a post-filtered depth, so matches behind traces the gateway drops are found (QA D1)', async () => {
        server.setRoutes([findTracesAnswering([onEvent, onResource, match])]);
        const found = await store.searchTraces('default', filter, 1);
        assert.deepEqual(found.map((t) => t.traceId), [MATCH], 'DuckDB answers this trace for the same data');
        assert.equal(found.notes, undefined, 'Jaeger returned fewer traces than asked for: nothing can be missing');
        const [r] = server.requests;
        assert.deepEqual(r!.query['query.attributes'], ['{"user.tier":"gold"}'], 'still pushed down: a smaller superset than the service alone');
        assert.deepEqual(r!.query['query.searchDepth'], ['5'], 'limit × 5, as for any post-filtered search');

        const page = await store.searchSpans('default', filter, { first: 1 });
        assert.deepEqual(page.items.map((i) => [i.node.traceId, i.node.spanId]), [[MATCH, '0000000000000003']]);
        assert.equal(page.hasNextPage, false);
        assert.deepEqual(server.requests[1]!.query['query.searchDepth'], ['10']);
      });

      it('says older matches may be missing only when the answer is full and short', async () => {
        server.setRoutes([findTracesAnswering([onEvent, onResource, match])]);
        const short = await open({ maxSearchDepth: 2 }).searchTraces('default', filter, 1);
        assert.deepEqual([...short], []);
        assert.deepEqual(short.notes, [
          'jaeger matches attribute conditions more loosely than the gateway (also on span events, and on resource attributes the span overrides); ' +
            'the gateway applied them to the 2 traces jaeger returned, which is the search depth asked for (2), so older matches may be missing',
        ]);
        server.setRoutes([findTracesAnswering([match, onEvent, onResource])]);
        const enough = await open({ maxSearchDepth: 2 }).searchTraces('default', filter, 1);
        assert.deepEqual(enough.map((t) => t.traceId), [MATCH]);
        // Not short; but every trace here starts at the same time, so one Jaeger left out could be
        // first by trace ID: only that is noted.
        assert.deepEqual(enough.notes, [
          "jaeger picks a search's traces by their latest span start, not by their start, and returned the 2 traces asked for (the search depth), " +
            'so traces that started at or before 2017-01-26T16:46:31.639875Z may be missing from this answer',
        ]);
      });
    });

    it('says when a post-filtered search may have missed matches beyond the search depth', async () => {
      server.setRoutes([FIND_ROUTE]);
      const found = await store.searchTraces('default', { status: ['ERROR'] }, 1);
      assert.deepEqual([...found], []);
      assert.deepEqual(found.notes, ['jaeger cannot evaluate status; the gateway applied the filter to the 3 traces jaeger returned'], 'fewer than asked for: nothing missed');
      const capped = await open({ maxSearchDepth: 3 }).searchTraces('default', { status: ['ERROR'] }, 1);
      assert.equal(server.requests.at(-1)!.query['query.searchDepth']![0], '3', 'the multiplied depth is capped');
      assert.match(capped.notes![0]!, /the 3 traces jaeger returned, which is the search depth asked for \(3\), so older matches may be missing/);
    });

    it('pages through spans newest first with a keyset cursor, narrowing the window to the cursor', async () => {
      server.setRoutes([FIND_ROUTE]);
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.searchSpans('default', {}, { first: 3, after });
        seen.push(...page.items.map((i) => `${i.node.traceId.slice(-3)}/${i.node.spanId.slice(-1)}`));
        assert.equal(page.notes, undefined);
        if (!page.hasNextPage) break;
        after = page.endCursor!;
      }
      assert.deepEqual(seen, ['222/3', '221/3', '011/7', '011/6', '011/5', '011/4', '011/3']);
      assert.deepEqual(server.requests.map((r) => r.query['query.searchDepth']![0]), ['4', '4', '4']);
      assert.deepEqual(server.requests[0]!.query['query.startTimeMax'], ['2017-01-26T17:00:00Z']);
      assert.deepEqual(server.requests[1]!.query['query.startTimeMax'], ['2017-01-26T16:46:31.639875Z'], 'the next page ends at the cursor');

      const oldest: string[] = [];
      after = undefined;
      do {
        const page = await store.searchSpans('default', {}, { first: 4, after, order: 'OLDEST_FIRST' });
        oldest.push(...page.items.map((i) => `${i.node.traceId.slice(-3)}/${i.node.spanId.slice(-1)}`));
        after = page.hasNextPage ? page.endCursor! : undefined;
      } while (after);
      assert.deepEqual(oldest, [...seen].reverse());
      assert.deepEqual(server.requests.at(-1)!.query['query.startTimeMin'], ['2017-01-26T16:46:31.639875Z'], 'an oldest-first page starts at the cursor');
    });

    it('a cursor from a page of one order is a BAD_ARGUMENT with the other order, without a request', async () => {
      server.setRoutes([FIND_ROUTE]);
      const newest = await store.searchSpans('default', {}, { first: 3 });
      const oldest = await store.searchSpans('default', {}, { first: 3, order: 'OLDEST_FIRST' });
      const requests = server.requests.length;
      await rejectsWith(store.searchSpans('default', {}, { first: 3, after: newest.endCursor!, order: 'OLDEST_FIRST' }), 'BAD_ARGUMENT', 'issued for order NEWEST_FIRST, not OLDEST_FIRST');
      await rejectsWith(store.searchSpans('default', {}, { first: 3, after: oldest.endCursor! }), 'BAD_ARGUMENT', 'issued for order OLDEST_FIRST, not NEWEST_FIRST');
      assert.equal(server.requests.length, requests);
    });

    it('a cursor it did not issue or a bad page size is a BAD_ARGUMENT, a bad limit a BAD_QUERY, without a request', async () => {
      server.setRoutes([FIND_ROUTE]);
      await rejectsWith(store.searchSpans('default', {}, { first: 5, after: 'not-a-cursor' }), 'BAD_ARGUMENT', 'cursor');
      await rejectsWith(store.searchSpans('default', {}, { first: -1 }), 'BAD_ARGUMENT', 'first');
      await rejectsWith(store.searchTraces('default', {}, 10_001), 'BAD_QUERY', 'limit');
      assert.equal(server.requests.length, 0);
    });

    it('a filter that does not apply to spans or an invalid regex is a BAD_QUERY before any request', async () => {
      server.setRoutes([FIND_ROUTE]);
      await rejectsWith(store.searchSpans('default', { minSeverity: 9 }, { first: 5 }), 'BAD_QUERY', 'minSeverity');
      await rejectsWith(store.searchTraces('default', { or: [{ attributes: [{ key: 'k', op: 'regex', value: '(unclosed' }] }] }, 5), 'BAD_QUERY', '(unclosed');
      await assert.rejects(store.searchTraces('default', { minSeverity: 9 }, 5), (e: unknown) => e instanceof StoreError && e.backend === 'jaeger');
      assert.equal(server.requests.length, 0);
    });

    it('a top-level traceId list is looked up by ID, with no time window, and still filtered', async () => {
      server.setRoutes(TRACE_ROUTES);
      const found = await store.searchTraces('default', { traceId: [TRACE, MISSING], status: ['ERROR'] }, 10);
      assert.deepEqual(found.map((s) => [s.traceId, s.rootServiceName, s.errorCount]), [[TRACE, 'service-x', 1]], 'its only span, whose parent never arrived, is its root');
      assert.equal(found.notes, undefined, 'every asked-for trace was looked at');
      assert.deepEqual(server.requests.map((r) => r.path).sort(), [`/api/v3/traces/${MISSING}`, `/api/v3/traces/${TRACE}`]);
      assert.deepEqual(await store.searchTraces('default', { traceId: [TRACE], status: ['OK'] }, 10), []);
    });

    describe('traces(limit) in trace start order, though Jaeger picks by latest span start (QA round 33 D3)', () => {
      const MIN = 60_000_000_000n;
      /** A trace of `query22-service` whose spans start at the given times (the first is the root, 1 ms long unless a later span outlasts it). */
      function traceStarting(traceId: string, ...starts: bigint[]): OtlpJson {
        const rs = query22Trace(traceId, {});
        const [template] = rs.scopeSpans[0]!.spans;
        const end = starts.reduce((a, b) => (a > b ? a : b)) + 1_000_000n;
        rs.scopeSpans[0]!.spans = starts.map((start, i) => ({
          ...template,
          spanId: `000000000000000${i + 1}`,
          ...(i > 0 && { parentSpanId: '0000000000000001' }),
          startTimeUnixNano: String(start),
          endTimeUnixNano: String(i === 0 ? end : start + 1_000_000n),
          events: [],
        }));
        return rs;
      }
      /** FindTraces as Jaeger's Elasticsearch/OpenSearch reader answers: traces by their latest span start, newest first, at most the depth. */
      function findTracesByLatestSpan(traces: readonly OtlpJson[]): FixtureRoute {
        const latest = (t: OtlpJson) => t.scopeSpans[0]!.spans.reduce((m, s) => (BigInt(s.startTimeUnixNano as string) > m ? BigInt(s.startTimeUnixNano as string) : m), 0n);
        return findTracesAnswering([...traces].sort((a, b) => (latest(b) > latest(a) ? 1 : latest(b) < latest(a) ? -1 : 0)));
      }
      // LONG started 30 min ago and has a span from 5 min ago; SHORT started 20 min ago: SHORT is the newest trace.
      const LONG = '00000000000000000000000000000b01';
      const SHORT = '00000000000000000000000000000b02';
      const OLD = '00000000000000000000000000000b03';
      const long = traceStarting(LONG, NOW - 30n * MIN, NOW - 5n * MIN);
      const short = traceStarting(SHORT, NOW - 20n * MIN);
      const old = traceStarting(OLD, NOW - 40n * MIN);

      it('gives the first traces by start, as DuckDB for the same data, and a smaller limit is the start of a larger one', async () => {
        server.setRoutes([findTracesByLatestSpan([long, short, old])]);
        const one = await store.searchTraces('default', { service: ['query22-service'] }, 1);
        assert.deepEqual(one.map((t) => t.traceId), [SHORT]);
        assert.equal(one.notes, undefined, 'Jaeger returned fewer traces than asked for: nothing was left out');
        assert.deepEqual(server.requests[0]!.query['query.searchDepth'], ['5'], 'limit × 5');
        assert.deepEqual((await store.searchTraces('default', { service: ['query22-service'] }, 2)).map((t) => t.traceId), [SHORT, LONG]);
        assert.equal(server.requests.length, 2, 'one FindTraces per search');
      });

      it('ties by trace ID, whichever of them Jaeger returned first', async () => {
        // Every trace of find-traces.200.json starts at the same microsecond; Jaeger lists 222 and 221 first.
        server.setRoutes([findTracesAnswering([query22Trace(T222, {}), query22Trace(T221, {}), query22Trace(T11, {})])]);
        assert.deepEqual((await store.searchTraces('default', {}, 2)).map((t) => t.traceId), [T11, T221]);
      });

      it('says from when on traces may be missing when a full answer reaches down to what Jaeger may have left out', async () => {
        server.setRoutes([findTracesByLatestSpan([long, short, old])]);
        const capped = await open({ maxSearchDepth: 1 }).searchTraces('default', { service: ['query22-service'] }, 1);
        assert.deepEqual(capped.map((t) => t.traceId), [LONG], 'Jaeger returned LONG alone');
        assert.deepEqual(capped.notes, [
          "jaeger picks a search's traces by their latest span start, not by their start, and returned the 1 traces asked for (the search depth), " +
            'so traces that started at or before 2017-01-26T16:55:00Z may be missing from this answer',
        ]);
        // All three back, a full answer: SHORT started after OLD's latest span, the latest any trace
        // Jaeger left out can have, so it is surely first.
        const sure = await open({ maxSearchDepth: 3 }).searchTraces('default', { service: ['query22-service'] }, 1);
        assert.deepEqual(sure.map((t) => t.traceId), [SHORT]);
        assert.equal(sure.notes, undefined);
      });
    });

    it('an inverted time or duration range finds nothing without asking Jaeger', async () => {
      server.setRoutes([FIND_ROUTE]);
      assert.deepEqual(await store.searchTraces('default', { timeRange: { from: 10n, to: 5n } }, 5), []);
      assert.deepEqual(await store.searchTraces('default', { minDuration: 10n, maxDuration: 5n }, 5), []);
      assert.equal(server.requests.length, 0);
    });
  });

  describe('span lookup by ID (correlate(spanId), spans(filter: {spanId}))', () => {
    const SPAN6 = '0000000000000006'; // only in trace 11 of find-traces.200.json
    const DAY = 24n * HOUR;
    /** RFC3339Nano as Jaeger reads it → Unix ns. */
    const ns = (rfc: string): bigint => {
      const [, whole, frac = ''] = /^(.*?)(?:\.(\d+))?Z$/.exec(rfc)!;
      return BigInt(Date.parse(`${whole}Z`)) * 1_000_000n + BigInt(frac.padEnd(9, '0'));
    };
    const windowOf = (r: { query: Record<string, string[]> }) => ({ from: ns(r.query['query.startTimeMin']![0]!), to: ns(r.query['query.startTimeMax']![0]!) });
    /** FindTraces as Jaeger answers it: the fixture's traces when the window holds their start, else 404 "No traces found". */
    const FIND_BY_WINDOW: FixtureRoute = {
      method: 'GET',
      path: '/api/v3/traces',
      respond: (req) => {
        const w = windowOf(req);
        return w.from <= FIND_START && FIND_START <= w.to
          ? { status: 200, headers: OK_HEADERS, bodyFile: fixture('find-traces.200.json') }
          : { status: 404, headers: ERROR_HEADERS, bodyFile: fixture('error.404.no-traces-found.json') };
      },
    };
    const at = (now: bigint, extra: Partial<JaegerTraceStoreOptions> = {}) => open({ now: () => now, ...extra });

    it('finds a span older than the last hour: windows walk back from now, growing, until it is found', async () => {
      server.setRoutes([FIND_BY_WINDOW]);
      const now = FIND_START + 3n * HOUR;
      const page = await at(now).searchSpans('default', { spanId: [SPAN6] }, { first: 1 });
      assert.deepEqual(page.items.map((i) => [i.node.traceId, i.node.spanId, i.node.name]), [[T11, SPAN6, 'example-operation-3']]);
      assert.equal(page.notes, undefined);
      assert.deepEqual(
        server.requests.map(windowOf),
        [
          { from: now - HOUR + 1n, to: now },
          { from: now - 5n * HOUR + 1n, to: now - HOUR },
        ],
        'the last hour, then the 4 hours before it',
      );
      assert.deepEqual(server.requests.map((r) => r.query['query.searchDepth']), [['1000'], ['1000']]);

      server.clearRequests();
      const traces = await at(now).searchTraces('default', { spanId: [SPAN6.toUpperCase()] }, 5);
      assert.deepEqual(traces.map((t) => t.traceId), [T11]);
      assert.equal(server.requests.length, 2);
    });

    it("searches within the filter's from/to, starting at its end", async () => {
      server.setRoutes([FIND_BY_WINDOW]);
      const timeRange = { from: FIND_START - HOUR, to: FIND_START + 10n * DAY };
      const page = await at(FIND_START + 400n * DAY).searchSpans('default', { spanId: [SPAN6], timeRange }, { first: 5 });
      assert.deepEqual(page.items.map((i) => i.node.spanId), [SPAN6]);
      const windows = server.requests.map(windowOf);
      assert.equal(windows[0]!.to, timeRange.to);
      for (const w of windows) assert.ok(w.from >= timeRange.from && w.to <= timeRange.to, 'never outside the range');
      assert.equal(windows.length, 5, '1 h, 4 h, 16 h, 64 h, then the rest of the range');
    });

    it('says what it searched when the span is not in the last 7 days', async () => {
      server.setRoutes([FIND_BY_WINDOW]);
      const now = FIND_START + 8n * DAY;
      const page = await at(now).searchSpans('default', { spanId: [SPAN6] }, { first: 1 });
      assert.deepEqual(page.items, []);
      assert.equal(server.requests.length, 5);
      assert.equal(server.requests.at(-1)!.query['query.startTimeMin']![0], '2017-01-27T16:46:31.639875Z', 'the last window starts 7 days back');
      assert.deepEqual(page.notes, [
        'jaeger cannot look up a span by its ID, so the gateway searched the traces that started from 2017-01-27T16:46:31.639875Z to 2017-02-03T16:46:31.639875Z ' +
          `(5 FindTraces requests of up to 1000 traces each) and found no matching span ${SPAN6} there; without a from time a span lookup covers the last 7 days`,
      ]);
    });

    it('stops after spanLookupRequests requests and says how far back it got', async () => {
      server.setRoutes([FIND_BY_WINDOW]);
      const now = FIND_START + 3n * DAY;
      const page = await at(now, { spanLookupRequests: 2 }).searchSpans('default', { spanId: [SPAN6] }, { first: 1 });
      assert.deepEqual(page.items, []);
      assert.equal(server.requests.length, 2);
      assert.match(page.notes![0]!, /searched the traces that started from 2017-01-29T11:46:31\.639875001Z to 2017-01-29T16:46:31\.639875Z \(2 FindTraces requests/);
      assert.match(page.notes![0]!, /it stops after 2 requests, so the older part of the range was not searched/);
    });

    it('pages a window whose answer is full below its oldest trace instead of skipping the rest', async () => {
      server.setRoutes([FIND_BY_WINDOW]);
      const now = FIND_START + HOUR / 2n;
      const page = await at(now, { maxSearchDepth: 3, spanLookupRequests: 4 }).searchSpans('default', { spanId: ['00000000000000ff'] }, { first: 1 });
      assert.deepEqual(page.items, []);
      assert.deepEqual(
        server.requests.map((r) => [windowOf(r).from, windowOf(r).to, r.query['query.searchDepth']![0]]),
        [
          [now - HOUR + 1n, now, '3'], // 3 traces: as many as asked for
          [now - HOUR + 1n, FIND_START, '3'], // the same window, ending at the oldest returned: nothing new
          [now - HOUR + 1n, FIND_START - 1n, '3'], // below it: empty, so the window is done
          [now - 5n * HOUR + 1n, now - HOUR, '3'],
        ],
      );
      assert.match(page.notes![0]!, /found no matching span 00000000000000ff there; it stops after 4 requests/);
    });

    it('a span ID that is found but fails the rest of the filter is not found', async () => {
      server.setRoutes([FIND_BY_WINDOW]);
      const page = await at(FIND_START + HOUR / 2n, { spanLookupRequests: 3 }).searchSpans('default', { spanId: [SPAN6], status: ['ERROR'] }, { first: 1 });
      assert.deepEqual(page.items, []);
      assert.equal(server.requests.length, 3, 'it went on looking');
      assert.match(page.notes![0]!, /found no matching span 0000000000000006/);
    });
  });

  describe('a Jaeger older than v2.19 (api_v3 reads only the snake_case parameter names)', () => {
    // What v2.18 and older (and 1.x) answer to a search without the snake_case start times: the
    // message names the parameters they read (PROVENANCE.md: error.400.time-range-required.json's
    // ≤v2.18 spelling). They ignore every name they do not know, query.attributes included.
    const SNAKE_ONLY = errorBody(400, 'query.start_time_min and query.start_time_max are required');
    const OLD_JAEGER: FixtureRoute = {
      method: 'GET',
      path: '/api/v3/traces',
      respond: (req) =>
        req.query['query.start_time_min'] && req.query['query.start_time_max']
          ? { status: 200, headers: OK_HEADERS, bodyFile: fixture('find-traces.200.json') }
          : { status: 400, headers: ERROR_HEADERS, body: SNAKE_ONLY },
    };

    it('retries the first refused search once with the snake_case names and keeps using them (QA D2)', async () => {
      server.setRoutes([OLD_JAEGER]);
      const old = open();
      const filter = { service: ['example-service-1'], timeRange: { from: FIND_START - HOUR, to: FIND_START + HOUR } };
      const found = await old.searchTraces('acme', filter, 5);
      assert.deepEqual(found.map((t) => t.traceId), [T11], 'the gateway applies the whole filter to what Jaeger returned');
      assert.equal(found.notes, undefined);
      assert.deepEqual(
        server.requests.map((r) => Object.keys(r.query)),
        [
          ['query.serviceName', 'query.startTimeMin', 'query.startTimeMax', 'query.searchDepth'],
          ['query.service_name', 'query.start_time_min', 'query.start_time_max', 'query.search_depth', 'query.num_traces'],
        ],
      );
      assert.deepEqual(server.requests[1]!.query, {
        'query.service_name': ['example-service-1'],
        'query.start_time_min': ['2017-01-26T15:46:31.639875Z'],
        'query.start_time_max': ['2017-01-26T17:46:31.639875Z'],
        'query.search_depth': ['25'],
        'query.num_traces': ['25'],
      });
      assert.equal(server.requests[1]!.headers['x-tenant'], 'acme');

      server.clearRequests();
      await old.searchSpans('default', filter, { first: 2 });
      assert.equal(server.requests.length, 1, 'remembered: no camelCase request first any more');
      assert.deepEqual(server.requests[0]!.query['query.service_name'], ['example-service-1']);
    });

    it('does not send attribute conditions it cannot read: the gateway applies them, asks deeper and says so', async () => {
      server.setRoutes([OLD_JAEGER]);
      const old = open();
      const filter = { service: ['example-service-1'], attributes: [{ key: 'service.name', op: 'eq' as const, value: 'example-service-1' }] };
      const found = await old.searchTraces('default', filter, 5);
      assert.deepEqual(found.map((t) => t.traceId), [T11]);
      const last = server.requests.at(-1)!;
      assert.equal(last.query['query.attributes'], undefined);
      assert.deepEqual(last.query['query.search_depth'], ['25']);
      assert.deepEqual(found.notes, ['jaeger cannot evaluate attributes (jaeger before v2.19 does not read them); the gateway applied the filter to the 3 traces jaeger returned']);
    });

    it('span lookups use the snake_case names too', async () => {
      server.setRoutes([OLD_JAEGER]);
      const page = await open().searchSpans('default', { spanId: ['0000000000000007'], timeRange: { from: FIND_START - HOUR, to: FIND_START + HOUR } }, { first: 5 });
      assert.deepEqual(page.items.map((i) => i.node.name), ['example-operation-4']);
      assert.ok(server.requests.at(-1)!.query['query.start_time_min']);
    });
  });

  describe('services and operations', () => {
    it('lists services, and none when Jaeger writes the empty list as {}', async () => {
      server.setRoutes([ok('/api/v3/services', 'services.200.json')]);
      assert.deepEqual(await store.services('default'), ['example-service-1', 'example-service-2', 'example-service-3', 'query22-service']);
      server.setRoutes([ok('/api/v3/services', 'services-empty.200.json')]);
      assert.deepEqual(await store.services('default'), []);
      server.setRoutes([ok('/api/v3/services', 'upstream/GetServices.json')]);
      assert.deepEqual(await store.services('acme'), ['foo']);
      assert.deepEqual(server.requests.map((r) => r.url), ['/api/v3/services', '/api/v3/services', '/api/v3/services']);
      assert.equal(server.requests[2]!.headers['x-tenant'], 'acme');
    });

    it("maps operation kinds from Jaeger's names to SpanKind numbers", async () => {
      server.setRoutes([ok('/api/v3/operations', 'operations.200.json')]);
      assert.deepEqual(await store.operations('default', 'example-service-1'), [
        { name: 'example-operation-1', kind: 1 },
        { name: 'example-operation-3', kind: 2 },
        { name: 'example-operation-4', kind: 3 },
      ]);
      assert.deepEqual(server.requests[0]!.query, { service: ['example-service-1'] });
      server.setRoutes([ok('/api/v3/operations', 'upstream/GetOperations.json')]);
      assert.deepEqual(await store.operations('default', 'a service & more'), [{ name: 'get_users', kind: 2 }]);
      assert.equal(server.requests[1]!.url, '/api/v3/operations?service=a+service+%26+more');
    });
  });

  describe('errors', () => {
    // What Jaeger's query service answers when its storage is down: api_v3's error document with
    // the storage client's error as the message (composed: GRPCGatewayError as in
    // error.404.no-traces-found.json, the message as a Go gRPC client writes a refused dial).
    const STORAGE_DOWN = 'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.0.3.7:16685: connect: connection refused"';

    it("a 400 (a parameter Jaeger cannot parse) is INTERNAL, not the user's bad filter, and its message stays in the log", async () => {
      const { logger, lines } = capturingLogger();
      server.setRoutes([jaegerError('/api/v3/traces', 400, 'error.400.time-range-required.json')]);
      await assert.rejects(open({ logger }).searchSpans('default', {}, { first: 5 }), (e: unknown) => {
        assert.ok(e instanceof StoreError);
        assert.equal(e.code, 'INTERNAL', 'every parameter is one the gateway built: a 400 is a gateway/Jaeger mismatch');
        assert.equal(e.backend, 'jaeger');
        assert.equal(e.message, "jaeger refused the gateway's FindTraces request as malformed (HTTP 400)");
        assert.equal(e.status, 400);
        // What a GraphQL client sees: the backend and the status, nothing Jaeger wrote.
        const shown = fromStoreError(e) as GatewayError;
        assert.equal(shown.message, 'jaeger failed the query (HTTP 400)');
        assert.deepEqual(shown.extensions, { code: 'GW_BACKEND_ERROR', backend: 'jaeger' });
        return true;
      });
      assert.equal(server.requests.length, 1, "a v2.19+ Jaeger's refusal (camelCase names in the message) is not retried with the snake_case names");
      const logged = lines.find((l) => l.msg === 'jaeger request failed');
      assert.deepEqual(
        [logged?.call, logged?.path, logged?.status, logged?.code, logged?.detail],
        ['FindTraces', '/api/v3/traces', 400, 'INTERNAL', 'query.startTimeMin and query.startTimeMax are required'],
      );
    });

    it('a 5xx, 408, 429 or 401 is UNAVAILABLE naming the call and the status, never what Jaeger wrote', async () => {
      for (const status of [500, 503, 408, 429, 401, 403]) {
        const { logger, lines } = capturingLogger();
        server.setRoutes([{ path: '/api/v3/services', status, headers: ERROR_HEADERS, body: errorBody(status, STORAGE_DOWN) }]);
        await assert.rejects(open({ logger }).services('default'), (e: unknown) => {
          assert.ok(e instanceof StoreError);
          assert.equal(e.code, 'UNAVAILABLE', String(status));
          assert.match(e.message, new RegExp(`^jaeger (answered|refused the gateway's) .*GetServices.*HTTP ${status}|^jaeger answered HTTP ${status} to GetServices`));
          assert.doesNotMatch(e.message, /10\.0\.3\.7|dial tcp|rpc error|16685/, 'no internal address or upstream message');
          return true;
        });
        const logged = lines.find((l) => l.msg === 'jaeger request failed');
        assert.equal(logged?.detail, STORAGE_DOWN, 'the whole upstream message is in the log');
        assert.equal(logged?.status, status);
      }
    });

    it('names the failing call: GetTrace, FindTraces, GetOperations, GetDependencies', async () => {
      server.setRoutes([{ path: /^\/api\//, status: 503, headers: ERROR_HEADERS, body: errorBody(503, STORAGE_DOWN) }]);
      const jaeger = open();
      await rejectsWith(jaeger.getTraces('default', [TRACE]), 'UNAVAILABLE', 'jaeger answered HTTP 503 to GetTrace');
      await rejectsWith(jaeger.searchTraces('default', {}, 5), 'UNAVAILABLE', 'jaeger answered HTTP 503 to FindTraces');
      await rejectsWith(jaeger.operations('default', 'svc'), 'UNAVAILABLE', 'jaeger answered HTTP 503 to GetOperations');
      await rejectsWith(jaeger.dependencies('default', { from: NOW - HOUR, to: NOW }), 'UNAVAILABLE', 'jaeger answered HTTP 503 to GetDependencies');
    });

    it('a 404 for an unknown path (not a Jaeger with api_v3) is UNAVAILABLE, never "nothing found"', async () => {
      // No routes: the server answers as Go's mux does, 404 "404 page not found\n" in plain text.
      await rejectsWith(store.services('default'), 'UNAVAILABLE', 'jaeger answered HTTP 404 to GetServices: /api/v3/services was not found');
      await rejectsWith(store.getTraces('default', [TRACE]), 'UNAVAILABLE', '/api/v3/traces/{traceId} was not found');
      await rejectsWith(store.searchTraces('default', {}, 5), 'UNAVAILABLE', 'was not found');
    });

    it('a body that is not JSON, or a result that is not OTLP, is INTERNAL', async () => {
      server.setRoutes([{ path: '/api/v3/services', headers: OK_HEADERS, body: '<html>proxy login</html>' }]);
      await rejectsWith(store.services('default'), 'INTERNAL', 'not JSON');
      // A 200 whose body is wrong has no status worth showing: the client sees only the backend.
      const shown = await store.services('default').then(() => undefined, (e: unknown) => fromStoreError(e) as GatewayError);
      assert.equal(shown?.message, 'jaeger failed the query');
      server.setRoutes([{ path: '/api/v3/traces', headers: OK_HEADERS, body: '{"result":{"resourceSpans":"nope"}}' }]);
      await rejectsWith(store.searchTraces('default', {}, 5), 'INTERNAL', 'not OTLP/JSON');
      server.setRoutes([{ path: '/api/v3/services', headers: OK_HEADERS, body: '{"services":[1,2]}' }]);
      await rejectsWith(store.services('default'), 'INTERNAL');
    });

    it('an answer larger than maxResponseBytes is INTERNAL, whether its length is declared or streamed', async () => {
      const small = open({ maxResponseBytes: 100 });
      server.setRoutes([FIND_ROUTE]);
      await rejectsWith(small.searchTraces('default', {}, 5), 'INTERNAL', 'larger than 100 bytes');
      server.setRoutes([ok('/api/v3/traces', 'find-traces.200.json')]);
      await rejectsWith(small.searchTraces('default', {}, 5), 'INTERNAL', 'larger than 100 bytes');
    });

    it('a closed port is UNAVAILABLE, with no address or raw fetch error in the message; the log has both', async () => {
      const port = await closedPort();
      const { logger, lines } = capturingLogger();
      const down = open({ baseUrl: `http://127.0.0.1:${port}`, logger });
      await assert.rejects(down.searchTraces('default', {}, 5), (e: unknown) => {
        assert.ok(e instanceof StoreError, String(e));
        assert.equal(e.code, 'UNAVAILABLE');
        assert.equal(e.message, 'cannot reach jaeger (ECONNREFUSED) for FindTraces');
        return true;
      });
      await rejectsWith(down.getTraces('default', [TRACE]), 'UNAVAILABLE', 'for GetTrace');
      await rejectsWith(down.services('default'), 'UNAVAILABLE', 'for GetServices');
      const logged = lines.find((l) => l.msg === 'jaeger request failed');
      assert.match(String(logged?.detail), new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${port}`), 'where it tried to connect is logged');
    });

    // Timeouts are proven by what the upstream server saw, not by a clock: the request arrived, and
    // the gateway closed its socket before any answer (or halfway through one), failing with the
    // timeout error. A gateway that never gave up would hang the test until its `timeout` fails it.
    it('a server that never answers is UNAVAILABLE: the gateway times out and closes the socket', { timeout: 20_000 }, async () => {
      const stalling = await startFixtureServer([{ path: /.*/, hang: true }]);
      try {
        const impatient = open({ baseUrl: stalling.url, timeoutMs: 200 });
        await assert.rejects(impatient.operations('default', 'svc'), (e: unknown) => {
          assert.ok(e instanceof StoreError, String(e));
          assert.equal(e.code, 'UNAVAILABLE');
          assert.equal(e.message, 'jaeger did not answer within 200 ms (GetOperations)');
          assert.equal((e.cause as Error | undefined)?.name, 'TimeoutError', 'the cause is the request timeout, not a reset or a refusal');
          return true;
        });
        assert.deepEqual(stalling.requests.map((r) => r.path), ['/api/v3/operations']);
        assert.equal(stalling.requests[0]!.sentBytes, 0, 'nothing was answered');
        assert.equal(await stalling.requests[0]!.ended, 'abandoned', 'the gateway closed the connection');
      } finally {
        await stalling.close();
      }
    });

    it('a body that stops halfway is UNAVAILABLE: the gateway times out reading it and closes the socket', { timeout: 20_000 }, async () => {
      const stalling = await startFixtureServer([{ path: /.*/, headers: OK_HEADERS, bodyFile: fixture('services.200.json'), stallAfterBytes: 10 }]);
      try {
        await assert.rejects(open({ baseUrl: stalling.url, timeoutMs: 200 }).services('default'), (e: unknown) => {
          assert.ok(e instanceof StoreError, String(e));
          assert.equal(e.code, 'UNAVAILABLE');
          assert.equal(e.message, 'jaeger did not answer within 200 ms (GetServices)');
          assert.equal((e.cause as Error | undefined)?.name, 'TimeoutError');
          return true;
        });
        assert.deepEqual(stalling.requests.map((r) => r.path), ['/api/v3/services']);
        assert.equal(stalling.requests[0]!.sentBytes, 10, 'the headers and 10 body bytes went out before the stall');
        assert.equal(await stalling.requests[0]!.ended, 'abandoned', 'the gateway closed the connection mid-body');
      } finally {
        await stalling.close();
      }
    });
  });
});
