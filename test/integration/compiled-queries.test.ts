// A query document's repeated runs execute compiled by graphql-jit (src/server/compiled-queries.ts);
// a gateway with `graphql.compiledQueries: false` runs every query on graphql-js. Both must answer
// every run of a document alike: data, nulls, errors with their paths and extension codes, masking,
// variables (including a recursive TelemetryFilter variable, which stays on graphql-js), fragments,
// directives and aliases.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql, type GraphQLResponse } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { hex, nowNs, postOtlp, spansBody, type SpanSpec } from '../helpers/tail-client.ts';

const TENANT = 'jit-queries';
const TRACE = hex(0xa1, 32);

const SPAN_FIELDS = `spanId parentSpanId name kind startTime endTimeUnixNano duration durationMs attributes attribute(key: "http.route")
  status { code message } events { name } links { spanId } resource { serviceName } scope { name version } service
  parent { spanId } children { spanId name }`;

/** Each document with the variables of its runs; each is sent three times (first on graphql-js, then compiled). */
const CASES: { name: string; query: string; variables?: Record<string, unknown> }[] = [
  { name: 'trace by ID, every span field', query: `query($id: ID!) { trace(traceId: $id) { traceId spanCount errorCount services startTime spans { ${SPAN_FIELDS} } rootSpan { spanId } } }`, variables: { id: TRACE } },
  { name: 'trace by ID, the bench selection', query: 'query($id: ID!) { trace(traceId: $id) { traceId spanCount spans { spanId parentSpanId name kind startTime duration attributes status { code } } } }', variables: { id: TRACE } },
  { name: 'unknown trace: null, no error', query: 'query($id: ID!) { trace(traceId: $id) { traceId } }', variables: { id: hex(0xdead, 32) } },
  { name: 'malformed trace ID: GW_BAD_ARGUMENT at its path', query: 'query($id: ID!) { trace(traceId: $id) { traceId } ok: services }', variables: { id: 'not-hex' } },
  { name: 'malformed span ID inside a trace: null with the error', query: `{ trace(traceId: "${TRACE}") { traceId span(spanId: "zz") { name } } }` },
  { name: 'missing required variable', query: 'query($id: ID!) { trace(traceId: $id) { traceId } }', variables: {} },
  { name: 'variable of the wrong type', query: 'query($n: Int) { spans(first: $n) { edges { node { spanId } } } }', variables: { n: 'ten' } },
  { name: 'list size over the resolver limit', query: 'query($n: Int) { spans(first: $n) { edges { node { spanId } } } }', variables: { n: 100_000 } },
  {
    name: 'recursive TelemetryFilter variable (stays on graphql-js)',
    query: 'query($f: TelemetryFilter) { spans(filter: $f, first: 10) { edges { node { spanId name } } } }',
    variables: { f: { and: [{ traceId: [TRACE] }, { not: { service: ['nobody'] } }] } },
  },
  {
    name: 'fragments, inline fragments, aliases, @include / @skip, __typename',
    query: `query Named($id: ID!, $with: Boolean!) { __typename t: trace(traceId: $id) { ...T } again: trace(traceId: $id) { spans @skip(if: $with) { name } } }
      fragment T on Trace { __typename traceId spans { ... on Span { spanId first: name } status @include(if: $with) { code } } }`,
    variables: { id: TRACE, with: true },
  },
  { name: 'services and span search with an inline filter', query: `{ services spans(filter: { traceId: ["${TRACE}"] }, first: 5, order: START_DESC) { edges { node { spanId } } pageInfo { hasNextPage } } }` },
];

describe('compiled queries', () => {
  let gw: TestGateway;
  /** graphql.compiledQueries: false — every query on graphql-js. */
  let ordinaryGw: TestGateway;

  before(async () => {
    [gw, ordinaryGw] = await Promise.all([startGateway(), startGateway({ graphql: { compiledQueries: false } })]);
    const t0 = nowNs();
    const spans: SpanSpec[] = [
      { traceId: TRACE, spanId: hex(1, 16), name: 'GET /cart', startNs: t0, attributes: { 'http.route': '/cart' } },
      { traceId: TRACE, spanId: hex(2, 16), parentSpanId: hex(1, 16), name: 'SELECT', startNs: t0 + 1000n, status: 2 },
      { traceId: TRACE, spanId: hex(3, 16), parentSpanId: hex(1, 16), name: 'cache', startNs: t0 + 2000n, status: 1 },
    ];
    for (const g of [gw, ordinaryGw]) {
      assert.equal(await postOtlp(g, '/v1/traces', spansBody('jit-q', spans), TENANT), 200);
      await waitFor(
        () => gql<{ trace: { spanCount: number } | null }>(g.graphqlUrl, `{ trace(traceId: "${TRACE}") { spanCount } }`, {}, { 'x-scope-orgid': TENANT }),
        (r) => r.data?.trace?.spanCount === 3,
        'three spans stored',
      );
    }
  });
  after(async () => {
    await Promise.all([gw?.stop(), ordinaryGw?.stop()]);
  });

  for (const c of CASES) {
    test(`${c.name}: every run answers as graphql-js does`, async () => {
      const ask = (g: TestGateway) => gql(g.graphqlUrl, c.query, c.variables ?? {}, { 'x-scope-orgid': TENANT });
      const expected = await ask(ordinaryGw);
      const runs: GraphQLResponse[] = [];
      for (let i = 0; i < 3; i++) runs.push(await ask(gw));
      for (const [i, r] of runs.entries()) assert.deepEqual(r, expected, `run ${i + 1}`);
    });
  }

  test('the cases cover answers with data and with errors', async () => {
    // The comparison above means something only if both kinds of answer were compared.
    const answers = await Promise.all(CASES.map((c) => gql(gw.graphqlUrl, c.query, c.variables ?? {}, { 'x-scope-orgid': TENANT })));
    const codes = new Set(answers.flatMap((a) => (a.errors ?? []).map((e) => e.extensions?.code)));
    assert.ok(codes.has('GW_BAD_ARGUMENT'), `codes: ${[...codes].join(', ')}`);
    assert.ok(answers.filter((a) => !a.errors && a.data).length >= 5);
    const trace = answers[0]!.data as { trace: { spans: { spanId: string; children: unknown[] }[] } };
    assert.equal(trace.trace.spans.length, 3);
    assert.equal(trace.trace.spans[0]!.children.length, 2);
  });
});
