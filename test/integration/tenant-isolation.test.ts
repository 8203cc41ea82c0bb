// Tenant isolation, generated from the schema: every Query, Subscription and Mutation field is
// called by tenant A with tenant B's IDs and filters, and must answer exactly as it does for IDs
// that do not exist, with none of B's values anywhere in the answer. A field this test does not
// know how to call fails it, asking for a case, so a field added later cannot go unchecked.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
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
import { TEST_MODEL } from '../fixtures/search/test-model.ts';

const MARK = randomBytes(4).toString('hex');
const B = { ruleName: `b-rule-${MARK}`, excType: `BErr${MARK}`, service2: `svc-b2-${MARK}`, service: `svc-b-${MARK}`, attrKey: `b.secret.${MARK}`, attrValue: `b-value-${MARK}`, logBody: `b-log-${MARK}`, metricPrefix: `bonly${MARK}`, opName: `b-op-${MARK}`, traceId: randomTraceId(), spanId: randomSpanId() };
const KEY_A = 'tenant-a-key-0123456789abcdef';
const KEY_B = 'tenant-b-key-0123456789abcdef';
const asA = { 'x-api-key': KEY_A };
const asB = { 'x-api-key': KEY_B };
// A's keys above may change alerting (admin, which mutations need); this one only reads.
const KEY_A_READ = 'tenant-a-read-key-0123456789abcdef';
const asAReadOnly = { 'x-api-key': KEY_A_READ };

/** Values for arguments, by name: what addresses B's data, and what addresses nothing at all. */
type ArgCase = { ofB: () => unknown; absent: () => unknown };
const now = Date.now();
let bLogId = '';
let bMetricName = '';
const ARGS: Record<string, ArgCase> = {
  traceId: { ofB: () => B.traceId, absent: () => randomTraceId() },
  spanId: { ofB: () => B.spanId, absent: () => randomSpanId() },
  id: { ofB: () => bLogId, absent: () => otherId(bLogId) },
  service: { ofB: () => B.service, absent: () => `no-such-service-${MARK}` },
  name: { ofB: () => bMetricName, absent: () => `no_such_metric_${MARK}` },
  key: { ofB: () => B.attrKey, absent: () => `no.such.key.${MARK}` },
  signal: { ofB: () => 'SPAN', absent: () => 'SPAN' },
  from: { ofB: () => new Date(now - 3_600_000).toISOString(), absent: () => new Date(now - 3_600_000).toISOString() },
  to: { ofB: () => new Date(now + 600_000).toISOString(), absent: () => new Date(now + 600_000).toISOString() },
  filter: { ofB: () => ({ service: [B.service] }), absent: () => ({ service: [`no-such-service-${MARK}`] }) },
};
let bRuleId = '';
let bSilenceId = '';
let nextBRuleId = randomUUID();
const range = { from: () => new Date(now - 3_600_000).toISOString(), to: () => new Date(now + 600_000).toISOString() };
const same = (v: () => unknown): ArgCase => ({ ofB: v, absent: v });
/** Arguments of one field that differ from ARGS by name (or are optional but address data): always passed. */
const FIELD_ARGS: Record<string, Record<string, ArgCase>> = {
  alertRule: { id: { ofB: () => bRuleId, absent: () => otherId(bRuleId) } },
  // B's next rule (created while A listens, see SUBSCRIPTION_DRIVERS), by the ID B will give it.
  alertEvents: { filter: { ofB: () => ({ ruleId: [nextBRuleId] }), absent: () => ({ ruleId: [otherId(nextBRuleId)] }) } },
  correlate: { traceId: { ofB: () => B.traceId, absent: () => randomTraceId() } },
  exceptionGroups: { filter: { ofB: () => ({ service: [B.service2] }), absent: () => ({ service: [`no-such-service-${MARK}`] }) }, from: same(range.from), to: same(range.to) },
  serviceGraph: { services: { ofB: () => [B.service], absent: () => [`no-such-service-${MARK}`] }, from: same(range.from), to: same(range.to) },
  serviceDependencies: { service: { ofB: () => B.service, absent: () => `no-such-service-${MARK}` } },
  // The same text both ways: only the filter says whose items are searched.
  search: { text: same(() => `${B.opName} checkout failed`), filter: { ofB: () => ({ service: [B.service] }), absent: () => ({ service: [`no-such-service-${MARK}`] }) } },
  promql: { query: same(() => 'up') },
  similar: { to: { ofB: () => ({ traceId: B.traceId }), absent: () => ({ traceId: randomTraceId() }) } },
};
/** The same ID with its last hex digit changed: well formed, but of nobody. */
const otherId = (id: string) => id.replace(/[0-9a-f](?=[^0-9a-f]*$)/, (c) => (c === '0' ? '1' : '0'));
/** Optional arguments that still address data and so are always passed. */
const ALWAYS = new Set(['filter']);
/** Fields whose answer for B (as B) need not contain a B marker, with the reason. */
const NO_B_MARKER: Record<string, string> = {
  backends: 'the configured backends and their health are the gateway’s, not a tenant’s: there is no B data to find',
  searchIndex: 'counts, not items: that they are the tenant’s own is checked by the searchIndex test below',
};
/** Fields this gateway cannot answer for anyone, with the reason (B's own query errors the same way). */
const NOT_CONFIGURED: Record<string, string> = {
  promql: 'needs storage.read.metrics: prometheus and a running Prometheus; without it every tenant gets GW_NOT_SUPPORTED, checked below to be the same for A and B',
};

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
  const own = FIELD_ARGS[field.name] ?? {};
  for (const arg of field.args) {
    const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
    if (!required && !ALWAYS.has(arg.name) && !(arg.name in own)) continue;
    const c = own[arg.name] ?? ARGS[arg.name];
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

const stripTimes = (v: unknown): unknown => JSON.parse(JSON.stringify(v), (k: string, x: unknown) => (k === 'lastEvaluatedAt' ? undefined : x));

const markersIn = (value: unknown): string[] => {
  const text = JSON.stringify(value);
  return Object.values(B).filter((m) => text.includes(m));
};

const CREATE_RULE = 'mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id } }';
const SILENCE = 'mutation($input: SilenceInput!) { silence(input: $input) { id } }';
/** A rule that is true whenever the service has spans (error rate ≥ 0), firing at once. */
const ruleInput = (name: string, service: string, extra: Record<string, unknown> = {}) => ({
  name, kind: 'SPAN_ERROR_RATE', services: [service], by: ['SERVICE'], threshold: 0, comparator: 'GTE', window: '1h', for: '0s', interval: '1m', ...extra,
});
const silenceInput = (ruleName: string) => ({ matchers: [{ name: 'alertname', type: 'EQUAL', value: ruleName }], duration: '1h', comment: `silence of ${ruleName}` });

function childSpanJson(traceId: string, parentSpanId: string, service: string, excType: string): Record<string, unknown> {
  const t = BigInt(Date.now()) * 1_000_000n;
  return {
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeSpans: [{
        scope: { name: 'test' },
        spans: [{
          traceId, spanId: randomSpanId(), parentSpanId, name: 'child', kind: 3,
          startTimeUnixNano: String(t - 500_000n), endTimeUnixNano: String(t),
          status: { code: 2, message: `${excType} failed` },
          events: [{ name: 'exception', timeUnixNano: String(t), attributes: [
            { key: 'exception.type', value: { stringValue: excType } },
            { key: 'exception.message', value: { stringValue: `${excType} failed` } },
          ] }],
        }],
      }],
    }],
  };
}

const RULE_OF = 'query($id: ID!) { alertRule(id: $id) { id name definition alerts { fingerprint state silencedBy } } }';
const SILENCES = '{ silences { id endsAt matchers { name value } } }';
type Gql = (query: string, variables: Record<string, unknown>, headers: Record<string, string>) => Promise<{ data?: unknown; errors?: unknown }>;
/** The parts of a GraphQL answer two calls must agree on. */
const answer = (r: { data?: unknown; errors?: unknown }) => ({ data: r.data, errors: r.errors });
/** The answer with the ID A itself passed replaced (error messages echo it; that is A's input, not B's data). */
const answerFor = (r: { data?: unknown; errors?: unknown }, id: string) => JSON.parse(JSON.stringify(answer(r)).split(id).join('<id>')) as unknown;

/**
 * One case per mutation: A acts on B's object (or with B's identifiers) and must get exactly what it
 * gets for an object that does not exist; B's rule, its alerts and its silences are unchanged after.
 */
const MUTATION_CASES: Record<string, (call: Gql) => Promise<void>> = {
  async createAlertRule(call) {
    // B's rule ID and name, given by A, create A's own rule as a fresh ID would: no "already exists".
    const withB = await call('mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id name services } }', { input: ruleInput(B.ruleName, 'svc-a', { id: bRuleId }) }, asA);
    const fresh = await call('mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id name services } }', { input: ruleInput(`${B.ruleName}-x`, 'svc-a', { id: otherId(bRuleId) }) }, asA);
    assert.equal(withB.errors, undefined, `A creating a rule with B's ID: ${JSON.stringify(withB.errors)}`);
    assert.equal(fresh.errors, undefined);
    for (const id of [bRuleId, otherId(bRuleId)]) assert.equal((await call('mutation($id: ID!) { deleteAlertRule(id: $id) }', { id }, asA)).errors, undefined);
  },
  async updateAlertRule(call) {
    const q = 'mutation($id: ID!, $input: AlertRuleInput!) { updateAlertRule(id: $id, input: $input) { id name } }';
    const input = ruleInput('taken-over', 'svc-a');
    assert.deepEqual(answerFor(await call(q, { id: bRuleId, input }, asA), bRuleId), answerFor(await call(q, { id: otherId(bRuleId), input }, asA), otherId(bRuleId)));
  },
  async deleteAlertRule(call) {
    const q = 'mutation($id: ID!) { deleteAlertRule(id: $id) }';
    assert.deepEqual(answerFor(await call(q, { id: bRuleId }, asA), bRuleId), answerFor(await call(q, { id: otherId(bRuleId) }, asA), otherId(bRuleId)));
  },
  async silence(call) {
    // A's silence with B's matchers silences nothing of B (B's alert keeps silencedBy = B's silence only).
    const r = await call('mutation($input: SilenceInput!) { silence(input: $input) { id } }', { input: silenceInput(B.ruleName) }, asA);
    assert.equal(r.errors, undefined);
    const aSilence = (r.data as { silence: { id: string } }).silence.id;
    await gwTick();
    const rule = (await call(RULE_OF, { id: bRuleId }, asB)).data as { alertRule: { alerts: { silencedBy: string[] }[] } };
    for (const a of rule.alertRule.alerts) assert.ok(!a.silencedBy.includes(aSilence), "A's silence silenced B's alert");
    assert.equal((await call('mutation($id: ID!) { unsilence(id: $id) { id } }', { id: aSilence }, asA)).errors, undefined);
  },
  async unsilence(call) {
    const q = 'mutation($id: ID!) { unsilence(id: $id) { id endsAt } }';
    assert.deepEqual(answerFor(await call(q, { id: bSilenceId }, asA), bSilenceId), answerFor(await call(q, { id: otherId(bSilenceId) }, asA), otherId(bSilenceId)));
  },
};
let gwTick: () => Promise<void> = async () => {};

describe('tenant isolation, generated from the schema', () => {
  let gw: TestGateway;
  let schema: GraphQLSchema;

  before(async () => {
    gw = await startGateway({
      auth: {
        mode: 'apiKey',
        apiKeys: [
          { name: 'a', hash: hashApiKey(KEY_A), tenant: 'tenant-a', scopes: ['ingest', 'query', 'admin'] },
          { name: 'b', hash: hashApiKey(KEY_B), tenant: 'tenant-b', scopes: ['ingest', 'query', 'admin'] },
          { name: 'a-read', hash: hashApiKey(KEY_A_READ), tenant: 'tenant-a', scopes: ['query'] },
        ],
      },
      limits: { graphql: { maxCost: 100_000_000, maxDepth: 20 } },
      search: TEST_MODEL,
      // The engine evaluates only when this test calls tick().
      alerting: { tickMs: 0 },
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
    // A second service under B's span, failing with an exception: B's service graph, exception groups and correlation.
    assert.equal((await post('/v1/traces', childSpanJson(B.traceId, B.spanId, B.service2, B.excType), asB)).status, 200);
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
    await waitFor(() => gqlData<{ trace: { spanCount: number } | null }>(gw.graphqlUrl, 'query($id: ID!) { trace(traceId: $id) { spanCount } }', { id: B.traceId }, asB), (d) => d.trace?.spanCount === 2, "B's trace");
    // B's alert rule (always true over B's spans) fires at the first tick; a silence of B matches it.
    bRuleId = (await gqlData<{ createAlertRule: { id: string } }>(gw.graphqlUrl, CREATE_RULE, { input: ruleInput(B.ruleName, B.service) }, asB)).createAlertRule.id;
    bSilenceId = (await gqlData<{ silence: { id: string } }>(gw.graphqlUrl, SILENCE, { input: silenceInput(B.ruleName) }, asB)).silence.id;
    await gqlData(gw.graphqlUrl, CREATE_RULE, { input: ruleInput('a-rule', 'svc-a') }, asA);
    await gw.app.internals.alerting()!.tick();
    await waitFor(() => gqlData<{ alerts: { state: string }[] }>(gw.graphqlUrl, '{ alerts { state } }', {}, asB), (d) => d.alerts.some((a) => a.state === 'FIRING'), "B's firing alert");
    await waitFor(() => gqlData<{ searchIndex: { pending: number } }>(gw.graphqlUrl, '{ searchIndex { pending } }', {}, asB), (d) => d.searchIndex.pending === 0, 'search index caught up');
    gwTick = () => gw.app.internals.alerting()!.tick();
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
      if (field.name in NOT_CONFIGURED) {
        const aWithB = await gql(gw.graphqlUrl, ofB.query, ofB.variables, asA);
        assert.ok(bSelf.errors?.length, `Query.${field.name} is listed as not configured but answered B`);
        assert.deepEqual({ data: aWithB.data, errors: aWithB.errors }, { data: bSelf.data, errors: bSelf.errors }, `Query.${field.name}: A's answer differs from B's own`);
        continue;
      }
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

  /** How to make B's and A's records arrive for one subscription field (default: spans or logs over OTLP). */
  type Driver = { own?: () => { query: string; variables: Record<string, unknown> }; publish: () => Promise<void> };
  const post = (path: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${gw.otlpHttp}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const defaultDriver = (name: string): Driver => ({
    async publish() {
      const logs = name.toLowerCase().includes('log');
      await post(logs ? '/v1/logs' : '/v1/traces', logs ? logsJson([{ body: B.logBody, service: B.service }]) : spansJson([{ service: B.service, attributes: { [B.attrKey]: B.attrValue } }]), asB);
      await post(logs ? '/v1/logs' : '/v1/traces', logs ? logsJson([{ body: 'a-log', service: 'svc-a' }]) : spansJson([{ service: 'svc-a' }]), asA);
    },
  });
  const SUBSCRIPTION_DRIVERS: Record<string, Driver> = {
    // A new rule of B (the ID A filters on) and of A each fire at the next tick.
    alertEvents: {
      async publish() {
        const n = randomBytes(3).toString('hex');
        await gqlData(gw.graphqlUrl, CREATE_RULE, { input: ruleInput(`${B.ruleName}-${n}`, B.service, { id: nextBRuleId }) }, asB);
        await gqlData(gw.graphqlUrl, CREATE_RULE, { input: ruleInput(`a-rule-${n}`, 'svc-a') }, asA);
        await gwTick();
        // B's own rule did change state, so the filter A used had something of B's to deliver.
        const h = await gqlData<{ alertHistory: { ruleName: string }[] }>(gw.graphqlUrl, 'query($id: ID) { alertHistory(ruleId: $id) { ruleName } }', { id: nextBRuleId }, asB);
        assert.ok(h.alertHistory.some((t) => t.ruleName.includes(MARK)), "B's new rule changed state");
        nextBRuleId = randomUUID();
      },
    },
    // B's and A's metric points; A's own subscription names A's metric.
    tailMetrics: {
      own: () => ({ query: 'subscription($name: String!) { tailMetrics(name: $name) { __typename } }', variables: { name: bMetricName.replace(B.metricPrefix, 'aonly') } }),
      async publish() {
        await sendMetrics('http-json', gw, { service: B.service, prefix: B.metricPrefix, headers: asB });
        await sendMetrics('http-json', gw, { service: 'svc-a', prefix: 'aonly', headers: asA });
      },
    },
  };

  test('searchIndex counts only the tenant’s own records, and shows gateway-wide counts to no one without admin', async () => {
    const STATUS = '{ searchIndex { pending indexed skipped embedded cacheHits annSize } }';
    type Status = { searchIndex: { pending: number; indexed: number; skipped: number; embedded: number | null; cacheHits: number | null; annSize: number | null } };
    const aBefore = await gqlData<Status>(gw.graphqlUrl, STATUS, {}, asAReadOnly);
    const bBefore = await gqlData<Status>(gw.graphqlUrl, STATUS, {}, asB);
    assert.deepEqual([aBefore.searchIndex.embedded, aBefore.searchIndex.cacheHits, aBefore.searchIndex.annSize], [null, null, null]);
    const spans = Array.from({ length: 7 }, (_, i) => ({ service: B.service, name: `b-more-${MARK}-${i}` }));
    const res = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', ...asB }, body: JSON.stringify(spansJson(spans)) });
    assert.equal(res.status, 200);
    await waitFor(
      () => gqlData<Status>(gw.graphqlUrl, STATUS, {}, asB),
      (d) => d.searchIndex.pending === 0 && d.searchIndex.indexed + d.searchIndex.skipped >= bBefore.searchIndex.indexed + bBefore.searchIndex.skipped + 7,
      'B’s new spans indexed',
    );
    assert.deepEqual(await gqlData<Status>(gw.graphqlUrl, STATUS, {}, asAReadOnly), aBefore, 'A’s counts do not move with B’s records');
  });

  test('log IDs, stored and live, do not count B’s records: the gaps in A’s IDs tell A nothing of B’s volume', async () => {
    const post = (body: unknown, headers: Record<string, string>) =>
      fetch(`${gw.otlpHttp}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const LOG_IDS = 'query($body: String!) { logs(first: 10, filter: { bodyContains: $body }) { nodes { id } } }';
    const storedId = async (body: string) => {
      const d = await waitFor(() => gqlData<{ logs: { nodes: { id: string }[] } }>(gw.graphqlUrl, LOG_IDS, { body }, asA), (x) => x.logs.nodes.length === 1, `A's log ${body}`);
      return BigInt(d.logs.nodes[0]!.id);
    };
    // A tails its logs while B's records go through the same gateway.
    const client = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, connectionParams: asA, retryAttempts: 0 });
    const live: string[] = [];
    const unsubscribe = client.subscribe(
      { query: `subscription { tailLogs(filter: { service: ["svc-a-ids"] }) { log { id } } }` },
      { next: (v) => void live.push((v.data as { tailLogs: { log: { id: string } } }).tailLogs.log.id), error: (e) => assert.fail(String(e)), complete: () => {} },
    );
    const bTail = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, connectionParams: asB, retryAttempts: 0 });
    const bLive: unknown[] = [];
    const bUnsubscribe = bTail.subscribe({ query: 'subscription { tailLogs { log { id } } }' }, { next: (v) => void bLive.push(v), error: () => {}, complete: () => {} });
    try {
      await new Promise((r) => setTimeout(r, 200)); // subscriptions registered before publishing
      assert.equal((await post(logsJson([{ body: `a-first-${MARK}`, service: 'svc-a-ids' }]), asA)).status, 200);
      const first = await storedId(`a-first-${MARK}`);
      const bLogs = Array.from({ length: 25 }, (_, i) => ({ body: `b-between-${MARK}-${i}`, service: B.service }));
      assert.equal((await post(logsJson(bLogs), asB)).status, 200);
      await waitFor(async () => bLive.length, (n) => n >= 25, "B's live logs");
      assert.equal((await post(logsJson([{ body: `a-second-${MARK}`, service: 'svc-a-ids' }]), asA)).status, 200);
      const second = await storedId(`a-second-${MARK}`);
      assert.equal(second - first, 1n, 'A’s next stored log ID follows its previous one');
      await waitFor(async () => live.length, (n) => n >= 2, "A's live logs");
      const [a, b] = live.map((id) => /^tail:([\w-]{8}):(\d+)$/.exec(id));
      assert.ok(a && b, `live IDs: ${live.join(', ')}`);
      assert.equal(a[1], b[1]);
      assert.equal(Number(b[2]) - Number(a[2]), 1, 'A’s live IDs count only what A’s subscription was sent');
    } finally {
      unsubscribe();
      bUnsubscribe();
      await client.dispose();
      await bTail.dispose();
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
        const driver = SUBSCRIPTION_DRIVERS[field.name] ?? defaultDriver(field.name);
        const ownOp = driver.own?.() ?? { query: operationFor('subscription', { ...field, args: [] }, which).query, variables: {} };
        const unsubscribe = [
          client.subscribe({ query: op.query, variables: op.variables }, { next: (v) => void withB.push(v), error: (e) => void withB.push({ error: e }), complete: () => {} }),
          client.subscribe(ownOp, { next: (v) => void own.push(v), error: (e) => void own.push({ error: e }), complete: () => {} }),
        ];
        try {
          await new Promise((r) => setTimeout(r, 200)); // subscriptions registered before publishing
          await driver.publish();
          await waitFor(async () => own.length, (n) => n > 0, `Subscription.${field.name}: A's own record`);
          assert.ok(!JSON.stringify(own).includes('"error"'), `Subscription.${field.name}: A's own subscription failed: ${JSON.stringify(own)}`);
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

  test('every Mutation field, called by A on B’s objects, fails as for nonexistent ones and leaves B’s unchanged', async () => {
    const call: Gql = (query, variables, headers) => gql(gw.graphqlUrl, query, variables, headers);
    const bState = async () => ({ rule: answer(await call(RULE_OF, { id: bRuleId }, asB)), silences: answer(await call(SILENCES, {}, asB)) });
    const fields = Object.values(schema.getMutationType()?.getFields() ?? {});
    assert.ok(fields.length > 0);
    for (const field of fields) {
      const run = MUTATION_CASES[field.name];
      assert.ok(run, `Mutation.${field.name}: add an isolation case to MUTATION_CASES in test/integration/tenant-isolation.test.ts (create as B, then read/update/delete as A must fail as for a nonexistent ID)`);
      const before = await bState();
      assert.ok(markersIn(before).length > 0, "B's rule and silence exist before the case");
      await run(call);
      await gwTick();
      const afterState = await bState();
      // lastEvaluatedAt moves with ticks; everything else of B's must be as it was.
      assert.deepEqual(stripTimes(afterState), stripTimes(before), `Mutation.${field.name}: A changed B's rule, alerts or silences`);
    }
  });
});
