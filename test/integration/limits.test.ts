// Abuse limits on a real gateway: GraphQL depth, aliases, tokens, cost, text size, rate limit,
// persisted queries over GET, the request deadline; per-tenant ingest rate limits on both transports;
// caches of client content bounded by its size (heap measured after a forced GC, with wide margins).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { deflateSync, gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { startGateway, testConfig, type TestGateway } from '../helpers/gateway.ts';
import { buildApp } from '../../src/app.ts';
import { ConfigError } from '../../src/config/merge.ts';
import { silentLogger } from '../../src/logger.ts';
import { gql } from '../helpers/graphql-client.ts';
import { grpcExport } from '../helpers/otlp-grpc.ts';
import { logsJson, randomTraceId, spansJson, toProtobuf } from '../helpers/otlp-bodies.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { zstdCli } from '../helpers/zstd-cli.ts';
import snappy from 'snappyjs';
import { withQueryMeter } from '../../src/limits/query-time.ts';
import { type GqlError, postOtlp, subscriptions, tail, wsClient } from '../helpers/tail-client.ts';

const codeOf = (r: { errors?: { extensions?: Record<string, unknown> }[] }) => r.errors?.[0]?.extensions?.code;
const messageOf = (r: { errors?: { message: string }[] }) => r.errors?.[0]?.message ?? '';

describe('GraphQL limits', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({
      limits: { graphql: { maxDepth: 5, maxAliases: 3, maxTokens: 300, maxCost: 5000, maxQueryBytes: 4000, maxBodyBytes: 20_000, defaultListSize: 10, persistedQueries: 5 } },
    });
  });
  after(() => gw.stop());

  /** POSTs `body` (already encoded) to the GraphQL endpoint; the answer's status and JSON. */
  const post = async (body: BodyInit, headers: Record<string, string> = {}) => {
    const r = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body,
      ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit);
    return { status: r.status, ...((await r.json()) as { data?: Record<string, unknown>; errors?: { message: string; extensions?: Record<string, unknown> }[] }) };
  };
  // An unknown service's operations: [] (the variable makes the body as large as asked).
  const padded = (bytes: number) => JSON.stringify({ query: 'query($pad: String!) { operations(service: $pad) { name } }', variables: { pad: 'x'.repeat(bytes) } });
  const answered = { operations: [] };

  test('request bodies: within maxBodyBytes, plain or gzip/deflate, small or large, are answered', async () => {
    for (const body of [padded(10), padded(12_000)]) {
      assert.deepEqual((await post(body)).data, answered, `plain, ${body.length} bytes`);
      assert.deepEqual((await post(gzipSync(body), { 'content-encoding': 'gzip' })).data, answered, `gzip, ${body.length} bytes`);
      assert.deepEqual((await post(deflateSync(body), { 'content-encoding': 'deflate' })).data, answered, `deflate, ${body.length} bytes`);
      assert.deepEqual((await post(new Uint8Array(zstdCli(body)), { 'content-encoding': 'zstd' })).data, answered, `zstd, ${body.length} bytes`);
      assert.deepEqual((await post(snappy.compress(Buffer.from(body)), { 'content-encoding': 'snappy' })).data, answered, `snappy, ${body.length} bytes`);
    }
    // Without Content-Length (chunked), in pieces.
    const pieces = Buffer.from(padded(9_000));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < pieces.length; i += 1000) controller.enqueue(pieces.subarray(i, i + 1000));
        controller.close();
      },
    });
    assert.deepEqual((await post(stream)).data, answered);
  });

  test('a body over maxBodyBytes is refused with 413 (by Content-Length, while streaming, and after inflating); others still served', async () => {
    const declared = await post(padded(25_000));
    assert.equal(declared.status, 413);
    assert.equal(codeOf(declared), 'GW_QUERY_TOO_LARGE');
    assert.match(messageOf(declared), /request body of 250\d\d bytes exceeds the limit of 20000 bytes \(limits\.graphql\.maxBodyBytes\)/);
    const big = Buffer.from(padded(25_000));
    const streamed = await post(
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < big.length; i += 4000) controller.enqueue(big.subarray(i, i + 4000));
          controller.close();
        },
      }),
    );
    assert.equal(streamed.status, 413);
    assert.match(messageOf(streamed), /request body exceeds the limit of 20000 bytes/);
    const bomb = await post(gzipSync(padded(2_000_000)), { 'content-encoding': 'gzip' });
    assert.equal(bomb.status, 413);
    assert.match(messageOf(bomb), /gzip request body inflates to more than the limit of 20000 bytes/);
    const zstdBomb = await post(new Uint8Array(zstdCli(padded(2_000_000))), { 'content-encoding': 'zstd' });
    assert.equal(zstdBomb.status, 413);
    assert.match(messageOf(zstdBomb), /zstd request body decompresses to more than the limit of 20000 bytes/);
    const snappyBomb = await post(snappy.compress(Buffer.from(padded(300_000))), { 'content-encoding': 'snappy' });
    assert.equal(snappyBomb.status, 413);
    assert.match(messageOf(snappyBomb), /snappy request body decompresses to more than the limit of 20000 bytes/);
    const unknown = await post(padded(10), { 'content-encoding': 'br' });
    assert.equal(unknown.status, 415);
    assert.match(messageOf(unknown), /unsupported Content-Encoding "br"/);
    const broken = await post(Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
    assert.equal(broken.status, 400);
    assert.match(messageOf(broken), /gzip request body could not be decompressed/);
    assert.deepEqual((await post(padded(10))).data, answered);
  });

  test('depth over the limit is refused naming the limit and the depth found', async () => {
    const r = await gql(gw.graphqlUrl, '{ trace(traceId: "0af7651916cd43dd8448eb211c80319c") { spans { children { children { children { name } } } } } }');
    assert.equal(messageOf(r), 'Query depth limit of 5 exceeded, found 6 (limits.graphql.maxDepth)');
    assert.equal(r.errors?.[0]?.extensions?.code, 'GW_QUERY_TOO_LARGE');
  });

  test('depth counts fields, not fragment spreads or inline fragments (security QA)', async () => {
    // Found by security QA: each spread and inline fragment counted as a level, so fragment-heavy
    // (codegen, Relay) documents were refused well below maxDepth.
    const five = 'query { trace(traceId: "0af7651916cd43dd8448eb211c80319c") { ...T } } fragment T on Trace { spans { ...S } } fragment S on Span { children { ... on Span { children { name } } } }';
    const r = await gql(gw.graphqlUrl, five);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const six = five.replace('children { name }', 'children { children { name } }');
    assert.equal(messageOf(await gql(gw.graphqlUrl, six)), 'Query depth limit of 5 exceeded, found 6 (limits.graphql.maxDepth)');
  });

  test('a variable\'s default in the operation is what the cost counts, over HTTP and graphql-ws (security QA)', async () => {
    // Found by security QA: with no variables sent, `first: $n` counted the field's default (50) and ran with $n's.
    const q = 'query($n: Int = 2000) { spans(first: $n) { nodes { name } } }';
    const http = await gql(gw.graphqlUrl, q, {});
    assert.equal(http.status, 400);
    assert.match(messageOf(http), /^query cost of 6000 exceeds limits\.graphql\.maxCost of 5000/);
    const client = wsClient(gw, 'ws-cost');
    try {
      const ws = tail(client, q);
      await ws.done;
      assert.match(ws.errors[0]?.message ?? '', /^query cost of 6000 exceeds limits\.graphql\.maxCost of 5000/);
    } finally {
      await client.dispose();
    }
  });

  test('too many aliases are refused naming the limit, with the limits\' code and status', async () => {
    const r = await gql(gw.graphqlUrl, '{ a: services b: services c: services d: services }');
    // Was "Syntax Error: Aliases limit …" without a code, and 200 under graphql-response+json.
    assert.equal(messageOf(r), 'Aliases limit of 3 exceeded, found 4 (limits.graphql.maxAliases)');
    assert.equal(r.errors?.[0]?.extensions?.code, 'GW_QUERY_TOO_LARGE');
    const res = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: '{ a: services b: services c: services d: services }' }),
    });
    assert.equal(res.status, 400);
  });

  test('too many tokens are refused naming the limit and its setting', async () => {
    const r = await gql(gw.graphqlUrl, `{ ${Array.from({ length: 320 }, () => '__typename').join(' ')} }`);
    // Was "Syntax Error: Token limit of 300 exceeded." with no setting and code GRAPHQL_PARSE_FAILED.
    assert.equal(messageOf(r), 'Token limit of 300 exceeded (limits.graphql.maxTokens)');
    assert.equal(codeOf(r), 'GW_QUERY_TOO_LARGE');
  });

  test('every limit refusal has one status whatever the client accepts: 413 for the text, 400 for depth, aliases, tokens and cost', async () => {
    // Found by security QA: depth and aliases (and tokens) came back 200 under application/json,
    // cost and text size 400/413, so a client reading only the status saw some refusals as answers.
    const refusals: [string, string, number, RegExp][] = [
      ['depth', '{ trace(traceId: "0af7651916cd43dd8448eb211c80319c") { spans { children { children { children { name } } } } } }', 400, /\(limits\.graphql\.maxDepth\)$/],
      ['aliases', '{ a: services b: services c: services d: services }', 400, /\(limits\.graphql\.maxAliases\)$/],
      ['tokens', `{ ${Array.from({ length: 320 }, () => '__typename').join(' ')} }`, 400, /\(limits\.graphql\.maxTokens\)$/],
      ['cost', '{ spans(first: 100) { nodes { name events { name typedAttributes { key } } } } }', 400, /exceeds limits\.graphql\.maxCost of 5000/],
      ['text', `{ services ${' '.repeat(5000)} }`, 413, /exceeds limits\.graphql\.maxQueryBytes of 4000/],
    ];
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      for (const [what, query, status, message] of refusals) {
        const res = await fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify({ query }) });
        const body = (await res.json()) as { data?: unknown; errors: { message: string; extensions: Record<string, unknown> }[] };
        assert.equal(res.status, status, `${what} under ${accept}`);
        assert.equal(body.data, undefined, what);
        assert.deepEqual(body.errors[0]!.extensions, { code: 'GW_QUERY_TOO_LARGE' }, `${what}: the code, and no internals`);
        assert.match(body.errors[0]!.message, message, what);
      }
    }
  });

  test('over graphql-ws, a syntax error or a limit is that operation\'s error; the connection and its live tail go on', async () => {
    const client = wsClient(gw, 'ws-limits');
    try {
      const live = tail<{ tailSpans: { span: { name: string } } }>(client, 'subscription { tailSpans(filter: { service: ["ws-limits"] }) { span { name } } }');
      await subscriptions(gw, 1);
      // Found by the fuzzer: graphql-ws closed the socket with 4500 for these, ending the live tail too.
      const syntax = tail(client, 'subscrip');
      const aliases = tail(client, '{ a: services b: services c: services d: services }');
      const depth = tail(client, '{ trace(traceId: "x") { spans { parent { parent { parent { parent { name } } } } } } }');
      await Promise.all([syntax.done, aliases.done, depth.done]);
      assert.match(syntax.errors[0]!.message, /Syntax Error: Unexpected Name "subscrip"/);
      assert.match(aliases.errors[0]!.message, /Aliases limit of 3 exceeded, found 4/);
      assert.match(depth.errors[0]!.message, /Query depth limit of 5 exceeded/);
      assert.equal(await postOtlp(gw, '/v1/traces', spansJson([{ service: 'ws-limits', name: 'after' }]), 'ws-limits'), 200);
      await waitFor(async () => live.events.length, (n) => n === 1, 'the span, on the tail opened before');
      assert.equal(live.events[0]!.tailSpans.span.name, 'after');
      assert.deepEqual(live.errors, []);
      live.stop();
    } finally {
      await client.dispose();
    }
  });

  test('the cost from list sizes: first/limit (literal or variable) times nesting', async () => {
    const cheap = await gql(gw.graphqlUrl, '{ spans(first: 5) { nodes { name events { name } } } }');
    assert.equal(cheap.errors, undefined, JSON.stringify(cheap.errors));
    const costly = await gql(gw.graphqlUrl, 'query($n: Int) { spans(first: $n) { nodes { name events { name typedAttributes { key } } } } }', { n: 100 });
    assert.equal(codeOf(costly), 'GW_QUERY_TOO_LARGE');
    assert.match(messageOf(costly), /query cost of \d+ exceeds limits\.graphql\.maxCost of 5000/);
    const cost = Number(/cost of (\d+)/.exec(messageOf(costly))![1]);
    // spans 100 + nodes (the page itself) 100 + name 100 + events 100·10 + name 1000 + typedAttributes 100·10·10 + key 10000
    assert.equal(cost, 100 + 100 + 100 + 1000 + 1000 + 10000 + 10000);
  });

  test('a list costs the size it asks for, beyond 1,000 too (alertHistory takes up to 10,000)', async () => {
    // Found by security QA: every size was counted as at most 1,000, so alertHistory(limit: 10000)
    // cost a tenth of what it reads.
    const r = await gql(gw.graphqlUrl, 'query($n: Int) { alertHistory(limit: $n) { at value } }', { n: 10_000 });
    assert.equal(codeOf(r), 'GW_QUERY_TOO_LARGE');
    assert.match(messageOf(r), /query cost of 30000 exceeds limits\.graphql\.maxCost of 5000/);
    const within = await gql(gw.graphqlUrl, '{ alertHistory(limit: 1000) { at value } }');
    assert.notEqual(codeOf(within), 'GW_QUERY_TOO_LARGE', 'a cost of 3000 is within the limit');
  });

  test('query text over maxQueryBytes is refused with 413 naming both sizes', async () => {
    const query = `{ services ${' '.repeat(5000)} }`;
    const r = await gql(gw.graphqlUrl, query);
    assert.equal(r.status, 413);
    assert.equal(codeOf(r), 'GW_QUERY_TOO_LARGE');
    assert.match(messageOf(r), /query text of 50\d\d bytes exceeds limits\.graphql\.maxQueryBytes of 4000/);
  });

  test('automatic persisted queries over GET: unknown hash, register, then hash alone', async () => {
    const query = '{ services }';
    const hash = createHash('sha256').update(query).digest('hex');
    const ext = encodeURIComponent(JSON.stringify({ persistedQuery: { version: 1, sha256Hash: hash } }));
    const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers: { accept: 'application/json', ...headers } }).then(
        async (r) => ({ status: r.status, ...((await r.json()) as { data?: unknown; errors?: { message: string }[] }) }),
      );
    const miss = await get(`${gw.graphqlUrl}?extensions=${ext}`);
    assert.deepEqual(miss.errors, [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }]);
    assert.equal(miss.status, 404);
    const reg = await get(`${gw.graphqlUrl}?query=${encodeURIComponent(query)}&extensions=${ext}`);
    assert.deepEqual(reg.data, { services: [] });
    const hit = await get(`${gw.graphqlUrl}?extensions=${ext}`);
    assert.deepEqual(hit.data, { services: [] });
    const otherTenant = await get(`${gw.graphqlUrl}?extensions=${ext}`, { 'X-Scope-OrgID': 'someone-else' });
    assert.equal(otherTenant.errors?.[0]?.message, 'PersistedQueryNotFound', 'the cache is per tenant');
    const wrongHash = await get(`${gw.graphqlUrl}?query=${encodeURIComponent('{ metrics { name } }')}&extensions=${ext}`);
    assert.equal(wrongHash.status, 400);
    // Parameters that are not JSON are the client's mistake (Yoga answered 500 and an internal error).
    for (const name of ['variables', 'extensions']) {
      const bad = await get(`${gw.graphqlUrl}?query=${encodeURIComponent(query)}&${name}=notjson`);
      assert.equal(bad.status, 400, name);
      assert.deepEqual(bad.errors, [{ message: `the ${name} parameter is not valid JSON`, extensions: { code: 'GW_BAD_ARGUMENT' } }]);
    }

    // A text over maxQueryBytes is refused and not stored (the body limit is five times larger).
    const big = `{ services ${'#'.repeat(10_000)}\n}`;
    const bigHash = createHash('sha256').update(big).digest('hex');
    const bigExt = { persistedQuery: { version: 1, sha256Hash: bigHash } };
    const stored = await post(JSON.stringify({ query: big, extensions: bigExt }));
    assert.equal(stored.status, 413);
    assert.match(messageOf(stored), /query text of 10013 bytes exceeds limits\.graphql\.maxQueryBytes of 4000/);
    const byHash = await post(JSON.stringify({ extensions: bigExt }));
    assert.equal(messageOf(byHash), 'PersistedQueryNotFound');
  });
  test('a persisted-query miss is 404 with Cache-Control: no-store; the Apollo Client and urql sequences still recover', async () => {
    const query = 'query Services { services }';
    const hash = createHash('sha256').update(query).digest('hex');
    // Apollo Client 3/4 with useGETForHashedQueries: GET hash-only (with its clientLibrary extension),
    // then, on PERSISTED_QUERY_NOT_FOUND, a POST with the text; the next GET hash-only is a hit.
    const extensions = { clientLibrary: { name: '@apollo/client', version: '3.13.8' }, persistedQuery: { version: 1, sha256Hash: hash } };
    const apolloGet = `${gw.graphqlUrl}?operationName=Services&variables=%7B%7D&extensions=${encodeURIComponent(JSON.stringify(extensions))}`;
    const accept = 'application/graphql-response+json,application/json;q=0.9';
    for (const a of [accept, 'application/json']) {
      const miss = await fetch(apolloGet, { headers: { accept: a } });
      assert.equal(miss.status, 404, a);
      assert.equal(miss.headers.get('cache-control'), 'no-store', a);
      assert.deepEqual(((await miss.json()) as { errors: unknown }).errors, [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }]);
    }
    const retry = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept },
      body: JSON.stringify({ operationName: 'Services', variables: {}, extensions, query }),
    });
    assert.equal(retry.status, 200);
    assert.deepEqual(await retry.json(), { data: { services: [] } });
    const hit = await fetch(apolloGet, { headers: { accept } });
    assert.equal(hit.status, 200);
    assert.deepEqual(await hit.json(), { data: { services: [] } });

    // urql's persistedExchange with preferGetForPersistedQueries: GET hash-only, then GET with the text.
    const urqlQuery = '{ services u: services }';
    const urqlExt = encodeURIComponent(JSON.stringify({ persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(urqlQuery).digest('hex') } }));
    const urqlMiss = await fetch(`${gw.graphqlUrl}?extensions=${urqlExt}`, { headers: { accept: 'application/graphql-response+json, application/json' } });
    assert.equal(urqlMiss.status, 404);
    assert.equal(((await urqlMiss.json()) as { errors: { message: string }[] }).errors[0]!.message, 'PersistedQueryNotFound');
    const urqlRetry = await fetch(`${gw.graphqlUrl}?query=${encodeURIComponent(urqlQuery)}&extensions=${urqlExt}`, { headers: { accept: 'application/graphql-response+json, application/json' } });
    assert.deepEqual(await urqlRetry.json(), { data: { services: [], u: [] } });
  });

  test('persisted queries are bounded per tenant: another tenant registering many cannot evict (or count) a tenant’s own', async () => {
    const register = async (tenant: string, query: string) => {
      const sha256Hash = createHash('sha256').update(query).digest('hex');
      const r = await post(JSON.stringify({ query, extensions: { persistedQuery: { version: 1, sha256Hash } } }), { 'x-scope-orgid': tenant });
      assert.equal(r.status, 200, JSON.stringify(r));
      return sha256Hash;
    };
    const byHash = (tenant: string, sha256Hash: string) => post(JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash } } }), { 'x-scope-orgid': tenant });
    const mine = await register('apq-a', '{ services } # a');
    // persistedQueries is 5 in this gateway: B fills its own 5 and more.
    for (let i = 0; i < 12; i++) await register('apq-b', `{ __typename } # b-${i}`);
    assert.deepEqual((await byHash('apq-a', mine)).data, { services: [] }, 'A’s query survives B’s registrations');
    // Within a tenant the cache is an LRU of persistedQueries entries.
    const own = [];
    for (let i = 0; i < 6; i++) own.push(await register('apq-a', `{ __typename } # a-${i}`));
    assert.equal(messageOf(await byHash('apq-a', mine)), 'PersistedQueryNotFound', 'A’s own sixth registration evicts its oldest');
    assert.deepEqual((await byHash('apq-a', own[5]!)).data, { __typename: 'Query' });
  });
});

describe('GraphQL rate limit and deadline', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { graphql: { requestsPerSecond: 3, timeoutMs: 1 } } });
  });
  after(() => gw.stop());

  test('a tenant over requestsPerSecond gets 429 with Retry-After; another tenant is unaffected', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-scope-orgid': 'flooder' },
      body: JSON.stringify({ query: '{ __typename }' }),
    })));
    const limited = answers.filter((r) => r.status === 429);
    assert.ok(limited.length >= 1, `statuses: ${answers.map((r) => r.status).join(',')}`);
    assert.match(limited[0]!.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    const body = (await limited[0]!.json()) as { errors: { message: string; extensions: { code: string } }[] };
    assert.equal(body.errors[0]!.extensions.code, 'GW_RATE_LIMITED');
    assert.match(body.errors[0]!.message, /limits\.graphql\.requestsPerSecond of 3/);
    const other = await gql(gw.graphqlUrl, '{ __typename }', {}, { 'x-scope-orgid': 'quiet' });
    assert.equal(other.status, 200);
  });

  test('a query still running at the deadline is interrupted and answered with GW_TIMEOUT', async () => {
    // 40,000 spans make the regex scan take far longer than the 1 ms deadline.
    const specs = Array.from({ length: 40_000 }, (_, i) => ({ name: `op-${i}`, attributes: { 'http.url': `https://example.test/item/${i}?q=${'x'.repeat(20)}` } }));
    for (let i = 0; i < specs.length; i += 10_000) {
      const res = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-scope-orgid': 'slow' }, body: JSON.stringify(spansJson(specs.slice(i, i + 10_000))) });
      assert.equal(res.status, 200);
    }
    const r = await waitFor(
      () => gql(gw.graphqlUrl, '{ spans(first: 1000, filter: { attributes: [{ key: "http.url", regex: ".*(a|b|c)+.*z.*" }] }) { edges { node { name } } } }', {}, { 'x-scope-orgid': 'slow' }),
      (x) => codeOf(x) === 'GW_TIMEOUT',
      'a timed-out answer',
    );
    assert.match(messageOf(r), /request deadline of 1 ms \(limits\.graphql\.timeoutMs\) passed/);
  });
});

describe('ingest rate limits', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { ingest: { itemsPerSecond: 20, bytesPerSecond: 0 } } });
  });
  after(() => gw.stop());

  test('a tenant over itemsPerSecond gets 429 + Retry-After (HTTP) and RESOURCE_EXHAUSTED (gRPC); others go on', async () => {
    const body = JSON.stringify(spansJson(Array.from({ length: 20 }, () => ({ name: 'flood' }))));
    const post = (tenant: string) => fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-scope-orgid': tenant }, body });
    let refused: Response | undefined;
    for (let i = 0; i < 5 && !refused; i++) {
      const r = await post('flooder');
      if (r.status === 429) refused = r;
      else assert.equal(r.status, 200);
    }
    assert.ok(refused, 'the flooding tenant is refused');
    assert.match(refused.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    assert.match(((await refused.json()) as { message: string }).message, /limits\.ingest\.itemsPerSecond of 20/);
    assert.equal((await post('quiet')).status, 200, 'another tenant is served');
    let code: grpc.status | undefined;
    for (let i = 0; i < 5 && code !== grpc.status.RESOURCE_EXHAUSTED; i++) {
      code = (await grpcExport(gw.otlpGrpc, 'traces', toProtobuf('traces', JSON.parse(body)), { 'x-scope-orgid': 'grpc-flooder' })).code;
    }
    assert.equal(code, grpc.status.RESOURCE_EXHAUSTED);
  });
});

describe('per-tenant cost budget and requests beyond a whole second', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { graphql: { costPerSecond: 1000 }, ingest: { itemsPerSecond: 50, bytesPerSecond: 0 } } });
  });
  after(() => gw.stop());

  test('limits.graphql.costPerSecond: a costly query uses up the tenant\'s budget; other tenants are served', async () => {
    // spans 300 + nodes 300 + name 300 = 900 of the 1000 per second; the next costs more than is left.
    const costly = '{ spans(first: 300) { nodes { name } } }';
    const first = await gql(gw.graphqlUrl, costly, {}, { 'x-scope-orgid': 'spender' });
    assert.equal(first.errors, undefined, JSON.stringify(first.errors));
    const second = await gql(gw.graphqlUrl, costly, {}, { 'x-scope-orgid': 'spender' });
    assert.equal(codeOf(second), 'GW_RATE_LIMITED');
    assert.equal(second.status, 429);
    assert.match(messageOf(second), /limits\.graphql\.costPerSecond of 1000 per second exceeded for this tenant; retry after \d+ s \(this query costs 900\)/);
    const other = await gql(gw.graphqlUrl, costly, {}, { 'x-scope-orgid': 'saver' });
    assert.equal(other.errors, undefined, 'another tenant keeps its own budget');
  });

  test('a tenant that owes cost is refused before its next document is parsed', async () => {
    // 1000 × 4 fields = 4000: runs on the 1000 of this second, and 3000 are owed (3 s).
    const r = await gql(gw.graphqlUrl, '{ spans(first: 1000) { nodes { name attributes } } }', {}, { 'x-scope-orgid': 'debtor' });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    // Not a document at all: parsing it would answer a syntax error, so a 429 shows it was refused unparsed.
    const next = await gql(gw.graphqlUrl, '{ this is not graphql', {}, { 'x-scope-orgid': 'debtor' });
    assert.equal(next.status, 429);
    assert.equal(codeOf(next), 'GW_RATE_LIMITED');
    assert.match(messageOf(next), /limits\.graphql\.costPerSecond of 1000 per second exceeded for this tenant; retry after [2-6] s/);
    assert.match((await gql(gw.graphqlUrl, '{ this is not graphql', {}, { 'x-scope-orgid': 'solvent' })).errors?.[0]?.message ?? '', /Syntax Error/);
  });

  test('a request of 4 seconds\' items is let through once, then the tenant waits out the excess', async () => {
    const big = JSON.stringify(spansJson(Array.from({ length: 200 }, () => ({ name: 'burst' }))));
    const small = JSON.stringify(spansJson([{ name: 'after' }]));
    const post = (body: string, tenant: string) => fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-scope-orgid': tenant }, body });
    assert.equal((await post(big, 'burster')).status, 200, 'a request beyond a second\'s budget passes on the budget alone');
    const next = await post(small, 'burster');
    assert.equal(next.status, 429, 'the 150 items beyond the budget are owed');
    const wait = Number(next.headers.get('retry-after'));
    assert.ok(wait >= 2 && wait <= 4, `Retry-After covers the excess (got ${wait})`);
    assert.equal((await post(small, 'other')).status, 200, 'another tenant is served');
  });
});

describe('per-tenant DuckDB time budget (limits.graphql.duckdbMsPerSecond)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { graphql: { duckdbMsPerSecond: 1 } } });
    const body = JSON.stringify(spansJson(Array.from({ length: 200 }, (_, i) => ({ name: `op-${i}`, attributes: { 'http.route': `/r/${i}` } }))));
    const res = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-scope-orgid': 'heavy' }, body });
    assert.equal(res.status, 200);
  });
  after(() => gw.stop());

  const SPANS = '{ spans(first: 200, filter: { attributes: [{ key: "http.route", regex: "^/r/1" }] }) { nodes { name attributes } } }';

  test('a tenant whose statements used its milliseconds is refused before parsing, with Retry-After; others are served', async () => {
    // Every statement takes at least a millisecond of the 1 ms per second, so the tenant is refused
    // right after its first request that reached DuckDB (within a few tries on a slow machine).
    const first = await gql(gw.graphqlUrl, SPANS, {}, { 'x-scope-orgid': 'heavy' });
    assert.equal(first.errors, undefined, JSON.stringify(first.errors));
    let refused: Awaited<ReturnType<typeof gql>> | undefined;
    for (let i = 0; i < 5 && !refused; i++) {
      const r = await gql(gw.graphqlUrl, SPANS, {}, { 'x-scope-orgid': 'heavy' });
      if (r.status === 429) refused = r;
    }
    assert.ok(refused, 'the tenant was refused once its DuckDB milliseconds were used');
    assert.equal(codeOf(refused), 'GW_RATE_LIMITED');
    assert.match(messageOf(refused), /limits\.graphql\.duckdbMsPerSecond of 1 per second exceeded for this tenant; retry after \d+ s/);
    const other = await gql(gw.graphqlUrl, SPANS, {}, { 'x-scope-orgid': 'light' });
    assert.equal(other.errors, undefined, 'another tenant keeps its own DuckDB time');
  });

  test('queries over graphql-ws are metered and refused the same way', async () => {
    const client = wsClient(gw, 'ws-heavy');
    const wsQuery = (query: string) =>
      new Promise<{ data?: unknown; errors?: GqlError[] }>((resolve) => {
        let result: { data?: unknown; errors?: GqlError[] } = {};
        client.subscribe(
          { query },
          {
            next: (v) => (result = v as typeof result),
            error: (e) => resolve({ errors: Array.isArray(e) ? (e as GqlError[]) : [e as GqlError] }),
            complete: () => resolve(result),
          },
        );
      });
    try {
      const first = await wsQuery(SPANS);
      assert.equal(first.errors, undefined, JSON.stringify(first.errors));
      let refused: GqlError | undefined;
      for (let i = 0; i < 5 && !refused; i++) refused = (await wsQuery(SPANS)).errors?.find((e) => /duckdbMsPerSecond/.test(e.message));
      assert.ok(refused, 'the tenant was refused once its DuckDB milliseconds were used');
      assert.match(refused.message, /limits\.graphql\.duckdbMsPerSecond of 1 per second exceeded for this tenant; retry after \d+ s/);
    } finally {
      await client.dispose();
    }
  });

  test('requests that run no DuckDB statement cost no query time', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await gql<{ __typename: string }>(gw.graphqlUrl, '{ __typename }', {}, { 'x-scope-orgid': 'introspector' });
      assert.equal(r.status, 200);
      assert.equal(r.data?.__typename, 'Query');
    }
  });
});

describe('redaction and attribute limits in the default pipelines', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ processors: { redaction: {}, limits: { maxValueLength: 200 } } });
  });
  after(() => gw.stop());

  test('configured once under processors, they run before storage in every pipeline', async () => {
    const traceId = randomTraceId();
    const body = spansJson([{ traceId, name: 'checkout', attributes: { 'db.statement': "UPDATE users SET password = 'hunter2' WHERE email = 'jane@example.com'", 'card': '4111 1111 1111 1111', long: 'y'.repeat(500) } }]);
    assert.equal((await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).status, 200);
    const r = await waitFor(
      () => gql<{ trace: { spans: { attributes: Record<string, unknown> }[] } | null }>(gw.graphqlUrl, 'query($id: ID!) { trace(traceId: $id) { spans { attributes } } }', { id: traceId }),
      (x) => (x.data?.trace?.spans.length ?? 0) === 1,
      'the stored span',
    );
    const a = r.data!.trace!.spans[0]!.attributes;
    assert.equal(a['db.statement'], "UPDATE users SET password = '?' WHERE email = '?'");
    assert.equal(a.card, '<redacted:creditCard>');
    assert.equal((a.long as string).length, 200);
    const logs = logsJson([{ body: 'login failed for jane@example.com with Bearer abcdefghijklmnop' }]);
    assert.equal((await fetch(`${gw.otlpHttp}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(logs) })).status, 200);
    const l = await waitFor(
      () => gql<{ logs: { edges: { node: { body: unknown } }[] } }>(gw.graphqlUrl, '{ logs(first: 5) { edges { node { body } } } }'),
      (x) => (x.data?.logs.edges.length ?? 0) === 1,
      'the stored log',
    );
    assert.equal(l.data!.logs.edges[0]!.node.body, 'login failed for <redacted:email> with Bearer <redacted:bearerToken>');
  });

  test('redaction runs before the limits cut values, and masks what security QA found stored in the clear', async () => {
    const traceId = randomTraceId();
    const card = 'y'.repeat(185) + ' 4111 1111 1111 1111'; // maxValueLength 200 cuts the card after 14 of its digits
    const body = spansJson([
      {
        traceId,
        name: 'POST /reset?token=6f1e2d9a77',
        attributes: {
          card,
          env: 'DB_PASSWORD=hunter2 MYSQL_ROOT_PASSWORD=root',
          dsn: 'postgres://app:p@ss@db:5432/orders',
          'x-auth-token': 'abc123',
          'gen_ai.usage.input_tokens': 1200,
          'llm.token_count.prompt': '1200',
          'gen_ai.token.type': 'input',
        },
      },
    ]);
    assert.equal(await postOtlp(gw, '/v1/traces', body, 'default'), 200);
    const r = await waitFor(
      () => gql<{ trace: { spans: { name: string; attributes: Record<string, unknown> }[] } | null }>(gw.graphqlUrl, 'query($id: ID!) { trace(traceId: $id) { spans { name attributes } } }', { id: traceId }),
      (x) => (x.data?.trace?.spans.length ?? 0) === 1,
      'the stored span',
    );
    const s = r.data!.trace!.spans[0]!;
    assert.equal(s.name, 'POST /reset?token=<redacted:secretAssignment>');
    assert.equal(s.attributes.card, 'y'.repeat(185) + ' ', 'masked whole, then cut before the marker: no digit of it stored, no part of a marker');
    assert.equal(s.attributes.env, 'DB_PASSWORD=<redacted:secretAssignment> MYSQL_ROOT_PASSWORD=<redacted:secretAssignment>');
    assert.equal(s.attributes.dsn, 'postgres://app:<redacted:urlPassword>@db:5432/orders');
    assert.equal(s.attributes['x-auth-token'], '<redacted:sensitiveKey>');
    assert.equal(s.attributes['gen_ai.usage.input_tokens'], 1200);
    assert.equal(s.attributes['llm.token_count.prompt'], '1200');
    assert.equal(s.attributes['gen_ai.token.type'], 'input');

    const logs = logsJson([{ service: 'json-logger', body: '{"user":"bob","password": "s3cret","api_key":"k-123"}' }]);
    assert.equal(await postOtlp(gw, '/v1/logs', logs, 'default'), 200);
    const l = await waitFor(
      () => gql<{ logs: { edges: { node: { body: unknown } }[] } }>(gw.graphqlUrl, '{ logs(first: 5, filter: { service: ["json-logger"] }) { edges { node { body } } } }'),
      (x) => (x.data?.logs.edges.length ?? 0) === 1,
      'the stored log',
    );
    assert.deepEqual(JSON.parse(l.data!.logs.edges[0]!.node.body as string), { user: 'bob', password: '<redacted:secretAssignment>', api_key: '<redacted:secretAssignment>' });
  });

  test('live tails see records only as redacted and limited, like the store', async () => {
    const client = wsClient(gw, 'default');
    try {
      const spans = tail<{ tailSpans: { span: { attributes: Record<string, unknown> } } }>(
        client,
        'subscription { tailSpans(filter: { service: ["tail-redacted"] }) { span { attributes } } }',
      );
      const logs = tail<{ tailLogs: { log: { body: unknown } } }>(client, 'subscription { tailLogs(filter: { service: ["tail-redacted"] }) { log { body } } }');
      await subscriptions(gw, 2);
      const body = spansJson([{ service: 'tail-redacted', name: 'pay', attributes: { card: '4111 1111 1111 1111', long: 'z'.repeat(500) } }]);
      assert.equal(await postOtlp(gw, '/v1/traces', body, 'default'), 200);
      assert.equal(await postOtlp(gw, '/v1/logs', logsJson([{ service: 'tail-redacted', body: 'mail jane@example.com' }]), 'default'), 200);
      await waitFor(async () => spans.events.length + logs.events.length, (n) => n === 2, 'one span and one log event');
      const a = spans.events[0]!.tailSpans.span.attributes;
      assert.equal(a.card, '<redacted:creditCard>');
      assert.equal((a.long as string).length, 200);
      assert.equal(logs.events[0]!.tailLogs.log.body, 'mail <redacted:email>');
      spans.stop();
      logs.stop();
    } finally {
      await client.dispose();
    }
  });
});

test('a pipeline naming the limits processor before redaction is refused at start-up, naming the key', async () => {
  const cfg = testConfig({
    processors: { redaction: {}, limits: { maxValueLength: 200 } },
    pipelines: { traces: { receivers: ['otlp'], processors: ['memory_limiter', 'limits', 'redaction', 'batch'], exporters: ['duckdb'] } },
  });
  const app = buildApp(cfg, { logger: silentLogger() });
  try {
    await assert.rejects(app.start(), (err: Error) => err instanceof ConfigError && /^pipelines\.traces\.processors: "limits" runs before "redaction"/.test(err.message));
    assert.equal(app.addresses().otlpHttp, undefined, 'nothing listens');
  } finally {
    await app.stop();
  }
});

test('a pipeline naming the redaction processor after batch is refused at start-up, naming the key (security QA)', async () => {
  // Found by security QA: the batch processor acknowledges on enqueue and the tail tap publishes
  // then, so live tails streamed what a redaction behind batch masked only in the store.
  const cfg = testConfig({
    processors: { redaction: {} },
    pipelines: { logs: { receivers: ['otlp'], processors: ['memory_limiter', 'batch', 'redaction'], exporters: ['duckdb'] } },
  });
  const app = buildApp(cfg, { logger: silentLogger() });
  try {
    await assert.rejects(app.start(), (err: Error) => err instanceof ConfigError && /^pipelines\.logs\.processors: "redaction" runs after "batch"/.test(err.message));
    assert.equal(app.addresses().otlpHttp, undefined, 'nothing listens');
  } finally {
    await app.stop();
  }
});

describe('live tails show only what the pipeline accepted', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ processors: { limits: { maxAttributes: 2, action: 'refuse' } } });
  });
  after(() => gw.stop());

  test('a batch refused by a processor (attribute limits, action refuse) reaches no tail; the next accepted one does', async () => {
    const client = wsClient(gw, 'default');
    try {
      const spans = tail<{ tailSpans: { span: { name: string } } }>(client, 'subscription { tailSpans(filter: { service: ["tail-refused"] }) { span { name } } }');
      await subscriptions(gw, 1);
      const refused = spansJson([{ service: 'tail-refused', name: 'refused', attributes: { a: '1', b: '2', c: '3' } }]);
      assert.equal(await postOtlp(gw, '/v1/traces', refused, 'default'), 400);
      assert.equal(await postOtlp(gw, '/v1/traces', spansJson([{ service: 'tail-refused', name: 'accepted', attributes: { a: '1' } }]), 'default'), 200);
      await waitFor(async () => spans.events.length, (n) => n >= 1, 'the accepted span');
      // Both were published in order: had the refused one been tailed, it would have come first.
      assert.deepEqual(spans.events.map((e) => e.tailSpans.span.name), ['accepted']);
      spans.stop();
    } finally {
      await client.dispose();
    }
  });
});

describe('GraphQL concurrency per tenant', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { graphql: { concurrentPerTenant: 1 } } });
  });
  after(() => gw.stop());

  test('a tenant with a request running gets 429 for the next one; another tenant is served', async () => {
    const specs = Array.from({ length: 20_000 }, (_, i) => ({ name: `op-${i}`, attributes: { 'http.url': `https://example.test/item/${i}` } }));
    const res = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-scope-orgid': 'busy' }, body: JSON.stringify(spansJson(specs)) });
    assert.equal(res.status, 200);
    const slow = '{ spans(first: 1000, filter: { attributes: [{ key: "http.url", regex: ".*(a|b|c)+.*z.*" }] }) { nodes { name } } }';
    const post = (tenant: string, query: string) =>
      fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-scope-orgid': tenant }, body: JSON.stringify({ query }) });
    const [first, second, other] = await Promise.all([post('busy', slow), post('busy', slow), post('quiet', '{ services }')]);
    const statuses = [first.status, second.status].sort();
    assert.deepEqual(statuses, [200, 429]);
    const refused = first.status === 429 ? first : second;
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.match(((await refused.json()) as { errors: { message: string }[] }).errors[0]!.message, /limits\.graphql\.concurrentPerTenant of 1/);
    assert.equal(other.status, 200);
  });
});

describe('concurrentPerTenant counts queries and mutations over HTTP and graphql-ws, not live tails', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { graphql: { concurrentPerTenant: 1 } } });
  });
  after(() => gw.stop());

  /** Holds the trace store's `services` reads until `release()`; `entered` resolves once one is held. */
  function holdServices() {
    const traces = gw.app.internals.store()!.traces;
    const original = traces.services;
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered = () => {};
    const held = new Promise<void>((resolve) => (entered = resolve));
    traces.services = async (...args) => {
      entered();
      await gate;
      return original.apply(traces, args);
    };
    return { entered: held, release: () => ((traces.services = original), release()) };
  }
  const post = (tenant: string, query: string) =>
    fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', 'x-scope-orgid': tenant }, body: JSON.stringify({ query }) });

  test("a tenant's open tails, over SSE and graphql-ws, leave it its query slot on both transports", async () => {
    // Found by security QA: an SSE tail held a concurrentPerTenant slot for as long as it ran, so a
    // tenant with as many tails open as the limit got 429 for every query.
    const abort = new AbortController();
    const sse = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-scope-orgid': 'tails' },
      body: JSON.stringify({ query: 'subscription { tailLogs { dropped } }' }),
      signal: abort.signal,
    });
    assert.equal(sse.status, 200);
    const client = wsClient(gw, 'tails');
    try {
      const wsTail = tail(client, 'subscription { tailSpans { dropped } }');
      await subscriptions(gw, 2);
      for (let i = 0; i < 2; i++) {
        const overHttp = await post('tails', '{ services }');
        assert.equal(overHttp.status, 200, await overHttp.clone().text());
        assert.deepEqual(((await overHttp.json()) as { data: unknown }).data, { services: [] });
        const overWs = tail<{ services: string[] }>(client, '{ services }');
        await overWs.done;
        assert.deepEqual(overWs.errors, []);
        assert.deepEqual(overWs.events, [{ services: [] }]);
      }
      wsTail.stop();
    } finally {
      abort.abort();
      await client.dispose();
    }
    await subscriptions(gw, 0);
  });

  test("a query running over graphql-ws holds the tenant's slot: its next query is refused on either transport, another tenant's is served", async () => {
    const held = holdServices();
    const client = wsClient(gw, 'busy-ws');
    try {
      const running = tail<{ services: string[] }>(client, '{ services }');
      await held.entered;
      const overHttp = await post('busy-ws', '{ __typename }');
      assert.equal(overHttp.status, 429);
      assert.equal(overHttp.headers.get('retry-after'), '1');
      assert.match(messageOf((await overHttp.json()) as { errors: { message: string }[] }), /limits\.graphql\.concurrentPerTenant of 1 queries and mutations running at once/);
      const overWs = tail(client, '{ __typename }');
      await overWs.done;
      assert.equal(overWs.errors[0]?.extensions?.code, 'GW_RATE_LIMITED');
      assert.match(overWs.errors[0]!.message, /limits\.graphql\.concurrentPerTenant of 1/);
      assert.equal((await post('other', '{ __typename }')).status, 200);
      held.release();
      await running.done;
      assert.deepEqual(running.events, [{ services: [] }]);
      // Its slot was given back when it was answered.
      assert.equal((await post('busy-ws', '{ __typename }')).status, 200);
    } finally {
      held.release();
      await client.dispose();
    }
  });

  test('a graphql-ws operation refused before it runs gives its slot back', async () => {
    const client = wsClient(gw, 'refused-ws');
    try {
      const refused = [tail(client, '{ services'), tail(client, '{ nope }'), tail(client, '{ a: services b: services c: services d: services e: services f: services g: services h: services i: services j: services k: services l: services m: services n: services o: services p: services }')];
      await Promise.all(refused.map((t) => t.done));
      for (const t of refused) assert.equal(t.errors.length, 1, JSON.stringify(t.errors));
      // An operation name the document does not have.
      const unnamed = await new Promise<unknown>((resolve) => {
        client.subscribe({ query: 'query A { __typename }', operationName: 'B' }, { next: () => {}, error: resolve, complete: () => resolve('complete') });
      });
      assert.match(JSON.stringify(unnamed), /Could not determine what operation to execute/);
      const after = tail<{ __typename: string }>(client, '{ __typename }');
      await after.done;
      assert.deepEqual(after.errors, []);
      assert.equal((await post('refused-ws', '{ __typename }')).status, 200);
    } finally {
      await client.dispose();
    }
  });

  test("a query running over HTTP holds the tenant's slot against its graphql-ws queries too", async () => {
    const held = holdServices();
    const client = wsClient(gw, 'busy-http');
    try {
      const running = post('busy-http', '{ services }');
      await held.entered;
      const overWs = tail(client, '{ __typename }');
      await overWs.done;
      assert.equal(overWs.errors[0]?.extensions?.code, 'GW_RATE_LIMITED');
      assert.match(overWs.errors[0]!.message, /limits\.graphql\.concurrentPerTenant of 1/);
      held.release();
      assert.equal((await running).status, 200);
      const again = tail<{ __typename: string }>(client, '{ __typename }');
      await again.done;
      assert.deepEqual(again.events, [{ __typename: 'Query' }]);
    } finally {
      held.release();
      await client.dispose();
    }
  });
});

describe('fair DuckDB read lanes between tenants', () => {
  let gw: TestGateway;
  before(async () => {
    // No concurrency limit: the heavy tenant's requests all reach the store at once.
    gw = await startGateway({});
    const body = JSON.stringify(spansJson(Array.from({ length: 3000 }, (_, i) => ({ name: `op-${i % 30}`, attributes: { 'http.route': `/r/${i}`, 'user.id': `u-${i}` } }))));
    const res = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-scope-orgid': 'heavy' }, body });
    assert.equal(res.status, 200);
    await waitFor(
      () => gql<{ spans: { nodes: unknown[] } }>(gw.graphqlUrl, '{ spans(first: 1000) { nodes { name } } }', {}, { 'x-scope-orgid': 'heavy' }),
      (r) => r.data?.spans.nodes.length === 1000,
      'the heavy tenant\'s spans stored',
    );
  });
  after(() => gw.stop());

  test("another tenant's read starts before the first tenant's queued reads, not after them", async () => {
    const db = gw.app.internals.store()!.db;
    const heavyQuery = '{ spans(first: 1000, filter: { attributes: [{ key: "http.route", regex: ".*/(1|2|3).*" }] }) { nodes { name attributes } } }';
    const heavy = Array.from({ length: 24 }, () => gql<{ spans: { nodes: unknown[] } }>(gw.graphqlUrl, heavyQuery, {}, { 'x-scope-orgid': 'heavy' }));
    // Once the heavy tenant holds its lanes and has statements queued, the light tenant asks.
    await waitFor(
      async () => db.readStats().get('heavy'),
      (s) => (s?.waiting ?? 0) >= 10,
      'heavy reads queued',
    );
    // The light tenant's statement goes to the store at once (not through HTTP and GraphQL, whose
    // time on a main thread busy answering the heavy tenant would let more heavy reads queue and
    // start before it even arrives): what is measured is the order the lanes serve them in.
    const queuedAt = db.readStats().get('heavy')!;
    await withQueryMeter({ ms: 0, tenant: 'light' }, () => db.query('SELECT 42 AS answer'));
    const heavyStartedMeanwhile = db.readStats().get('heavy')!.statements - queuedAt.statements;
    assert.equal(db.readStats().get('light')?.statements, 1, "the light tenant's read ran");
    // In arrival order the light tenant's read would have started after every heavy read queued before it.
    assert.ok(
      heavyStartedMeanwhile < queuedAt.waiting,
      `the light tenant did not wait for the heavy tenant's queue (${queuedAt.waiting} queued when it asked, ${heavyStartedMeanwhile} started before it was answered)`,
    );
    // And through GraphQL, beside the heavy tenant's queue, it is answered and sees none of its data.
    const light = await gql<{ services: unknown[] }>(gw.graphqlUrl, '{ services }', {}, { 'x-scope-orgid': 'light' });
    assert.equal(light.errors, undefined, JSON.stringify(light.errors));
    assert.deepEqual(light.data?.services, [], "the light tenant sees none of the heavy tenant's data");
    for (const r of await Promise.all(heavy)) assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  });
});

describe('OTLP/gRPC: a tenant that owes is refused before its message is read', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { ingest: { itemsPerSecond: 20, bytesPerSecond: 0 } }, receivers: { otlp: { maxRequestBytes: 64 * 1024 } } });
  });
  after(() => gw.stop());

  test('RESOURCE_EXHAUSTED naming the ingest limit, with retry-after, even for a message grpc-js would refuse for its size', async () => {
    const spans = (n: number) => toProtobuf('traces', spansJson(Array.from({ length: n }, (_, i) => ({ name: `op-${i}` }))));
    // 200 items on a budget of 20 per second: admitted on this second's budget, the rest is owed.
    assert.equal((await grpcExport(gw.otlpGrpc, 'traces', spans(200), { 'x-scope-orgid': 'owing' })).code, grpc.status.OK);
    const huge = spans(3000);
    assert.ok(huge.length > 64 * 1024, 'the message exceeds receivers.otlp.maxRequestBytes');
    // Another tenant's oversized message is read, and grpc-js refuses it for its size.
    const other = await grpcExport(gw.otlpGrpc, 'traces', huge, { 'x-scope-orgid': 'fresh' });
    assert.equal(other.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.doesNotMatch(other.details, /limits\.ingest/);
    // The owing tenant's is refused at its metadata, before grpc-js reads the message and checks its size.
    const owing = await grpcExport(gw.otlpGrpc, 'traces', huge, { 'x-scope-orgid': 'owing' });
    assert.equal(owing.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(owing.details, /limits\.ingest\.itemsPerSecond of 20/);
    assert.match(String(owing.metadata?.get('retry-after')[0] ?? ''), /^[1-9]\d*$/);
    // Its admitted request was kept.
    const stored = await waitFor(
      () => gql<{ spans: { nodes: unknown[] } }>(gw.graphqlUrl, '{ spans(first: 1000) { nodes { name } } }', {}, { 'x-scope-orgid': 'owing' }),
      (r) => r.data?.spans.nodes.length === 200,
      'the admitted spans',
    );
    assert.equal(stored.data?.spans.nodes.length, 200);
  });
});

describe('caches of what clients send are bounded by its size, not only by a count', () => {
  let gw: TestGateway;
  let heap: () => number;
  before(async () => {
    gw = await startGateway();
    v8.setFlagsFromString('--expose-gc');
    // V8 keeps the code of every `new Function` source (graphql-jit's compiled forms) in its eval
    // cache and ages it out over natural GCs, which forced ones do not advance: without it, what the
    // heap measures after gc() is what teleql keeps (session 31: compiled tail documents measured
    // +230 MB with it, of which ~140 MB went after a few seconds of ordinary allocation).
    v8.setFlagsFromString('--no-compilation-cache');
    const gc = vm.runInNewContext('gc') as () => void;
    heap = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
  });
  after(() => gw.stop());

  test('parsed documents (limits.graphql.documentCacheBytes): 400 distinct ones with 101 validation errors each', async () => {
    // 600 unknown fields: 4 KB of text, 101 errors (graphql-js stops at 100). Yoga's own caches kept
    // each document with its errors, ~770 KB apiece: 400 of them held ~300 MB.
    const invalid = (i: number) => `{ ${Array.from({ length: 600 }, (_, j) => `f${i}_${j}`).join(' ')} }`;
    const send = (query: string) => gql(gw.graphqlUrl, query);
    await send('{ services }');
    const before = heap();
    for (let i = 0; i < 400; i++) {
      const r = await send(invalid(i));
      assert.equal(r.errors?.length, 101, `document ${i}`);
    }
    const grownMb = (heap() - before) / 1e6;
    assert.ok(grownMb < 100, `heap grew by ${grownMb.toFixed(1)} MB`);

    // Failed validations are not remembered: the same document gets the same errors again.
    const again = await send(invalid(0));
    assert.equal(again.errors?.length, 101);
    assert.match(again.errors![0]!.message, /Cannot query field "f0_0" on type "Query"/);
    // Valid documents are: repeated, they still answer.
    for (let i = 0; i < 2; i++) assert.deepEqual((await send('{ services }')).data, { services: [] });
  });

  test('compiled tail documents: 2,500 distinct ones, each subscribed and stopped', async () => {
    // graphql-jit's compiled form of a document (~300 times its text) lived as long as the parse
    // cache kept the document, which counts text only: distinct tail documents took the heap up by
    // hundreds of MB (soak QA, session 30). Compiled forms now have their own text budget.
    const fields = 'dropped replayed span { traceId spanId parentSpanId name kind startTime endTime durationNano status { code message } attributes service scope { name version } resource { serviceName attributes } }';
    const document = (i: number) => `subscription { tailSpans(filter: { service: ["svc-${i}"] }) { ${fields} } }`;
    const client = wsClient(gw, 'compiled-docs');
    try {
      const before = heap();
      for (let i = 0; i < 2500; i += 20) {
        const tails = Array.from({ length: 20 }, (_, j) => tail(client, document(i + j))); // tail.maxPerConnection
        await subscriptions(gw, 20);
        tails.forEach((t) => t.stop());
        await subscriptions(gw, 0);
      }
      const grownMb = (heap() - before) / 1e6;
      console.log(`compiled tail documents: heap grew by ${grownMb.toFixed(1)} MB`);
      // The parse cache holds all 2,500 (+48 MB with tail.compiled off), compiled forms ~400 (+90 MB
      // in all); before, all 2,500 (+293 MB).
      assert.ok(grownMb < 160, `heap grew by ${grownMb.toFixed(1)} MB`);
    } finally {
      await client.dispose();
    }
  });

  test('resources seen at ingest: 100 distinct ones with a 1 MB attribute', async () => {
    // Counted only by entries (10,000), each such resource held ~3 MB: 100 of them ~300 MB.
    const before = heap();
    for (let i = 0; i < 100; i++) {
      const body = spansJson([{ service: `big-${i}`, name: 'op' }]) as { resourceSpans: { resource: { attributes: unknown[] } }[] };
      body.resourceSpans[0]!.resource.attributes.push({ key: 'blob', value: { stringValue: String(i).padEnd(1_000_000, 'x') } });
      assert.equal(await postOtlp(gw, '/v1/traces', body, 'default'), 200);
    }
    await waitFor(
      async () => (await gql<{ services: string[] }>(gw.graphqlUrl, '{ services }')).data?.services ?? [],
      (services) => services.includes('big-99'),
      'the last resource stored',
    );
    const grownMb = (heap() - before) / 1e6;
    assert.ok(grownMb < 120, `heap grew by ${grownMb.toFixed(1)} MB`);
  });
});
