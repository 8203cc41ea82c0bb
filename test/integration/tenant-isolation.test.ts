// Tenant isolation, generated from the schema: every Query, Subscription and Mutation field is
// called by tenant A with tenant B's IDs and filters, and must answer exactly as it does for IDs
// that do not exist, with none of B's values anywhere in the answer. A field this test does not
// know how to call fails it, asking for a case, so a field added later cannot go unchecked.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  isLeafType,
  isNonNullType,
  isObjectType,
  type IntrospectionQuery,
} from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql, gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { sendLogs, sendMetrics, sendTrace } from '../helpers/otel-sdk.ts';
import { logsJson, randomSpanId, randomTraceId, spansJson } from '../helpers/otlp-bodies.ts';
import { hashApiKey } from '../../src/auth/api-keys.ts';

const MARK = randomBytes(4).toString('hex');
const B = { service: `svc-b-${MARK}`, attrKey: `b.secret.${MARK}`, attrValue: `b-value-${MARK}`, logBody: `b-log-${MARK}`, metricPrefix: `bonly${MARK}`, opName: `b-op-${MARK}`, traceId: randomTraceId(), spanId: randomSpanId() };
const KEY_A = 'tenant-a-key-0123456789abcdef';
const KEY_B = 'tenant-b-key-0123456789abcdef';
const asA = { 'x-api-key': KEY_A };
const asB = { 'x-api-key': KEY_B };

/** Values for arguments, by name: what addresses B's data, and what addresses nothing at all. */
type ArgCase = { ofB: () => unknown; absent: () => unknown };
const now = Date.now();
let bLogId = '';
let bMetricName = '';
const ARGS: Record<string, ArgCase> = {
  traceId: { ofB: () => B.traceId, absent: () => randomTraceId() },
  spanId: { ofB: () => B.spanId, absent: () => randomSpanId() },
  id: { ofB: () => bLogId, absent: () => bLogId.replace(/[0-9a-f](?=[^0-9a-f]*$)/, (c) => (c === '0' ? '1' : '0')) },
  service: { ofB: () => B.service, absent: () => `no-such-service-${MARK}` },
  name: { ofB: () => bMetricName, absent: () => `no_such_metric_${MARK}` },
  key: { ofB: () => B.attrKey, absent: () => `no.such.key.${MARK}` },
  signal: { ofB: () => 'SPAN', absent: () => 'SPAN' },
  from: { ofB: () => new Date(now - 3_600_000).toISOString(), absent: () => new Date(now - 3_600_000).toISOString() },
  to: { ofB: () => new Date(now + 600_000).toISOString(), absent: () => new Date(now + 600_000).toISOString() },
  filter: { ofB: () => ({ service: [B.service] }), absent: () => ({ service: [`no-such-service-${MARK}`] }) },
};
/** Optional arguments that still address data and so are always passed. */
const ALWAYS = new Set(['filter']);
/** Mutations need their own cases (create as B, then read/update/delete as A); none exist yet. */
const MUTATION_CASES: Record<string, never> = {};
/** Fields whose answer for B (as B) need not contain a B marker, with the reason. */
const NO_B_MARKER: Record<string, string> = {};

function selection(type: GraphQLNamedType, depth: number): string {
  if (isLeafType(type)) return '';
  if (!isObjectType(type) || depth === 0) return '{ __typename }';
  const parts: string[] = [];
  for (const f of Object.values((type as GraphQLObjectType).getFields())) {
    if (f.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) continue;
    const inner = getNamedType(f.type);
    if (isLeafType(inner)) parts.push(f.name);
    else if (depth > 1) parts.push(`${f.name} ${selection(inner, depth - 1)}`);
  }
  return `{ ${parts.join(' ') || '__typename'} }`;
}

/** The operation for one field, or a failure asking for a case. */
function operationFor(kind: 'query' | 'subscription', field: GraphQLField<unknown, unknown>, which: 'ofB' | 'absent'): { query: string; variables: Record<string, unknown> } {
  const defs: string[] = [];
  const uses: string[] = [];
  const variables: Record<string, unknown> = {};
  for (const arg of field.args) {
    const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
    if (!required && !ALWAYS.has(arg.name)) continue;
    const c = ARGS[arg.name];
    if (!c) assert.fail(`${kind === 'query' ? 'Query' : 'Subscription'}.${field.name}: add a case for its argument "${arg.name}" to ARGS in test/integration/tenant-isolation.test.ts`);
    defs.push(`$${arg.name}: ${String(arg.type)}`);
    uses.push(`${arg.name}: $${arg.name}`);
    variables[arg.name] = c[which]();
  }
  const sel = selection(getNamedType(field.type), 3);
  return {
    query: `${kind}${defs.length ? `(${defs.join(', ')})` : ''} { ${field.name}${uses.length ? `(${uses.join(', ')})` : ''} ${sel} }`,
    variables,
  };
}

const markersIn = (value: unknown): string[] => {
  const text = JSON.stringify(value);
  return Object.values(B).filter((m) => text.includes(m));
};

describe('tenant isolation, generated from the schema', () => {
  let gw: TestGateway;
  let schema: GraphQLSchema;

  before(async () => {
    gw = await startGateway({
      auth: {
        mode: 'apiKey',
        apiKeys: [
          { name: 'a', hash: hashApiKey(KEY_A), tenant: 'tenant-a', scopes: ['ingest', 'query'] },
          { name: 'b', hash: hashApiKey(KEY_B), tenant: 'tenant-b', scopes: ['ingest', 'query'] },
        ],
      },
      limits: { graphql: { maxCost: 100_000_000, maxDepth: 20 } },
    });
    // Both tenants hold the same kinds of data; B's carries unique markers.
    for (const [who, headers, service] of [['a', asA, 'svc-a'], ['b', asB, B.service]] as const) {
      await sendTrace('http-proto', gw, { service, headers });
      await sendLogs('grpc', gw, { service, headers });
      await sendMetrics('http-json', gw, { service, prefix: who === 'b' ? B.metricPrefix : 'aonly', headers });
    }
    const post = (path: string, body: unknown, headers: Record<string, string>) =>
      fetch(`${gw.otlpHttp}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    assert.equal((await post('/v1/traces', spansJson([{ traceId: B.traceId, spanId: B.spanId, name: B.opName, service: B.service, attributes: { [B.attrKey]: B.attrValue } }]), asB)).status, 200);
    assert.equal((await post('/v1/logs', logsJson([{ body: B.logBody, service: B.service, attributes: { [B.attrKey]: B.attrValue }, traceId: B.traceId }]), asB)).status, 200);
    assert.equal((await post('/v1/traces', spansJson([{ service: 'svc-a', attributes: { 'a.key': 'a-value' } }]), asA)).status, 200);
    const logs = await waitFor(
      () => gqlData<{ logs: { nodes: { id: string; body: unknown }[] } }>(gw.graphqlUrl, '{ logs(first: 100) { nodes { id body } } }', {}, asB),
      (d) => d.logs.nodes.some((n) => n.body === B.logBody),
      "B's log",
    );
    bLogId = logs.logs.nodes.find((n) => n.body === B.logBody)!.id;
    const metrics = await waitFor(
      () => gqlData<{ metrics: { name: string }[] }>(gw.graphqlUrl, '{ metrics { name } }', {}, asB),
      (d) => d.metrics.some((m) => m.name.startsWith(B.metricPrefix)),
      "B's metrics",
    );
    bMetricName = metrics.metrics.find((m) => m.name.startsWith(B.metricPrefix))!.name;
    await waitFor(() => gqlData<{ trace: { spanCount: number } | null }>(gw.graphqlUrl, 'query($id: ID!) { trace(traceId: $id) { spanCount } }', { id: B.traceId }, asB), (d) => d.trace?.spanCount === 1, "B's trace");
    const intro = await gqlData<IntrospectionQuery>(gw.graphqlUrl, getIntrospectionQuery(), {}, asA);
    schema = buildClientSchema(intro);
  });
  after(() => gw.stop());

  test('every Query field answers tenant A for B’s IDs and filters exactly as for nonexistent ones', async () => {
    const fields = Object.values(schema.getQueryType()!.getFields());
    assert.ok(fields.length >= 10, 'the schema was introspected');
    for (const field of fields) {
      const ofB = operationFor('query', field, 'ofB');
      const absent = operationFor('query', field, 'absent');
      const bSelf = await gql(gw.graphqlUrl, ofB.query, ofB.variables, asB);
      assert.equal(bSelf.errors, undefined, `Query.${field.name} as B: ${JSON.stringify(bSelf.errors)}\n${ofB.query}`);
      if (!(field.name in NO_B_MARKER)) {
        assert.ok(markersIn(bSelf.data).length > 0, `Query.${field.name}: B's own query finds none of B's data, so the case proves nothing; fix ARGS or list it in NO_B_MARKER with a reason`);
      }
      const aWithB = await gql(gw.graphqlUrl, ofB.query, ofB.variables, asA);
      const aAbsent = await gql(gw.graphqlUrl, absent.query, absent.variables, asA);
      assert.deepEqual(markersIn(aWithB), [], `Query.${field.name}: tenant A sees B's data`);
      assert.deepEqual({ data: aWithB.data, errors: aWithB.errors }, { data: aAbsent.data, errors: aAbsent.errors }, `Query.${field.name}: A's answer for B's IDs differs from the answer for nonexistent ones`);
    }
  });

  test('every Subscription field delivers nothing of B to A, while A’s own records arrive', async () => {
    const fields = Object.values(schema.getSubscriptionType()?.getFields() ?? {});
    for (const field of fields) {
      for (const which of ['ofB', 'absent'] as const) {
        const op = operationFor('subscription', field, which);
        // A subscribes with B's filter (and, to know the tail is live, a second one without a filter).
        const client = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, connectionParams: asA, retryAttempts: 0 });
        const withB: unknown[] = [];
        const own: unknown[] = [];
        const unsubscribe = [
          client.subscribe({ query: op.query, variables: op.variables }, { next: (v) => void withB.push(v), error: () => {}, complete: () => {} }),
          client.subscribe({ query: operationFor('subscription', { ...field, args: [] }, which).query }, { next: (v) => void own.push(v), error: () => {}, complete: () => {} }),
        ];
        try {
          await new Promise((r) => setTimeout(r, 200)); // subscriptions registered before publishing
          const path = field.name.toLowerCase().includes('log') ? '/v1/logs' : '/v1/traces';
          const ofB = path === '/v1/logs' ? logsJson([{ body: B.logBody, service: B.service }]) : spansJson([{ service: B.service, attributes: { [B.attrKey]: B.attrValue } }]);
          const ofA = path === '/v1/logs' ? logsJson([{ body: 'a-log', service: 'svc-a' }]) : spansJson([{ service: 'svc-a' }]);
          await fetch(`${gw.otlpHttp}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...asB }, body: JSON.stringify(ofB) });
          await fetch(`${gw.otlpHttp}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...asA }, body: JSON.stringify(ofA) });
          await waitFor(async () => own.length, (n) => n > 0, `Subscription.${field.name}: A's own record`);
          assert.deepEqual(markersIn(withB), [], `Subscription.${field.name}: A received B's data`);
          assert.deepEqual(markersIn(own), [], `Subscription.${field.name}: A received B's data`);
          assert.equal(withB.length, 0, `Subscription.${field.name} with B's filter delivered events to A`);
        } finally {
          unsubscribe.forEach((u) => u());
          await client.dispose();
        }
      }
    }
  });

  test('every Mutation field has an isolation case', () => {
    for (const field of Object.values(schema.getMutationType()?.getFields() ?? {})) {
      assert.ok(field.name in MUTATION_CASES, `Mutation.${field.name}: add an isolation case to MUTATION_CASES in test/integration/tenant-isolation.test.ts (create as B, then read/update/delete as A must fail as for a nonexistent ID)`);
    }
  });
});
