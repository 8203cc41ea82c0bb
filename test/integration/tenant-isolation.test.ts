// Tenant isolation, generated from the schema. Every argument of every Query and Subscription field,
// required or optional, and every required argument of a nested field, has a case here: a value
// that addresses tenant B's data, one that addresses nothing, and where both tenants can hold it one
// that addresses data both hold (the same trace ID, span ID, log number, service, metric name, rule
// ID, attribute key). Each field is called once with its required arguments and once more per
// further case of each argument. For B's values, tenant A must get exactly what it gets for values
// of nobody, with none of B's markers anywhere. A's answers for the shared values are taken before B
// sends anything and must not move once B's data sits under the same IDs (a leak in what A's answer
// adds up: spanCount, services, service-graph edges, series sums). Subscriptions run the same cases,
// live and replayed (`since`). An argument this test has no case for fails it, asking for one, so a
// field or argument added later cannot go unchecked. Mutations have one hand-written case each.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  astFromValue,
  type GraphQLArgument,
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
  print,
} from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql, gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { sendLogs, sendMetrics, sendTrace } from '../helpers/otel-sdk.ts';
import { keyValues, logsJson, randomSpanId, randomTraceId, spansJson } from '../helpers/otlp-bodies.ts';
import { hashApiKey } from '../../src/auth/api-keys.ts';
import { TEST_MODEL } from '../fixtures/search/test-model.ts';

const MARK = randomBytes(4).toString('hex');
/** B's values: any of them in an answer to A is a leak. */
const B = {
  ruleName: `b-rule-${MARK}`, excType: `BErr${MARK}`, service2: `svc-b2-${MARK}`, service: `svc-b-${MARK}`, attrKey: `b.secret.${MARK}`, attrValue: `b-value-${MARK}`,
  logBody: `b-log-${MARK}`, metricPrefix: `bonly${MARK}`, opName: `b-op-${MARK}`, traceId: randomTraceId(), spanId: randomSpanId(), sharedChildSpanId: randomSpanId(),
};
/** Values both tenants hold (none contains a B marker). A sends its data under them first, B after. */
const SHARED = {
  traceId: randomTraceId(), spanId: randomSpanId(), service: `svc-shared-${MARK}`, opName: `shared-op-${MARK}`, key: `shared.key.${MARK}`, value: `shared-value-${MARK}`,
  logBody: `shared-log-${MARK}`, metricPrefix: `shared${MARK}`, excType: `SharedErr${MARK}`, ruleId: randomUUID(),
};
const KEY_A = 'tenant-a-key-0123456789abcdef';
const KEY_B = 'tenant-b-key-0123456789abcdef';
const asA = { 'x-api-key': KEY_A };
const asB = { 'x-api-key': KEY_B };
// A's keys above may change alerting (admin, which mutations need); this one only reads, and sees no gateway-wide counts.
const KEY_A_READ = 'tenant-a-read-key-0123456789abcdef';
const asAReadOnly = { 'x-api-key': KEY_A_READ };

type Which = 'ofB' | 'absent' | 'shared';
/**
 * Values for one argument: what addresses B's data, what addresses nothing, and (when both tenants
 * can hold it) what addresses data both hold. `same` cases address nobody in particular (a time
 * range, a signal): the value is the same three ways. `only` restricts a filter case to spans or
 * logs (the other signal refuses its fields); `alone` calls the field with this argument and its
 * required ones only, not with the field's other case arguments.
 */
type ArgCase = { ofB: () => unknown; absent: () => unknown; shared?: () => unknown; same?: true; only?: 'spans' | 'logs'; alone?: true };
type Cases = ArgCase | ArgCase[];
type ArgSet = Record<string, ArgCase>;
const same = (v: () => unknown): ArgCase => ({ ofB: v, absent: v, shared: v, same: true });
const alone = (c: ArgCase): ArgCase => ({ ...c, alone: true });
const now = Date.now();
const range = { from: () => new Date(now - 3_600_000).toISOString(), to: () => new Date(now + 600_000).toISOString() };
const none = (what: string) => () => `no-such-${what}-${MARK}`;
/** The same ID with its last hex digit changed: well formed, but of nobody. */
const otherId = (id: string) => id.replace(/[0-9a-f](?=[^0-9a-f]*$)/, (c) => (c === '0' ? '1' : '0'));

/** Filled in by `before`, once the data is in. */
const ids = { bLogId: '', sharedLogId: '', bMetricName: '', sharedMetricName: '', bRuleId: '', bSilenceId: '', nextBRuleId: randomUUID() };

const TRACE_ID: ArgCase = { ofB: () => B.traceId, absent: () => randomTraceId(), shared: () => SHARED.traceId };
const SPAN_ID: ArgCase = { ofB: () => B.spanId, absent: () => randomSpanId(), shared: () => SHARED.spanId };
// Log IDs count per tenant: B's is one A does not reach; the shared one is A's newest, which B also has (another log).
const LOG_ID: ArgCase = { ofB: () => ids.bLogId, absent: () => String(BigInt(ids.bLogId) + 1_000_000n), shared: () => ids.sharedLogId };
const SERVICE: ArgCase = { ofB: () => B.service, absent: none('service'), shared: () => SHARED.service };

/** Cases by argument name (nested fields' required arguments too). */
const ARGS: Record<string, Cases> = {
  traceId: TRACE_ID,
  spanId: SPAN_ID,
  id: LOG_ID,
  logId: LOG_ID,
  service: SERVICE,
  name: { ofB: () => ids.bMetricName, absent: () => `no_such_metric_${MARK}`, shared: () => ids.sharedMetricName },
  key: { ofB: () => B.attrKey, absent: () => `no.such.key.${MARK}`, shared: () => SHARED.key },
  prefix: { ofB: () => B.attrKey, absent: () => `no.such.${MARK}`, shared: () => SHARED.key },
  signal: ['SPAN', 'LOG', 'METRIC', 'RESOURCE'].map((s) => same(() => s)),
  labels: { ofB: () => ({ 'service.name': B.service }), absent: () => ({ 'service.name': `no-such-service-${MARK}` }), shared: () => ({ 'service.name': SHARED.service }) },
  // [] adds every series of the name into one: a series of B's would change A's sums.
  groupBy: [same(() => ['service.name']), same(() => [])],
  ruleId: { ofB: () => ids.bRuleId, absent: () => otherId(ids.bRuleId), shared: () => SHARED.ruleId },
  state: same(() => ['FIRING']),
  from: same(range.from),
  to: same(range.to),
  // Tails replay the stored records from here (src/tail/replay.ts, a store read), then go live.
  since: same(range.from),
  exact: same(() => true),
  signals: same(() => ['SPAN', 'LOG', 'TRACE', 'EXCEPTION']),
  includeExpired: same(() => true),
};
/** Cases by input type, before ARGS: the name says less than the type (`filter`; `to` of similar is no time). */
const TYPE_ARGS: Record<string, Cases> = {
  TelemetryFilter: [
    { ofB: () => ({ service: [B.service] }), absent: () => ({ service: [`no-such-service-${MARK}`] }), shared: () => ({ service: [SHARED.service] }) },
    { ofB: () => ({ traceId: [B.traceId] }), absent: () => ({ traceId: [randomTraceId()] }), shared: () => ({ traceId: [SHARED.traceId] }) },
    { ofB: () => ({ spanId: [B.spanId] }), absent: () => ({ spanId: [randomSpanId()] }), shared: () => ({ spanId: [SHARED.spanId] }) },
    { ofB: () => ({ name: [B.opName] }), absent: () => ({ name: [`no-such-op-${MARK}`] }), shared: () => ({ name: [SHARED.opName] }), only: 'spans' },
    {
      ofB: () => ({ attributes: [{ key: B.attrKey, eq: B.attrValue }] }),
      absent: () => ({ attributes: [{ key: `no.such.key.${MARK}`, exists: true }] }),
      shared: () => ({ attributes: [{ key: SHARED.key, exists: true }] }),
    },
    { ofB: () => ({ bodyContains: B.logBody }), absent: () => ({ bodyContains: `no-such-body-${MARK}` }), shared: () => ({ bodyContains: SHARED.logBody }), only: 'logs' },
    {
      ofB: () => ({ minSeverityLevel: 'ERROR', service: [B.service] }),
      absent: () => ({ minSeverityLevel: 'ERROR', service: [`no-such-service-${MARK}`] }),
      shared: () => ({ minSeverityLevel: 'ERROR', service: [SHARED.service] }),
      only: 'logs',
    },
  ],
  SearchFilter: { ofB: () => ({ service: [B.service] }), absent: () => ({ service: [`no-such-service-${MARK}`] }), shared: () => ({ service: [SHARED.service] }) },
  ExceptionGroupFilter: [
    { ofB: () => ({ service: [B.service2] }), absent: () => ({ service: [`no-such-service-${MARK}`] }) },
    { ofB: () => ({ traceId: [B.traceId] }), absent: () => ({ traceId: [randomTraceId()] }), shared: () => ({ traceId: [SHARED.traceId] }) },
    { ofB: () => ({ type: [B.excType] }), absent: () => ({ type: [`NoSuchErr${MARK}`] }), shared: () => ({ type: [SHARED.excType] }) },
  ],
  SimilarTo: [
    { ofB: () => ({ traceId: B.traceId }), absent: () => ({ traceId: randomTraceId() }), shared: () => ({ traceId: SHARED.traceId }) },
    { ofB: () => ({ spanId: B.spanId }), absent: () => ({ spanId: randomSpanId() }), shared: () => ({ spanId: SHARED.spanId }) },
    { ofB: () => ({ logId: ids.bLogId }), absent: () => ({ logId: String(BigInt(ids.bLogId) + 1_000_000n) }), shared: () => ({ logId: ids.sharedLogId }) },
  ],
  // B's next rule (created while A listens, see SUBSCRIPTION_DRIVERS), by the ID B will give it.
  AlertEventFilter: { ofB: () => ({ ruleId: [ids.nextBRuleId] }), absent: () => ({ ruleId: [otherId(ids.nextBRuleId)] }) },
};
/** Cases of one field that differ from ARGS, or that are passed in every call of the field (not only as a variant). */
const FIELD_ARGS: Record<string, Record<string, Cases>> = {
  alertRule: { id: { ofB: () => ids.bRuleId, absent: () => otherId(ids.bRuleId), shared: () => SHARED.ruleId } },
  // A trace ID, or a span ID or log ID alone; with a span, see FIELD_SETS.
  correlate: { traceId: TRACE_ID, spanId: alone(SPAN_ID), logId: alone(LOG_ID) },
  exceptionGroups: { from: same(range.from), to: same(range.to) },
  serviceGraph: { services: { ofB: () => [B.service], absent: () => [`no-such-service-${MARK}`], shared: () => [SHARED.service] }, from: same(range.from), to: same(range.to) },
  serviceDependencies: { service: SERVICE },
  // The same text all ways: only the filter says whose items are searched.
  search: { text: same(() => `${B.opName} checkout failed`) },
  promql: { query: same(() => 'up') },
};
/** B's span in the trace both tenants hold, by that trace's ID. */
const B_SPAN_OF_SHARED_TRACE: ArgSet = { traceId: same(() => SHARED.traceId), spanId: { ofB: () => B.sharedChildSpanId, absent: () => randomSpanId() } };
/** Further argument sets of one field. */
const FIELD_SETS: Record<string, () => ArgSet[]> = {
  span: () => [B_SPAN_OF_SHARED_TRACE],
  correlate: () => [{ traceId: TRACE_ID, spanId: SPAN_ID }, B_SPAN_OF_SHARED_TRACE],
};
/** Optional arguments that still address data and so are passed in every call of a field. */
const ALWAYS = new Set(['filter']);
/** Arguments that address no data, with the reason; they keep their defaults. Any other argument needs a case. */
const NEUTRAL: Record<string, string> = {
  limit: 'a page size', first: 'a page size', examples: 'a count of examples', order: 'a sort order',
  step: 'a resolution', window: 'a time span around the caller’s own item', aggregation: 'how a step combines points', quantile: 'which quantile of a histogram',
  after: 'a position in the caller’s own ordering (a time and ID), only compared with the caller’s records',
  kind: 'backends: a backend kind of the gateway', role: 'backends: a backend role of the gateway',
};
/** Fields whose answer for B (as B) need not contain a B marker, with the reason. */
const NO_B_MARKER: Record<string, string> = {
  backends: 'the configured backends and their health are the gateway’s, not a tenant’s: there is no B data to find',
  searchIndex: 'counts, not items: that they are the tenant’s own is checked by the shared-ID and searchIndex tests below',
};
/** Fields only an admin key may call: the read-only key A uses for the shared IDs gets GW_FORBIDDEN, before and after. */
// Fields for the operator's metrics scope only: every tenant key here (admin too) is refused alike.
const OPERATOR_ONLY: Record<string, string> = { backends: 'the gateway’s backends and their all-tenant figures, for the metrics scope' };
/** Fields this gateway cannot answer for anyone, with the reason (B's own query errors the same way). */
const NOT_CONFIGURED: Record<string, string> = {
  promql: 'needs storage.read.metrics: prometheus and a running Prometheus; without it every tenant gets GW_NOT_SUPPORTED, checked below to be the same for A and B',
};

const isRequired = (a: GraphQLArgument) => isNonNullType(a.type) && a.defaultValue === undefined;
const valueOf = (c: ArgCase, which: Which): unknown => (which === 'shared' ? (c.shared ?? c.absent)() : c[which]());
const casesOf = (c: Cases | undefined): ArgCase[] | undefined => (c === undefined ? undefined : Array.isArray(c) ? c : [c]);
/** Whether every argument of the set has a value both tenants hold (or addresses nobody). */
const shareable = (set: ArgSet) => Object.values(set).every((c) => c.shared !== undefined);
const addressesB = (set: ArgSet) => Object.values(set).some((c) => !c.same);
const label = (kind: string, field: string, set: ArgSet, i: number) => `${kind}.${field}(${Object.keys(set).join(', ')}) [set ${i}]`;

/** A literal of a nested field's required argument (the selection cannot use variables of its own). */
function nestedArgs(owner: string, f: GraphQLField<unknown, unknown>, which: Which): string {
  const args = f.args.filter(isRequired).map((a) => {
    const c = casesOf(ARGS[a.name])?.[0];
    if (!c) assert.fail(`${owner}.${f.name}: add a case for its required argument "${a.name}" to ARGS in test/integration/tenant-isolation.test.ts`);
    return `${a.name}: ${print(astFromValue(valueOf(c, which), a.type)!)}`;
  });
  return args.length ? `(${args.join(', ')})` : '';
}

/** Every field to `depth` levels; fields with required arguments get their cases, optional ones keep their defaults. */
function selection(type: GraphQLNamedType, depth: number, which: Which): string {
  if (isLeafType(type)) return '';
  if (!isObjectType(type) || depth === 0) return '{ __typename }';
  const parts: string[] = [];
  for (const f of Object.values((type as GraphQLObjectType).getFields())) {
    const inner = getNamedType(f.type);
    if (isLeafType(inner)) parts.push(`${f.name}${nestedArgs(type.name, f, which)}`);
    else if (depth > 1) parts.push(`${f.name}${nestedArgs(type.name, f, which)} ${selection(inner, depth - 1, which)}`);
  }
  return `{ ${parts.join(' ') || '__typename'} }`;
}

/**
 * The argument sets one field is called with: its required arguments (and ALWAYS and FIELD_ARGS
 * ones) with their first case, then that with one argument changed to each further case, then
 * FIELD_SETS. An argument without a case fails the test, asking for one.
 */
function argSets(kind: 'Query' | 'Subscription', field: GraphQLField<unknown, unknown>): ArgSet[] {
  const signal = /Log/.test(getNamedType(field.type).name) ? 'logs' : 'spans';
  const own = FIELD_ARGS[field.name] ?? {};
  const base: ArgSet = {};
  const variants: [string, ArgCase][] = [];
  for (const arg of field.args) {
    if (arg.name in NEUTRAL && !(arg.name in own)) continue;
    const cases = casesOf(own[arg.name] ?? TYPE_ARGS[getNamedType(arg.type).name] ?? ARGS[arg.name]);
    if (!cases) {
      assert.fail(`${kind}.${field.name}: add a case for its argument "${arg.name}" to ARGS (or TYPE_ARGS, FIELD_ARGS; or to NEUTRAL with the reason when it addresses no data) in test/integration/tenant-isolation.test.ts`);
    }
    const usable = cases.filter((c) => !c.only || c.only === signal);
    const inBase = isRequired(arg) || ALWAYS.has(arg.name) || arg.name in own;
    const first = usable.findIndex((c) => !c.alone);
    if (inBase && first >= 0) base[arg.name] = usable[first]!;
    usable.forEach((c, i) => (!inBase || i !== first) && variants.push([arg.name, c]));
  }
  const required = Object.fromEntries(Object.entries(base).filter(([name]) => isRequired(field.args.find((a) => a.name === name)!)));
  return [base, ...variants.map(([name, c]) => ({ ...(c.alone ? required : base), [name]: c })), ...(FIELD_SETS[field.name]?.() ?? [])];
}

/** The operation for one field with one argument set. */
function operation(kind: 'query' | 'subscription', field: GraphQLField<unknown, unknown>, set: ArgSet, which: Which): { query: string; variables: Record<string, unknown> } {
  const defs: string[] = [];
  const uses: string[] = [];
  const variables: Record<string, unknown> = {};
  for (const arg of field.args) {
    const c = set[arg.name];
    if (!c) continue;
    defs.push(`$${arg.name}: ${String(arg.type)}`);
    uses.push(`${arg.name}: $${arg.name}`);
    variables[arg.name] = valueOf(c, which);
  }
  const sel = selection(getNamedType(field.type), 4, which);
  return {
    query: `${kind}${defs.length ? `(${defs.join(', ')})` : ''} { ${field.name}${uses.length ? `(${uses.join(', ')})` : ''} ${sel} }`,
    variables,
  };
}

/** A cursor without the instant its search's hour ends at (page-cursor.ts searchCursor): two runs of one default-range search differ in it. */
function withoutSearchNow(cursor: string): string {
  const { n: _, ...position } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}
const CURSOR_KEYS = new Set(['cursor', 'startCursor', 'endCursor']);
/**
 * A RED series (it has `stepMs`) beside a recent trace ends at the request's now (correlation.ts
 * redAround), so its end, its rates and its last step move between two runs; its totals (requests,
 * errors, quantiles over the range) are what tells tenants apart, and stay.
 */
const RED_NOW_KEYS = ['to', 'toMs', 'toUnixNano', 'requestRate', 'errorRate', 'points'];
const stripTimes = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v), function (this: Record<string, unknown>, k: string, x: unknown) {
    if (k === 'lastEvaluatedAt') return undefined;
    if (RED_NOW_KEYS.includes(k) && 'stepMs' in this) return undefined;
    return CURSOR_KEYS.has(k) && typeof x === 'string' ? withoutSearchNow(x) : x;
  });

const markersIn = (value: unknown): string[] => {
  const text = JSON.stringify(value) ?? '';
  return Object.values(B).filter((m) => text.includes(m));
};

type Attrs = Record<string, unknown>;
const nanos = () => BigInt(Date.now()) * 1_000_000n;
/** One span in OTLP/JSON, with a parent and an exception event when given. */
function spanJson(s: { traceId: string; spanId: string; parentSpanId?: string; name: string; service: string; attributes?: Attrs; resource?: Attrs; exception?: { type: string; message: string } }): Record<string, unknown> {
  const t = nanos();
  return {
    resourceSpans: [{
      resource: { attributes: keyValues({ 'service.name': s.service, ...s.resource }) },
      scopeSpans: [{
        scope: { name: 'test' },
        spans: [{
          traceId: s.traceId, spanId: s.spanId, ...(s.parentSpanId && { parentSpanId: s.parentSpanId }), name: s.name, kind: s.parentSpanId ? 3 : 2,
          startTimeUnixNano: String(t - 500_000n), endTimeUnixNano: String(t), attributes: keyValues(s.attributes ?? {}),
          ...(s.exception && {
            status: { code: 2, message: s.exception.message },
            events: [{ name: 'exception', timeUnixNano: String(t), attributes: keyValues({ 'exception.type': s.exception.type, 'exception.message': s.exception.message }) }],
          }),
        }],
      }],
    }],
  };
}
/** One log record in OTLP/JSON, ERROR, on a span when given. */
function logJson(l: { body: string; service: string; traceId?: string; spanId?: string; attributes?: Attrs; resource?: Attrs }): Record<string, unknown> {
  return {
    resourceLogs: [{
      resource: { attributes: keyValues({ 'service.name': l.service, ...l.resource }) },
      scopeLogs: [{
        scope: { name: 'test' },
        logRecords: [{ timeUnixNano: String(nanos()), severityNumber: 17, severityText: 'ERROR', body: { stringValue: l.body }, attributes: keyValues(l.attributes ?? {}), ...(l.traceId && { traceId: l.traceId }), ...(l.spanId && { spanId: l.spanId }) }],
      }],
    }],
  };
}
/** One gauge point in OTLP/JSON. */
function gaugeJson(name: string, service: string, attributes: Attrs, resource: Attrs = {}): Record<string, unknown> {
  return {
    resourceMetrics: [{
      resource: { attributes: keyValues({ 'service.name': service, ...resource }) },
      scopeMetrics: [{ scope: { name: 'test' }, metrics: [{ name, gauge: { dataPoints: [{ timeUnixNano: String(nanos()), asDouble: 7.5, attributes: keyValues(attributes) }] } }] }],
    }],
  };
}
/** What B puts on its records in the places both tenants hold, so that any of them in A's answer shows. */
const B_ATTRS = { [SHARED.key]: B.attrValue, [B.attrKey]: B.attrValue };
/** B's records that B's own cases find (B's trace, span, service, name, attribute, body). */
const bOwnSpan = () => spanJson({ traceId: B.traceId, spanId: B.spanId, name: B.opName, service: B.service, attributes: { [B.attrKey]: B.attrValue }, resource: B_ATTRS });
const bOwnLog = () => logJson({ body: B.logBody, service: B.service, traceId: B.traceId, spanId: B.spanId, attributes: { [B.attrKey]: B.attrValue }, resource: B_ATTRS });
/** One tenant's span and log under the shared trace ID, span ID (B's span has A's root's ID), service, name and key. */
const sharedSpan = (who: 'a' | 'b') =>
  spanJson({ traceId: SHARED.traceId, spanId: SHARED.spanId, name: SHARED.opName, service: SHARED.service, attributes: who === 'a' ? { [SHARED.key]: SHARED.value } : B_ATTRS, resource: who === 'a' ? { [SHARED.key]: SHARED.value } : B_ATTRS });
const sharedLog = (who: 'a' | 'b') =>
  logJson({
    body: `${SHARED.logBody} ${who === 'a' ? 'of a' : B.logBody}`, service: SHARED.service, traceId: SHARED.traceId, spanId: SHARED.spanId,
    attributes: who === 'a' ? { [SHARED.key]: SHARED.value } : B_ATTRS, resource: who === 'a' ? { [SHARED.key]: SHARED.value } : B_ATTRS,
  });

const CREATE_RULE = 'mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id } }';
const SILENCE = 'mutation($input: SilenceInput!) { silence(input: $input) { id } }';
/** A rule that is true whenever the service has spans (error rate ≥ 0), firing at once. */
const ruleInput = (name: string, service: string, extra: Record<string, unknown> = {}) => ({
  name, kind: 'SPAN_ERROR_RATE', services: [service], by: ['SERVICE'], threshold: 0, comparator: 'GTE', window: '1h', for: '0s', interval: '1m', ...extra,
});
const silenceInput = (ruleName: string) => ({ matchers: [{ name: 'alertname', type: 'EQUAL', value: ruleName }], duration: '1h', comment: `silence of ${ruleName}` });

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
    const withB = await call('mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id name services } }', { input: ruleInput(B.ruleName, 'svc-a', { id: ids.bRuleId }) }, asA);
    const fresh = await call('mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id name services } }', { input: ruleInput(`${B.ruleName}-x`, 'svc-a', { id: otherId(ids.bRuleId) }) }, asA);
    assert.equal(withB.errors, undefined, `A creating a rule with B's ID: ${JSON.stringify(withB.errors)}`);
    assert.equal(fresh.errors, undefined);
    for (const id of [ids.bRuleId, otherId(ids.bRuleId)]) assert.equal((await call('mutation($id: ID!) { deleteAlertRule(id: $id) }', { id }, asA)).errors, undefined);
  },
  async updateAlertRule(call) {
    const q = 'mutation($id: ID!, $input: AlertRuleInput!) { updateAlertRule(id: $id, input: $input) { id name } }';
    const input = ruleInput('taken-over', 'svc-a');
    assert.deepEqual(answerFor(await call(q, { id: ids.bRuleId, input }, asA), ids.bRuleId), answerFor(await call(q, { id: otherId(ids.bRuleId), input }, asA), otherId(ids.bRuleId)));
  },
  async deleteAlertRule(call) {
    const q = 'mutation($id: ID!) { deleteAlertRule(id: $id) }';
    assert.deepEqual(answerFor(await call(q, { id: ids.bRuleId }, asA), ids.bRuleId), answerFor(await call(q, { id: otherId(ids.bRuleId) }, asA), otherId(ids.bRuleId)));
  },
  async silence(call) {
    // A's silence with B's matchers silences nothing of B (B's alert keeps silencedBy = B's silence only).
    const r = await call('mutation($input: SilenceInput!) { silence(input: $input) { id } }', { input: silenceInput(B.ruleName) }, asA);
    assert.equal(r.errors, undefined);
    const aSilence = (r.data as { silence: { id: string } }).silence.id;
    await gwTick();
    const rule = (await call(RULE_OF, { id: ids.bRuleId }, asB)).data as { alertRule: { alerts: { silencedBy: string[] }[] } };
    for (const a of rule.alertRule.alerts) assert.ok(!a.silencedBy.includes(aSilence), "A's silence silenced B's alert");
    assert.equal((await call('mutation($id: ID!) { unsilence(id: $id) { id } }', { id: aSilence }, asA)).errors, undefined);
  },
  async unsilence(call) {
    const q = 'mutation($id: ID!) { unsilence(id: $id) { id endsAt } }';
    assert.deepEqual(answerFor(await call(q, { id: ids.bSilenceId }, asA), ids.bSilenceId), answerFor(await call(q, { id: otherId(ids.bSilenceId) }, asA), otherId(ids.bSilenceId)));
  },
};
let gwTick: () => Promise<void> = async () => {};

describe('tenant isolation, generated from the schema', () => {
  let gw: TestGateway;
  let schema: GraphQLSchema;
  /** A's answers for the shared values, taken before B sent anything: the operation (its random parts fixed) and the answer. */
  const sharedBefore: { label: string; field: string; op: { query: string; variables: Record<string, unknown> }; answer: unknown }[] = [];
  const post = (path: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${gw.otlpHttp}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const sent = async (path: string, body: unknown, headers: Record<string, string>) => assert.equal((await post(path, body, headers)).status, 200, `POST ${path}`);
  const logIds = async (headers: Record<string, string>) =>
    (await gqlData<{ logs: { nodes: { id: string }[] } }>(gw.graphqlUrl, '{ logs(first: 1000) { nodes { id } } }', {}, headers)).logs.nodes.map((n) => BigInt(n.id));
  const maxOf = (xs: bigint[]) => xs.reduce((m, x) => (x > m ? x : m), -1n);
  const metricNamed = async (headers: Record<string, string>, prefix: string, suffix: string) =>
    (
      await waitFor(
        () => gqlData<{ metrics: { name: string }[] }>(gw.graphqlUrl, '{ metrics { name } }', {}, headers),
        (d) => d.metrics.some((m) => m.name.startsWith(prefix) && m.name.endsWith(suffix)),
        `metric ${prefix}…${suffix}`,
      )
    ).metrics.find((m) => m.name.startsWith(prefix) && m.name.endsWith(suffix))!.name;
  const indexed = (headers: Record<string, string>) =>
    waitFor(() => gqlData<{ searchIndex: { pending: number } }>(gw.graphqlUrl, '{ searchIndex { pending } }', {}, headers), (d) => d.searchIndex.pending === 0, 'search index caught up');
  const spanCount = (traceId: string, headers: Record<string, string>, n: number) =>
    waitFor(() => gqlData<{ trace: { spanCount: number } | null }>(gw.graphqlUrl, 'query($id: ID!) { trace(traceId: $id) { spanCount } }', { id: traceId }, headers), (d) => d.trace?.spanCount === n, `trace ${traceId} of ${n} spans`);

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
      // Selections of every field four levels deep: long documents with a huge static cost estimate, over little data.
      limits: { graphql: { maxCost: 1e15, maxDepth: 20, maxTokens: 200_000 } },
      search: TEST_MODEL,
      // The engine evaluates only when this test calls tick().
      alerting: { tickMs: 0 },
    });
    gwTick = () => gw.app.internals.alerting()!.tick();

    // 1. A's data, its own and under the shared IDs (a trace whose root has the span ID B's span will
    // have, with a child in a second service; a log on that span; metrics of the shared names; a rule
    // with the shared rule ID), then A's answers for the shared values, before B sends anything.
    await sendTrace('http-proto', gw, { service: 'svc-a', headers: asA });
    await sendLogs('grpc', gw, { service: 'svc-a', headers: asA });
    await sendMetrics('http-json', gw, { service: 'svc-a', prefix: 'aonly', headers: asA });
    await sendMetrics('http-json', gw, { service: SHARED.service, prefix: SHARED.metricPrefix, headers: asA });
    await sent('/v1/traces', spansJson([{ service: 'svc-a', attributes: { 'a.key': 'a-value' } }]), asA);
    await sent('/v1/traces', sharedSpan('a'), asA);
    await sent('/v1/traces', spanJson({ traceId: SHARED.traceId, spanId: randomSpanId(), parentSpanId: SHARED.spanId, name: 'a-db-call', service: 'svc-a-db', exception: { type: SHARED.excType, message: 'a timeout' } }), asA);
    await sent('/v1/logs', sharedLog('a'), asA);
    await gqlData(gw.graphqlUrl, CREATE_RULE, { input: ruleInput('a-rule', 'svc-a') }, asA);
    await gqlData(gw.graphqlUrl, CREATE_RULE, { input: ruleInput('a-shared-rule', SHARED.service, { id: SHARED.ruleId }) }, asA);
    await spanCount(SHARED.traceId, asA, 2);
    await waitFor(() => logIds(asA), (xs) => xs.length === 4, "A's logs");
    ids.sharedMetricName = await metricNamed(asA, SHARED.metricPrefix, 'temperature');
    await gwTick();
    await waitFor(() => gqlData<{ alerts: { state: string }[] }>(gw.graphqlUrl, '{ alerts { state } }', {}, asA), (d) => d.alerts.filter((a) => a.state === 'FIRING').length === 2, "A's firing alerts");
    await indexed(asA);
    ids.sharedLogId = String(maxOf(await logIds(asA)));
    schema = buildClientSchema(await gqlData<IntrospectionQuery>(gw.graphqlUrl, getIntrospectionQuery(), {}, asA));
    for (const field of Object.values(schema.getQueryType()!.getFields())) {
      const cases = [...argSets('Query', field).entries()].filter(([, set]) => shareable(set));
      const ops = cases.map(([, set]) => operation('query', field, set, 'shared'));
      const answers = await Promise.all(ops.map((op) => gql(gw.graphqlUrl, op.query, op.variables, asAReadOnly)));
      cases.forEach(([i, set], j) => sharedBefore.push({ label: label('Query', field.name, set, i), field: field.name, op: ops[j]!, answer: stripTimes(answer(answers[j]!)) }));
    }

    // 2. B's data: its own (with unique markers), and the same kinds under the shared IDs.
    await sendTrace('http-proto', gw, { service: B.service, headers: asB });
    await sendLogs('grpc', gw, { service: B.service, headers: asB });
    await sendMetrics('http-json', gw, { service: B.service, prefix: B.metricPrefix, headers: asB });
    await sendMetrics('http-json', gw, { service: SHARED.service, prefix: SHARED.metricPrefix, headers: asB });
    await sent('/v1/metrics', gaugeJson(`${B.metricPrefix}.marked`, B.service, { [B.attrKey]: B.attrValue }, B_ATTRS), asB);
    await sent('/v1/metrics', gaugeJson(ids.sharedMetricName, SHARED.service, { room: 'lab', ...B_ATTRS }, B_ATTRS), asB);
    // More logs than A has, first: B's own log gets an ID A does not have, and B has a log with A's newest ID.
    await sent('/v1/logs', logsJson(Array.from({ length: 4 }, (_, i) => ({ body: `${B.logBody} more ${i}`, service: B.service }))), asB);
    await sent('/v1/traces', bOwnSpan(), asB);
    // A second service under B's span, failing with an exception: B's service graph, exception groups and correlation.
    await sent('/v1/traces', spanJson({ traceId: B.traceId, spanId: randomSpanId(), parentSpanId: B.spanId, name: 'child', service: B.service2, exception: { type: B.excType, message: `${B.excType} failed` } }), asB);
    await sent('/v1/logs', bOwnLog(), asB);
    await sent('/v1/traces', sharedSpan('b'), asB);
    await sent('/v1/traces', spanJson({ traceId: SHARED.traceId, spanId: B.sharedChildSpanId, parentSpanId: SHARED.spanId, name: B.opName, service: B.service2, attributes: B_ATTRS, exception: { type: SHARED.excType, message: `${B.excType} failed` } }), asB);
    await sent('/v1/logs', sharedLog('b'), asB);
    // An operation of B in the shared service.
    await sent('/v1/traces', spanJson({ traceId: randomTraceId(), spanId: randomSpanId(), name: B.opName, service: SHARED.service, attributes: B_ATTRS, resource: B_ATTRS }), asB);
    const bLogs = await waitFor(() => logIds(asB), (xs) => xs.length === 9, "B's logs");
    const own = await gqlData<{ logs: { nodes: { id: string }[] } }>(gw.graphqlUrl, 'query($f: TelemetryFilter) { logs(filter: $f) { nodes { id } } }', { f: { spanId: [B.spanId] } }, asB);
    ids.bLogId = own.logs.nodes[0]!.id;
    assert.ok(bLogs.includes(BigInt(ids.sharedLogId)) && BigInt(ids.bLogId) > BigInt(ids.sharedLogId), `B has A's newest log ID ${ids.sharedLogId} and one A does not (${ids.bLogId})`);
    ids.bMetricName = await metricNamed(asB, B.metricPrefix, 'temperature');
    await metricNamed(asB, B.metricPrefix, 'marked');
    await spanCount(B.traceId, asB, 2);
    await spanCount(SHARED.traceId, asB, 2);
    // B's alert rules (always true over B's spans) fire at the first tick; a silence of B matches one.
    ids.bRuleId = (await gqlData<{ createAlertRule: { id: string } }>(gw.graphqlUrl, CREATE_RULE, { input: ruleInput(B.ruleName, B.service) }, asB)).createAlertRule.id;
    await gqlData(gw.graphqlUrl, CREATE_RULE, { input: ruleInput(`${B.ruleName}-shared`, SHARED.service, { id: SHARED.ruleId }) }, asB);
    ids.bSilenceId = (await gqlData<{ silence: { id: string } }>(gw.graphqlUrl, SILENCE, { input: silenceInput(B.ruleName) }, asB)).silence.id;
    await gwTick();
    await waitFor(() => gqlData<{ alerts: { state: string }[] }>(gw.graphqlUrl, '{ alerts { state } }', {}, asB), (d) => d.alerts.filter((a) => a.state === 'FIRING').length === 2, "B's firing alerts");
    await indexed(asB);
  });
  after(() => gw.stop());

  test('every Query field answers tenant A for B’s IDs and filters exactly as for nonexistent ones', async () => {
    const fields = Object.values(schema.getQueryType()!.getFields());
    assert.ok(fields.length >= 10, 'the schema was introspected');
    let calls = 0;
    for (const field of fields) {
      for (const [i, set] of argSets('Query', field).entries()) {
        const name = label('Query', field.name, set, i);
        const ofB = operation('query', field, set, 'ofB');
        const absent = operation('query', field, set, 'absent');
        const [bSelf, aWithB, aAbsent] = await Promise.all([
          gql(gw.graphqlUrl, ofB.query, ofB.variables, asB),
          gql(gw.graphqlUrl, ofB.query, ofB.variables, asA),
          gql(gw.graphqlUrl, absent.query, absent.variables, asA),
        ]);
        calls++;
        if (field.name in OPERATOR_ONLY) {
          assert.equal((bSelf.errors?.[0] as { extensions?: { code?: string } } | undefined)?.extensions?.code, 'GW_FORBIDDEN', `${name} is listed as the operator's but answered B`);
          assert.deepEqual(answer(aWithB), answer(bSelf), `${name}: A's refusal differs from B's`);
          continue;
        }
        if (field.name in NOT_CONFIGURED) {
          assert.ok(bSelf.errors?.length, `${name} is listed as not configured but answered B`);
          assert.deepEqual(answer(aWithB), answer(bSelf), `${name}: A's answer differs from B's own`);
          continue;
        }
        assert.equal(bSelf.errors, undefined, `${name} as B: ${JSON.stringify(bSelf.errors)}\n${ofB.query} ${JSON.stringify(ofB.variables)}`);
        if (!(field.name in NO_B_MARKER)) {
          assert.ok(markersIn(bSelf.data).length > 0, `${name}: B's own query finds none of B's data, so the case proves nothing; fix its cases or list the field in NO_B_MARKER with a reason\n${ofB.query} ${JSON.stringify(ofB.variables)}`);
        }
        assert.deepEqual(markersIn(aWithB), [], `${name}: tenant A sees B's data`);
        assert.deepEqual(stripTimes(answer(aWithB)), stripTimes(answer(aAbsent)), `${name}: A's answer for B's IDs differs from the answer for nonexistent ones\n${ofB.query} ${JSON.stringify(ofB.variables)}`);
      }
    }
    // Each field with arguments is called more than once (optional arguments, filter kinds, signals).
    assert.ok(calls > fields.length * 2, `${calls} calls for ${fields.length} fields`);
  });

  test('every Query field answers tenant A about IDs both tenants hold as it did before B’s data arrived under them', async () => {
    assert.ok(sharedBefore.length > 40, `${sharedBefore.length} cases`);
    const bHolds = new Set<string>();
    for (const { label: name, field, op, answer: before } of sharedBefore) {
      if (!(field in NOT_CONFIGURED) && !(field in OPERATOR_ONLY)) assert.equal((before as { errors?: unknown }).errors, undefined, `${name} failed for A before B's data: ${JSON.stringify(before)}`);
      const [bSelf, now] = await Promise.all([gql(gw.graphqlUrl, op.query, op.variables, asB), gql(gw.graphqlUrl, op.query, op.variables, asAReadOnly)]);
      if (markersIn(bSelf.data).length > 0) bHolds.add(field);
      assert.deepEqual(markersIn(now), [], `${name}: tenant A sees B's data`);
      assert.deepEqual(stripTimes(answer(now)), before, `${name}: A's answer changed when B's data arrived under the same IDs\n${op.query} ${JSON.stringify(op.variables)}`);
    }
    // B does hold data there: every field's shared case finds some of B's as B (or the field is listed as having no B data to find).
    const fields = new Set(sharedBefore.map((s) => s.field));
    const empty = [...fields].filter((f) => !bHolds.has(f) && !(f in NO_B_MARKER) && !(f in NOT_CONFIGURED));
    assert.deepEqual(empty, [], 'fields whose shared cases find nothing of B as B, so they prove nothing');
  });

  test('searchIndex counts only the tenant’s own records, and shows gateway-wide counts to no tenant, admin or not', async () => {
    const STATUS = '{ searchIndex { pending indexed skipped embedded cacheHits annSize } }';
    type Status = { searchIndex: { pending: number; indexed: number; skipped: number; embedded: number | null; cacheHits: number | null; annSize: number | null } };
    const aBefore = await gqlData<Status>(gw.graphqlUrl, STATUS, {}, asAReadOnly);
    const bBefore = await gqlData<Status>(gw.graphqlUrl, STATUS, {}, asB);
    assert.deepEqual([aBefore.searchIndex.embedded, aBefore.searchIndex.cacheHits, aBefore.searchIndex.annSize], [null, null, null]);
    // A's admin key neither: the counts sum every tenant, as /metrics does (the metrics scope's).
    const aAdmin = await gqlData<Status>(gw.graphqlUrl, STATUS, {}, asA);
    assert.deepEqual([aAdmin.searchIndex.embedded, aAdmin.searchIndex.cacheHits, aAdmin.searchIndex.annSize], [null, null, null]);
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

    /**
   * How to make records arrive for one subscription field: B's that B's own cases match, B's under
   * the shared IDs, A's own and A's under the shared IDs (default: spans or logs over OTLP).
   */
  type Driver = { own?: () => { query: string; variables: Record<string, unknown> }; publish: () => Promise<void> };
  const defaultDriver = (name: string): Driver => ({
    async publish() {
      const logs = name.toLowerCase().includes('log');
      const path = logs ? '/v1/logs' : '/v1/traces';
      await sent(path, logs ? bOwnLog() : bOwnSpan(), asB);
      await sent(path, logs ? sharedLog('b') : sharedSpan('b'), asB);
      await sent(path, logs ? logsJson([{ body: 'a-log', service: 'svc-a' }]) : spansJson([{ service: 'svc-a' }]), asA);
      await sent(path, logs ? sharedLog('a') : sharedSpan('a'), asA);
    },
  });
  const SUBSCRIPTION_DRIVERS: Record<string, Driver> = {
    // A new rule of B (the ID A filters on) and of A each fire at the next tick.
    alertEvents: {
      async publish() {
        const n = randomBytes(3).toString('hex');
        await gqlData(gw.graphqlUrl, CREATE_RULE, { input: ruleInput(`${B.ruleName}-${n}`, B.service, { id: ids.nextBRuleId }) }, asB);
        await gqlData(gw.graphqlUrl, CREATE_RULE, { input: ruleInput(`a-rule-${n}`, 'svc-a') }, asA);
        await gwTick();
        ids.nextBRuleId = randomUUID();
      },
    },
    // B's and A's metric points, of their own names and the shared ones; A's own subscription names A's metric.
    tailMetrics: {
      own: () => ({ query: 'subscription($name: String!) { tailMetrics(name: $name) { __typename } }', variables: { name: ids.bMetricName.replace(B.metricPrefix, 'aonly') } }),
      async publish() {
        await sendMetrics('http-json', gw, { service: B.service, prefix: B.metricPrefix, headers: asB });
        await sendMetrics('http-json', gw, { service: SHARED.service, prefix: SHARED.metricPrefix, headers: asB });
        await sent('/v1/metrics', gaugeJson(ids.sharedMetricName, SHARED.service, { room: 'lab', ...B_ATTRS }, B_ATTRS), asB);
        await sendMetrics('http-json', gw, { service: 'svc-a', prefix: 'aonly', headers: asA });
        await sendMetrics('http-json', gw, { service: SHARED.service, prefix: SHARED.metricPrefix, headers: asA });
      },
    },
  };

  test('every Subscription field delivers nothing of B to A, for B’s IDs and for IDs both hold, live and replayed, while A’s own records arrive', async () => {
    const fields = Object.values(schema.getSubscriptionType()?.getFields() ?? {});
    assert.ok(fields.length > 0);
    for (const field of fields) {
      const driver = SUBSCRIPTION_DRIVERS[field.name] ?? defaultDriver(field.name);
      const clients: Client[] = [];
      const client = (headers: Record<string, string>) => {
        const c = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, connectionParams: headers, retryAttempts: 0 });
        clients.push(c);
        return c;
      };
      const [a, b] = [client(asA), client(asB)];
      const unsubscribe: (() => void)[] = [];
      const listen = (c: Client, op: { query: string; variables: Record<string, unknown> }) => {
        const got: unknown[] = [];
        unsubscribe.push(c.subscribe(op, { next: (v) => void got.push(v), error: (e) => void got.push({ error: e instanceof Error ? e.message : e }), complete: () => {} }));
        return got;
      };
      // A's subscription without arguments proves the tail is live for A.
      const own = listen(a, driver.own?.() ?? { query: operation('subscription', { ...field, args: [] }, {}, 'ofB').query, variables: {} });
      type Case = { name: string; addressesB: boolean; got: unknown[]; bGot?: unknown[] };
      const withB: Case[] = [];
      const shared: Case[] = [];
      for (const [i, set] of argSets('Subscription', field).entries()) {
        const name = label('Subscription', field.name, set, i);
        const ofB = operation('subscription', field, set, 'ofB');
        // B's own subscription of the same case must get B's records, or the case proves nothing.
        withB.push({ name, addressesB: addressesB(set), got: listen(a, ofB), bGot: listen(b, ofB) });
        if (i === 0) withB.push({ name: `${name} (nonexistent)`, addressesB: true, got: listen(a, operation('subscription', field, set, 'absent')) });
        if (shareable(set)) shared.push({ name: `${name} (shared)`, addressesB: false, got: listen(a, operation('subscription', field, set, 'shared')) });
      }
      try {
        await new Promise((r) => setTimeout(r, 200)); // subscriptions registered before publishing
        await driver.publish();
        await waitFor(async () => [own, ...withB.flatMap((c) => (c.bGot ? [c.bGot] : [])), ...shared.map((c) => c.got)].every((g) => g.length > 0), (x) => x, `Subscription.${field.name}: A's own records, B's own and A's under the shared IDs`);
        await new Promise((r) => setTimeout(r, 200)); // anything of B's sent to A would have arrived by now
        for (const c of [{ name: 'own', got: own }, ...withB, ...shared]) {
          assert.ok(!JSON.stringify(c.got).includes('"error"'), `${c.name}: A's subscription failed: ${JSON.stringify(c.got)}`);
          assert.deepEqual(markersIn(c.got), [], `${c.name}: A received B's data: ${JSON.stringify(c.got)}`);
        }
        for (const c of withB) {
          assert.ok(!c.bGot || markersIn(c.bGot).length > 0, `${c.name}: B's own subscription got none of B's data, so the case proves nothing`);
          if (c.addressesB) assert.equal(c.got.length, 0, `${c.name} with B's values delivered events to A: ${JSON.stringify(c.got)}`);
        }
      } finally {
        unsubscribe.forEach((u) => u());
        await Promise.all(clients.map((c) => c.dispose()));
      }
    }
  });

  test('every Mutation field, called by A on B’s objects, fails as for nonexistent ones and leaves B’s unchanged', async () => {
    const call: Gql = (query, variables, headers) => gql(gw.graphqlUrl, query, variables, headers);
    const bState = async () => ({ rule: answer(await call(RULE_OF, { id: ids.bRuleId }, asB)), silences: answer(await call(SILENCES, {}, asB)) });
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
