// Alerting queries, mutations and the alertEvents subscription. They talk to the alert engine
// only (src/alerting); its AlertingErrors become GW_* errors here.
import { GatewayError } from '../src/errors.ts';
import type { AlertEngine } from '../src/alerting/engine.ts';
import { sentLabels } from '../src/alerting/notify.ts';
import { checkMatchers, silenceMatches } from '../src/alerting/silences.ts';
import {
  AlertingError,
  type AlertInstance,
  type AlertRule,
  type AlertState,
  type AlertTransition,
  type MatcherType,
  type Silence,
  type TraceExemplar,
} from '../src/alerting/types.ts';
import type { RecordIdentity } from '../src/tail/identity.ts';
import { ReplayLimitError } from '../src/tail/replay.ts';
import { checkSince, withReplay } from './tail.ts';
import type { GraphQLContext } from './context.ts';
import { toTailFilter, type TelemetryFilterInput } from './filter.ts';
import { createLoaders } from './loaders.ts';
import type { TraceModel } from './models.ts';
import { loadTrace } from './traces.ts';
import { limitArg, optionalRange } from './args.ts';

export type MatcherTypeName = 'EQUAL' | 'NOT_EQUAL' | 'REGEX' | 'NOT_REGEX';
const MATCHER_TYPES: Record<MatcherTypeName, MatcherType> = { EQUAL: '=', NOT_EQUAL: '!=', REGEX: '=~', NOT_REGEX: '!~' };
export const MATCHER_TYPE_NAMES: Record<MatcherType, MatcherTypeName> = { '=': 'EQUAL', '!=': 'NOT_EQUAL', '=~': 'REGEX', '!~': 'NOT_REGEX' };

export interface MatcherInput {
  name: string;
  value: string;
  type: MatcherTypeName;
}

export interface AlertRuleInput {
  id?: string | null;
  name: string;
  kind: AlertRule['kind'];
  expr?: string | null;
  services?: readonly string[] | null;
  operations?: readonly string[] | null;
  by?: readonly ('SERVICE' | 'OPERATION')[] | null;
  quantile?: number | null;
  filter?: TelemetryFilterInput | null;
  signal?: 'SPANS' | 'LOGS' | 'METRICS' | null;
  metric?: string | null;
  threshold?: number | null;
  comparator?: AlertRule['comparator'] | null;
  window?: bigint | null;
  for?: bigint | null;
  interval?: bigint | null;
  labels?: unknown;
  annotations?: unknown;
  receivers?: readonly string[] | null;
  groupBy?: readonly string[] | null;
  repeatInterval?: bigint | null;
  groupWait?: bigint | null;
  groupInterval?: bigint | null;
}

export interface SilenceInput {
  matchers: readonly MatcherInput[];
  startsAt?: bigint | null;
  endsAt?: bigint | null;
  duration?: bigint | null;
  createdBy?: string | null;
  comment?: string | null;
}

export interface AlertEventFilterInput {
  ruleId?: readonly string[] | null;
  states?: readonly AlertState[] | null;
  matchers?: readonly MatcherInput[] | null;
}

export interface AlertEventModel {
  transition: AlertTransition;
  dropped: number;
  /** Read from the history because of `since`. */
  replayed: boolean;
}

export interface AlertRuleModel {
  rule: AlertRule;
}

function toGatewayError(err: unknown): unknown {
  if (!(err instanceof AlertingError)) return err;
  const code = err.code === 'NOT_FOUND' ? 'GW_NOT_FOUND' : err.code === 'LIMIT' ? 'GW_LIMIT_EXCEEDED' : 'GW_BAD_ARGUMENT';
  return new GatewayError(code, err.message, { reason: err.code });
}

function engineOf(ctx: GraphQLContext): AlertEngine {
  if (!ctx.alerting) throw new GatewayError('GW_BAD_ARGUMENT', 'alerting is disabled on this gateway (alerting.enabled = false)');
  return ctx.alerting;
}

async function call<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toGatewayError(err);
  }
}

const matchersOf = (list: readonly MatcherInput[]) => list.map((m) => ({ name: m.name, value: m.value, type: MATCHER_TYPES[m.type] }));

/**
 * A rule's filter, refused as the rule's other fields are (GW_BAD_ARGUMENT, reason BAD_RULE, naming
 * `rule.filter…`; QA round 38h: it was the filter's own GW_BAD_FILTER or GW_BAD_ARGUMENT, no reason).
 */
function ruleFilter(filter: TelemetryFilterInput, signal: 'spans' | 'logs'): ReturnType<typeof toTailFilter> {
  try {
    return toTailFilter(filter, signal, 'a rule looks at its window (rule.window); remove from/to');
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    throw new AlertingError('BAD_RULE', `rule.${err.message.replace(/ \(GW_\w+\)$/, '')}`);
  }
}

/** The GraphQL input as the plain rule form parseRule reads (the same form as the YAML file). */
function plainRule(input: AlertRuleInput): Record<string, unknown> {
  const signal = input.signal ? (input.signal.toLowerCase() as 'spans' | 'logs' | 'metrics') : undefined;
  const filterSignal = input.kind === 'LOG_COUNT' || signal === 'logs' ? 'logs' : 'spans';
  const out: Record<string, unknown> = {
    ...(input.id && { id: input.id }),
    name: input.name,
    kind: input.kind,
    ...(input.expr != null && { expr: input.expr }),
    ...(input.services != null && { services: input.services }),
    ...(input.operations != null && { operations: input.operations }),
    ...(input.by != null && { by: input.by.map((d) => d.toLowerCase()) }),
    ...(input.quantile != null && { quantile: input.quantile }),
    ...(input.filter != null && { filter: ruleFilter(input.filter, filterSignal) }),
    ...(signal && { signal }),
    ...(input.metric != null && { metric: input.metric }),
    ...(input.threshold != null && { threshold: input.threshold }),
    ...(input.comparator != null && { comparator: input.comparator }),
    ...(input.window != null && { window: input.window }),
    ...(input.for != null && { for: input.for }),
    ...(input.interval != null && { interval: input.interval }),
    ...(input.labels != null && { labels: input.labels }),
    ...(input.annotations != null && { annotations: input.annotations }),
    ...(input.receivers != null && { receivers: input.receivers }),
    ...(input.groupBy != null && { groupBy: input.groupBy }),
    ...(input.repeatInterval != null && { repeatInterval: input.repeatInterval }),
    ...(input.groupWait != null && { groupWait: input.groupWait }),
    ...(input.groupInterval != null && { groupInterval: input.groupInterval }),
  };
  return out;
}

export function alertRules(ctx: GraphQLContext): AlertRule[] {
  return engineOf(ctx).rules(ctx.tenant);
}

export function alertRule(ctx: GraphQLContext, id: string): AlertRule | null {
  return engineOf(ctx).rule(ctx.tenant, id) ?? null;
}

export const ruleStatus = (ctx: GraphQLContext, rule: AlertRule) => engineOf(ctx).status(rule.tenant, rule.id);

export const rulesFileError = (ctx: GraphQLContext, tenant: string) => engineOf(ctx).rulesFileError(tenant);

export function createAlertRule(ctx: GraphQLContext, input: AlertRuleInput): Promise<AlertRule> {
  return call(() => engineOf(ctx).createRule(ctx.tenant, plainRule(input)));
}

export function updateAlertRule(ctx: GraphQLContext, id: string, input: AlertRuleInput): Promise<AlertRule> {
  return call(() => engineOf(ctx).updateRule(ctx.tenant, id, plainRule(input)));
}

export function deleteAlertRule(ctx: GraphQLContext, id: string): Promise<boolean> {
  return call(() => engineOf(ctx).deleteRule(ctx.tenant, id));
}

export function silences(ctx: GraphQLContext, includeExpired: boolean): Silence[] {
  return engineOf(ctx).silences(ctx.tenant, includeExpired);
}

export function createSilence(ctx: GraphQLContext, input: SilenceInput): Promise<Silence> {
  return call(() =>
    engineOf(ctx).silence(ctx.tenant, {
      matchers: matchersOf(input.matchers),
      startsAt: input.startsAt,
      endsAt: input.endsAt,
      duration: input.duration,
      createdBy: input.createdBy,
      comment: input.comment,
    }),
  );
}

export function expireSilence(ctx: GraphQLContext, id: string): Promise<Silence> {
  return call(() => engineOf(ctx).unsilence(ctx.tenant, id));
}

export function alerts(
  ctx: GraphQLContext,
  args: { state?: readonly AlertState[] | null; from?: bigint | null; to?: bigint | null; limit?: number | null },
): Promise<AlertInstance[]> {
  const engine = engineOf(ctx);
  return call(() =>
    engine.store.alerts(ctx.tenant, {
      states: args.state?.length ? [...args.state] : undefined,
      range: optionalRange(args.from, args.to),
      limit: limitArg('limit', args.limit, 100, 1000),
    }),
  );
}

export function alertHistory(
  ctx: GraphQLContext,
  args: { ruleId?: string | null; from?: bigint | null; to?: bigint | null; limit?: number | null },
): Promise<AlertTransition[]> {
  const engine = engineOf(ctx);
  return call(() =>
    engine.store.history(ctx.tenant, {
      ...(args.ruleId != null && { ruleIds: [args.ruleId] }),
      range: optionalRange(args.from, args.to),
      limit: limitArg('limit', args.limit, 100, 10_000),
    }),
  );
}

/**
 * The exemplar traces, in exemplar order; traces not (or no longer) stored are left out. A failing
 * trace backend is the field's error (loadMany would hand it back in place of each trace, and the
 * list would be silently empty).
 */
export async function exemplarTraces(ctx: GraphQLContext, exemplars: readonly TraceExemplar[], limit: number | null | undefined): Promise<TraceModel[]> {
  const ids = [...new Set(exemplars.map((e) => e.traceId))].slice(0, limitArg('limit', limit, 5, 100));
  const loaded = await Promise.all(ids.map((id) => loadTrace(ctx, id)));
  return loaded.filter((t): t is TraceModel => t !== null);
}

export function alertRuleOf(ctx: GraphQLContext, ruleId: string): AlertRule | null {
  return ctx.alerting?.rule(ctx.tenant, ruleId) ?? null;
}

/** Which stored state change a live one is: a rule's alert changes state once per instant. */
const transitionIdentity: RecordIdentity<AlertTransition> = {
  key: (t) => `${t.ruleId}\u0000${t.fingerprint}\u0000${t.from}\u0000${t.to}\u0000${t.at}`,
};

export async function alertEvents(ctx: GraphQLContext, args: { filter?: AlertEventFilterInput | null; since?: bigint | null }): Promise<AsyncIterable<AlertEventModel>> {
  const engine = engineOf(ctx);
  const f = args.filter ?? {};
  let matchers: Silence['matchers'] = [];
  try {
    if (f.matchers?.length) matchers = checkMatchers(matchersOf(f.matchers));
  } catch (err) {
    // Checked as a silence's matchers are, and named as this argument (QA round 38: "BAD_SILENCE … matchers[0]").
    if (err instanceof AlertingError) throw new GatewayError('GW_BAD_FILTER', `filter.${err.message}`);
    throw toGatewayError(err);
  }
  const from = checkSince(args.since);
  // The matchers are read as a silence's are, so the two select alerts the same way.
  const selector: Silence = { id: '', tenant: ctx.tenant, matchers, startsAt: 0n, endsAt: 0n, createdBy: '', comment: '' };
  const predicate = (t: AlertTransition) =>
    (!f.ruleId?.length || f.ruleId.includes(t.ruleId)) &&
    (!f.states?.length || f.states.includes(t.to)) &&
    (matchers.length === 0 || silenceMatches(selector, sentLabels(t.tenant, t.labels)));
  // With `since`: the engine publishes a change before it writes it to the history, as ingest does,
  // and the replay waits for the writes under way (historySettled) before it reads, so whatever was
  // published before the subscription opened is readable, and a change both read and live is sent
  // once. One read, bounded: at most maxReplay changes of the rules and states asked for (the label
  // matchers, not expressible in SQL, are applied after).
  const maxReplay = ctx.tail.bus.limits.maxReplay;
  const sub = await withReplay(
    ctx,
    'alerts',
    predicate,
    from,
    async () => {
      const records = await engine.store.history(ctx.tenant, {
        ...(f.ruleId?.length && { ruleIds: f.ruleId }),
        ...(f.states?.length && { states: f.states }),
        range: { from },
        limit: maxReplay + 1,
        oldestFirst: true,
      });
      if (records.length > maxReplay) throw new ReplayLimitError(maxReplay);
      return { records, next: null };
    },
    transitionIdentity,
    { settled: () => engine.historySettled() },
  );
  const it: AsyncIterableIterator<AlertEventModel> = {
    async next() {
      const r = await sub.next();
      if (r.done) return { value: undefined, done: true };
      // Fresh loaders per event, as the tails do: fields like `alert.evidence.traces` read current data.
      ctx.loaders = createLoaders(ctx.tenant, ctx.stores);
      return { value: { transition: r.value.record, dropped: r.value.dropped, replayed: r.value.replayed }, done: false };
    },
    return() {
      sub.close();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]: () => it,
  };
  return it;
}
