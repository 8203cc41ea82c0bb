// The alert engine: evaluates each rule when it is due (tick), moves each series through
// inactive → pending → firing → resolved, records every change in the history, publishes it on the
// tail bus, and hands firing/resolved groups to the notifier. Time comes from an injected Clock, so
// tests drive evaluations with the data's own timestamps instead of waiting.
import type { Logger } from 'pino';
import type { MetricSample } from '../server/metrics.ts';
import type { TelemetryFilter } from '../stores/types.ts';
import { groupKey, sentLabels, type Notifier, type ReceiverConfig } from './notify.ts';
import { soleReplicaLease, type NotifyLease } from './notify-lease.ts';
import { PromQlError } from './promql.ts';
import type { MetricNames } from './promql-names.ts';
import type { RulesFileRefusal } from './rules-file.ts';
import { compare, GROUP_BY_ALL, parseRule, ruleDurationProblem, type RuleDefaults } from './rules.ts';
import { fingerprint, newSilence, silenceActive, silenceMatches, silenceProblem, type SilenceInput } from './silences.ts';
import { checkRuleTemplates, expandTemplate, unsupportedTemplate } from './template.ts';
import { UNIT_NS } from '../model/duration.ts';
import {
  AlertingError,
  aboutTenant,
  type AlertEvidence,
  type AlertInstance,
  type AlertRule,
  type AlertSignals,
  type AlertState,
  type AlertStore,
  type AlertTransition,
  type Clock,
  type ExceptionGroupSource,
  type OwedResolution,
  type PromQlEvaluator,
  type SeriesDimension,
  type Silence,
  type TraceExemplar,
} from './types.ts';

export interface RuleStatus {
  lastEvaluatedAt: bigint | null;
  lastEvaluationError: string | null;
  lastNotificationAt: bigint | null;
  lastNotificationError: string | null;
}

export interface AlertEngineOptions {
  store: AlertStore;
  signals: AlertSignals;
  exceptions: ExceptionGroupSource;
  promql: PromQlEvaluator;
  notifier: Notifier;
  receivers: readonly ReceiverConfig[];
  /** Called synchronously with every state change (the tail bus publish). */
  publish(t: AlertTransition): void;
  clock: Clock;
  logger: Logger;
  ruleDefaults?: RuleDefaults;
  /** Exemplar traces and exception groups kept per firing alert. */
  evidenceLimit?: number;
  /** Whether this replica sends notifications (several replicas over Redis); default: always. */
  lease?: NotifyLease;
  /** What one tenant may hold, so no tenant can make every tick slower for the others; default: unlimited. */
  limits?: AlertingLimits;
  /** The rules file's load outcomes, reported with the engine's own metrics (the gateway reads alerting's from the engine). */
  rulesFileMetrics?: () => MetricSample[];
  /** Why the rules file's last load was refused, or null (rulesFileError). */
  rulesFileRefusal?: () => RulesFileRefusal | null;
  /** Called when an API rule is deleted or renamed, which may end a clash that had the rules file refused. */
  onApiRuleGone?: () => void;
  /** Reads a NO_DATA rule's `metric` as PROMQL rules read a name (stored OTel name or Prometheus name); default: the stored name only. */
  metricNames?: MetricNames;
  /** How often tick() is called (alerting.tickMs), ns: a rule is due half a tick early, so a tick that runs a little late does not push it a whole tick; default 0. */
  tickNs?: bigint;
  /** How long a resolved alert stays in memory (and in `alerts`) after it resolved, ns; default 15m, as Prometheus' resolvedRetention. */
  resolvedRetention?: bigint;
  /** group_wait and group_interval of rules that set none (alerting.defaultGroupWait / defaultGroupInterval). */
  grouping: GroupTiming;
}

export interface GroupTiming {
  groupWait: bigint;
  groupInterval: bigint;
}

export interface AlertingLimits {
  /** API rules per tenant (rules from the file are the operator's and not counted). */
  rulesPerTenant: number;
  /** Silences per tenant, expired ones kept for silenceRetention included (as Alertmanager's silences.max-silences). */
  silencesPerTenant: number;
  /** Expired silences older than this (ns) are removed at a tick. */
  silenceRetention: bigint;
  /** State changes older than this (ns) are deleted from the history, at most once per HISTORY_PRUNE_EVERY of the engine's clock. */
  historyRetention: bigint;
}

/** A rule whose definition is gone, for retiring its alerts: retiring reads none of these fields (retireRulesGone sets the rest). */
const GONE_RULE: AlertRule = {
  id: '',
  tenant: '',
  name: '',
  kind: 'NO_DATA',
  source: 'file',
  threshold: 0,
  comparator: 'EQ',
  window: 1n,
  for: 0n,
  interval: 1n,
  labels: {},
  annotations: {},
  receivers: [],
  groupBy: [],
  repeatInterval: 1n,
};

/** Prometheus keeps a resolved alert 15 minutes (rules/alerting.go resolvedRetention), then forgets it. */
const RESOLVED_RETENTION = 15n * 60_000_000_000n;

const NO_LIMITS: AlertingLimits = { rulesPerTenant: Infinity, silencesPerTenant: Infinity, silenceRetention: 2n ** 63n, historyRetention: 2n ** 63n };
/** The history grows by transitions only: an hourly DELETE keeps it within the retention. */
const HISTORY_PRUNE_EVERY = 3_600_000_000_000n;

export interface AlertEngine {
  /** Loads API rules, alert instances and silences from the store. */
  start(): Promise<void>;
  /** Evaluates every rule that is due at clock.now(); resolves when they are evaluated (not notified). */
  tick(): Promise<void>;
  /** Resolves when every notification started so far has been delivered or has given up. */
  idle(): Promise<void>;
  /** Stops accepting ticks and waits for deliveries in flight. */
  stop(): Promise<void>;
  rules(tenant: string): AlertRule[];
  rule(tenant: string, id: string): AlertRule | undefined;
  status(tenant: string, id: string): RuleStatus;
  /** Refused when the ID is taken, or the name is a file rule's of the tenant (and the reverse for setFileRules). */
  createRule(tenant: string, raw: unknown): Promise<AlertRule>;
  updateRule(tenant: string, id: string, raw: unknown): Promise<AlertRule>;
  deleteRule(tenant: string, id: string): Promise<boolean>;
  /**
   * Resolves the alerts of rules that no longer exist (gone from the rules file while the gateway
   * was down), sending their resolutions; called once every rule is known (after the first load).
   */
  retireRulesGone(): Promise<void>;
  /**
   * Replaces every file rule (all tenants) with these; their alert state is kept by rule ID. Refused
   * as a whole (AlertingError, nothing changed) when one names an unknown receiver or has the ID or
   * name of an API rule of its tenant.
   */
  setFileRules(rules: AlertRule[]): Promise<void>;
  /**
   * Refuses (AlertingError naming the first such rule in file order) rules with a template form the
   * gateway does not expand, or whose PromQL the evaluator cannot run; the rules file checks its
   * rules with it before setFileRules.
   */
  checkFileRules(rules: AlertRule[]): Promise<void>;
  /** Current instances in memory (pending, firing, resolved) for a rule. */
  instances(tenant: string, ruleId?: string): AlertInstance[];
  silences(tenant: string, includeExpired: boolean): Silence[];
  silence(tenant: string, input: SilenceInput): Promise<Silence>;
  unsilence(tenant: string, id: string): Promise<Silence>;
  readonly store: AlertStore;
  /**
   * Resolves once every alert state change published so far is in the history (or its write
   * failed): what an alertEvents `since` replay waits for before it reads the history.
   */
  historySettled(): Promise<void>;
  readonly promqlBackend: string;
  /** For /metrics: rules, alerts by state, evaluations and notifications, and the rules file's loads. */
  metrics(): MetricSample[];
  /**
   * For the tenant's file rules: that the rules file's last change was refused (the rules listed
   * are as last loaded) and why, when the reason is about one of this tenant's rules; null when the
   * last load succeeded.
   */
  rulesFileError(tenant: string): string | null;
}

interface GroupState {
  lastSentAt: bigint | null;
  /** Fingerprints that were firing in the last message, so their resolution is sent once. */
  notifiedFiring: Set<string>;
  /**
   * Fingerprints the receiver may know as firing from a message this replica did not see arrive: the
   * other holder's (taken over), or its own from before it lost the lease (overtaken since). They get
   * a resolution (at least once), but are not trusted as notified: a firing one is sent again.
   */
  maybeFiring: Set<string>;
}

/** What the receiver may know as firing (and is owed a resolution for when it resolves). */
const mayKnowFiring = (state: GroupState, fp: string) => state.notifiedFiring.has(fp) || state.maybeFiring.has(fp);

const key = (tenant: string, id: string) => `${tenant}\u0000${id}`;

interface Series {
  labels: Record<string, string>;
  value: number;
  exemplars?: TraceExemplar[];
}

/** lastNotificationError of an API rule whose notification this replica left to the lease holder. */
export const LEFT_TO_HOLDER =
  'not sent by this replica: another replica holds the notify lease, and an API rule is kept only on the replica that was sent it, ' +
  'so that replica sends this only if it has the rule too (create the rule on every replica, or put it in the rules file)';

/** A series whose value meets its rule's condition, with its alert's labels and fingerprint. */
interface AlertingSeries {
  s: Series;
  labels: Record<string, string>;
  fp: string;
}

function dedupeTraces(list: readonly TraceExemplar[]): TraceExemplar[] {
  const seen = new Set<string>();
  return list.filter((e) => !seen.has(e.traceId) && seen.add(e.traceId));
}

export function createAlertEngine(opts: AlertEngineOptions): AlertEngine {
  const { store, signals, exceptions, promql, notifier, clock, logger } = opts;
  const evidenceLimit = opts.evidenceLimit ?? 5;
  const lease = opts.lease ?? soleReplicaLease();
  const limits = opts.limits ?? NO_LIMITS;
  const dueSlack = (opts.tickNs ?? 0n) / 2n;
  const resolvedRetention = opts.resolvedRetention ?? RESOLVED_RETENTION;
  const { grouping } = opts;
  const rules = new Map<string, AlertRule>(); // key(tenant, id)
  const instances = new Map<string, AlertInstance>(); // key(tenant, fingerprint)
  const silences = new Map<string, Silence>(); // key(tenant, id)
  const statuses = new Map<string, RuleStatus>();
  const receiverErrors = new Map<string, Map<string, string>>(); // key(tenant, rule) → receiver → error
  const lastEval = new Map<string, bigint>();
  let lastHistoryPrune: bigint | undefined;
  /** What this replica itself delivered, per receiver and group (persisted: alert_notified). */
  const groups = new Map<string, GroupState>();
  /**
   * While another replica holds the lease: what it was left to send, as this replica's evaluations
   * see it (so each change is counted once as other_replica). Not persisted. When this replica takes
   * over, whether the holder's deliveries arrived is not known: its firing alerts become maybeFiring
   * (their resolutions are sent, the firing groups too: at least once, a message may repeat, none is lost).
   */
  const groupsLeft = new Map<string, GroupState>();
  /** With groupsLeft: the resolutions the holder was asked to send, per group (owed again at a takeover). */
  const resolutionsLeft = new Map<string, Set<string>>();
  /**
   * Rules gone (deleted, removed from the rules file) whose resolutions a receiver is still owed:
   * sent again at every tick until delivered, then the rule's alerts and notification state go.
   */
  const retired = new Map<string, AlertRule>();
  /**
   * Rules whose alerts may sit in a group they are no longer sent to (releaseStranded): changed while
   * the gateway was down, or whose release message failed. Checked at their next evaluation.
   */
  const releaseDue = new Set<string>();
  // When a stranded alert's resolution (see releaseStranded) was first due, per receiver group and
  // fingerprint, while it has not been delivered: its retries carry that time as endsAt.
  const strandedSince = new Map<string, bigint>();
  const deliveries = new Set<Promise<void>>();
  let stopped = false;
  const counts = { evaluations: 0, evaluationFailures: 0, notificationsSent: 0, notificationsFailed: 0, notificationsLeftToOtherReplica: 0 };
  let running: Promise<void> | null = null;
  /** The rule being evaluated (ticks evaluate one rule at a time). */
  let evaluating: { key: string; done: Promise<void> } | undefined;
  let queued: Promise<void> | null = null;

  const statusOf = (tenant: string, id: string): RuleStatus => {
    let s = statuses.get(key(tenant, id));
    if (!s) statuses.set(key(tenant, id), (s = { lastEvaluatedAt: null, lastEvaluationError: null, lastNotificationAt: null, lastNotificationError: null }));
    return s;
  };

  function spanFilter(rule: AlertRule): TelemetryFilter {
    const f: TelemetryFilter = { ...(rule.filter ?? {}) };
    if (rule.services?.length) f.and = [...(f.and ?? []), { service: rule.services }];
    if (rule.operations?.length) f.and = [...(f.and ?? []), { name: rule.operations }];
    return f;
  }

  /** The series of a rule at `now`: labels (without alertname/rule labels), value, and metric exemplars if any. */
  async function series(rule: AlertRule, now: bigint): Promise<Series[]> {
    const range = { from: now - rule.window, to: now };
    switch (rule.kind) {
      case 'SPAN_ERROR_RATE': {
        const stats = await signals.spanStats(rule.tenant, { range, filter: spanFilter(rule), by: rule.by ?? [] });
        return stats.map((s) => ({ labels: s.labels, value: s.errors / s.total }));
      }
      case 'SPAN_LATENCY_QUANTILE': {
        const stats = await signals.spanStats(rule.tenant, { range, filter: spanFilter(rule), by: rule.by ?? [], quantile: rule.quantile });
        return stats.filter((s) => s.quantileMs !== null).map((s) => ({ labels: s.labels, value: s.quantileMs! }));
      }
      case 'LOG_COUNT': {
        const counts = await signals.logCounts(rule.tenant, { range, filter: spanFilter(rule), by: rule.by ?? [] });
        return counts.map((c) => ({ labels: c.labels, value: c.count }));
      }
      case 'NO_DATA': {
        // by [service]: one series per listed service, 0 for one that sent nothing (a service the
        // store never saw is exactly what such a rule is for, so the list is the rule's, not the store's).
        const perService = rule.by?.includes('service') === true;
        let counts: { labels: Record<string, string>; count: number }[];
        if (rule.signal === 'metrics') {
          // The metric by its stored name or its Prometheus name, as a PROMQL selector reads it.
          const names = opts.metricNames ? [...new Set((await opts.metricNames.resolve(rule.tenant, rule.metric!)).map((m) => m.name))] : [rule.metric!];
          counts = await signals.metricPointCounts(rule.tenant, { names, range, ...(rule.services?.length && { services: rule.services }), byService: perService });
        } else {
          const by: SeriesDimension[] = perService ? ['service'] : [];
          counts =
            rule.signal === 'logs'
              ? await signals.logCounts(rule.tenant, { range, filter: spanFilter(rule), by })
              : (await signals.spanStats(rule.tenant, { range, filter: spanFilter(rule), by })).map((s) => ({ labels: s.labels, count: s.total }));
        }
        if (!perService) return [{ labels: {}, value: counts[0]?.count ?? 0 }];
        const byService = new Map(counts.map((c) => [c.labels.service, c.count]));
        return rule.services!.map((service) => ({ labels: { service }, value: byService.get(service) ?? 0 }));
      }
      case 'PROMQL':
        return promql.query(rule.tenant, rule.expr!, now);
    }
  }

  async function evidence(rule: AlertRule, s: Series, now: bigint): Promise<AlertEvidence> {
    const { labels: seriesLabels, value } = s;
    const range = { from: now - rule.window, to: now };
    const base = spanFilter(rule);
    // Narrow to this series: its service / operation.
    const own: TelemetryFilter[] = [];
    if (seriesLabels.service !== undefined) own.push({ service: [seriesLabels.service] });
    if (seriesLabels.operation !== undefined) own.push({ name: [seriesLabels.operation] });
    const filter: TelemetryFilter = own.length ? { ...base, and: [...(base.and ?? []), ...own] } : base;
    const out: AlertEvidence = { value, window: range, exemplars: [], exceptionGroups: [] };
    if (rule.kind === 'SPAN_ERROR_RATE' || rule.kind === 'SPAN_LATENCY_QUANTILE') {
      [out.exemplars, out.exceptionGroups] = await Promise.all([
        signals.worstSpans(rule.tenant, { range, filter, limit: evidenceLimit }),
        exceptions.topExceptionGroups(rule.tenant, { range, filter, limit: evidenceLimit }),
      ]);
    } else if (rule.kind === 'LOG_COUNT') {
      out.exemplars = await signals.logTraces(rule.tenant, { range, filter, limit: evidenceLimit });
      const traceIds = out.exemplars.map((e) => e.traceId);
      if (traceIds.length) out.exceptionGroups = await exceptions.topExceptionGroups(rule.tenant, { range, filter: { traceId: traceIds }, limit: evidenceLimit });
    } else if (rule.kind === 'PROMQL') {
      // Metric exemplars point at traces; their exceptions are the exception groups.
      out.exemplars = dedupeTraces(s.exemplars ?? []).slice(0, evidenceLimit);
      const traceIds = out.exemplars.map((e) => e.traceId);
      if (traceIds.length) out.exceptionGroups = await exceptions.topExceptionGroups(rule.tenant, { range, filter: { traceId: traceIds }, limit: evidenceLimit });
    }
    return out;
  }

  /** History writes of published changes, under way. */
  const historyWrites = new Set<Promise<void>>();

  async function transition(rule: AlertRule, inst: AlertInstance, to: AlertState, now: bigint): Promise<void> {
    const t: AlertTransition = {
      tenant: inst.tenant,
      ruleId: rule.id,
      ruleName: rule.name,
      fingerprint: inst.fingerprint,
      labels: inst.labels,
      from: inst.state,
      to,
      at: now,
      value: inst.value,
    };
    inst.state = to;
    // Published before it is written, as telemetry is: a `since` replay opens its live subscription,
    // waits for the writes under way (historySettled), then reads the history, so a change is in
    // what it reads or arrives live after, and one in both is sent once. Written first, a change
    // could be read by a replay and then published to it again (QA round 38).
    try {
      opts.publish(t);
    } catch (err) {
      logger.warn({ err }, 'publishing an alert event failed');
    }
    const write = store.appendHistory(t);
    historyWrites.add(write);
    try {
      await write;
    } finally {
      historyWrites.delete(write);
    }
  }

  function silencedBy(tenant: string, labels: Record<string, string>, now: bigint): string[] {
    const ids: string[] = [];
    // As the notifications carry them: a silence made from a received alert's labels matches it.
    const sent = sentLabels(tenant, labels);
    for (const s of silences.values()) if (s.tenant === tenant && silenceActive(s, now) && silenceMatches(s, sent)) ids.push(s.id);
    return ids;
  }

  /** The alert's labels for a series: alertname, the series' labels but __name__, the rule's labels expanded over them. */
  function alertLabels(rule: AlertRule, s: Series): Record<string, string> {
    // As in Prometheus (rules/alerting.go), an alert has no metric name label.
    const { __name__: _metric, ...seriesLabels } = s.labels;
    // As in Prometheus, the rule's labels are templates over the series' labels and the value,
    // expanded before they make the alert's label set (and so its fingerprint).
    const ruleLabels = Object.fromEntries(Object.entries(rule.labels).map(([k, v]) => [k, expandTemplate(v, s.labels, s.value)]));
    const labels: Record<string, string> = { alertname: rule.name, ...seriesLabels, ...ruleLabels };
    // As in Prometheus, neither a series nor the rule's labels can change the alert's name.
    labels.alertname = rule.name;
    // As Prometheus' labels.Builder: an empty value is no label (a rule label "" removes a series
    // label of that name), as Alertmanager drops it too, so its fingerprint matches the webhook's.
    for (const [name, value] of Object.entries(labels)) if (value === '') delete labels[name];
    return labels;
  }

  /**
   * The series whose value meets the condition, with their alerts' labels and fingerprints. Two
   * that make one label set (`a or b` on Prometheus, once __name__ is gone) fail the
   * evaluation with Prometheus' own error: one alert cannot have two values, and keeping either
   * would hide the other.
   */
  function alertingSeries(rule: AlertRule, current: Series[]): AlertingSeries[] {
    const out: AlertingSeries[] = [];
    const seen = new Set<string>();
    for (const s of current) {
      if (!compare(s.value, rule.comparator, rule.threshold)) continue;
      const labels = alertLabels(rule, s);
      const fp = fingerprint(rule.id, labels);
      if (seen.has(fp)) throw new Error('vector contains metrics with the same labelset after applying alert labels');
      seen.add(fp);
      out.push({ s, labels, fp });
    }
    return out;
  }

  async function evaluate(rule: AlertRule, now: bigint): Promise<void> {
    const status = statusOf(rule.tenant, rule.id);
    let current: AlertingSeries[];
    counts.evaluations++;
    try {
      current = alertingSeries(rule, await series(rule, now));
      status.lastEvaluationError = null;
    } catch (err) {
      // A rule that cannot be evaluated keeps its alerts as they are (no false resolve).
      counts.evaluationFailures++;
      status.lastEvaluationError = (err as Error).message;
      status.lastEvaluatedAt = now;
      logger.warn({ rule: rule.id, tenant: rule.tenant, err: (err as Error).message }, 'rule evaluation failed');
      return;
    }
    status.lastEvaluatedAt = now;
    const active = new Set<string>();
    for (const { s, labels, fp } of current) {
      active.add(fp);
      let inst = instances.get(key(rule.tenant, fp));
      if (!inst || inst.state === 'RESOLVED' || inst.state === 'INACTIVE') {
        // A resolution not delivered yet is not lost when the condition comes back: the receiver
        // that was told "firing" is told it ended, whatever the alert does next.
        const owed = inst?.state === 'RESOLVED' && resolutionOwed(inst) ? owedResolutionOf(inst) : undefined;
        inst = {
          tenant: rule.tenant,
          ruleId: rule.id,
          fingerprint: fp,
          labels,
          annotations: {},
          state: inst?.state ?? 'INACTIVE',
          value: s.value,
          activeAt: now,
          firedAt: null,
          resolvedAt: null,
          lastEvaluatedAt: now,
          evidence: null,
          silencedBy: [],
          ...(owed && { owedResolution: owed }),
        };
        instances.set(key(rule.tenant, fp), inst);
        await transition(rule, inst, 'PENDING', now);
      }
      inst.value = s.value;
      inst.lastEvaluatedAt = now;
      // Over the series' labels, as Prometheus expands annotations (its $labels is the sample's label
      // set: no alertname, no rule label), so a rule copied from Prometheus reads the same.
      inst.annotations = Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, expandTemplate(v, s.labels, s.value)]));
      if (inst.owedResolution && !resolutionOwed(inst)) delete inst.owedResolution;
      if (inst.state === 'PENDING' && now - inst.activeAt! >= rule.for) {
        inst.firedAt = now;
        // Firing again before its resolution arrived: for the receivers owed it, the firing they know continues.
        delete inst.owedResolution;
        await transition(rule, inst, 'FIRING', now);
      }
      if (inst.state === 'FIRING') inst.evidence = await evidence(rule, s, now);
      inst.silencedBy = silencedBy(rule.tenant, labels, now);
      await store.saveInstance(inst);
    }
    for (const inst of instances.values()) {
      if (inst.tenant !== rule.tenant || inst.ruleId !== rule.id || active.has(inst.fingerprint)) continue;
      if (inst.state === 'PENDING') {
        await endPending(rule, inst, now);
      } else if (inst.state === 'FIRING') {
        inst.resolvedAt = now;
        inst.lastEvaluatedAt = now;
        inst.silencedBy = silencedBy(rule.tenant, inst.labels, now);
        await transition(rule, inst, 'RESOLVED', now);
        await store.saveInstance(inst);
      } else if (inst.state === 'RESOLVED' && now - inst.resolvedAt! >= resolvedRetention && !resolutionOwed(inst)) {
        // As Prometheus, a resolved alert is forgotten after a while (its history stays), so label
        // sets that fired once do not pile up; one whose resolution a receiver is still owed stays.
        instances.delete(key(inst.tenant, inst.fingerprint));
        await store.deleteInstance(inst.tenant, inst.fingerprint);
      }
    }
  }

  /** The resolved firing of a RESOLVED alert, kept while its condition is back (PENDING) and a receiver is owed its resolution. */
  function owedResolutionOf({ activeAt, firedAt, resolvedAt, value, annotations }: AlertInstance): OwedResolution {
    return { activeAt, firedAt, resolvedAt: resolvedAt!, value, annotations };
  }

  /**
   * The alert as a receiver owed its resolution knows it: a PENDING alert that carries the resolved
   * firing before it is that firing, RESOLVED; any other alert is itself.
   */
  function asNotified(inst: AlertInstance): AlertInstance {
    const o = inst.owedResolution;
    if (inst.state !== 'PENDING' || !o) return inst;
    const { owedResolution: _owed, ...rest } = inst;
    return { ...rest, ...o, state: 'RESOLVED' };
  }

  /** Whether the rule's notifications carry the alert: firing, resolved, or pending with a resolution owed. */
  const notifiable = (inst: AlertInstance) => inst.state === 'FIRING' || inst.state === 'RESOLVED' || (inst.state === 'PENDING' && inst.owedResolution !== undefined);

  /**
   * A pending alert whose condition stopped holding becomes INACTIVE and goes; one carrying a firing
   * whose resolution a receiver is still owed is that resolved firing again (PENDING → RESOLVED in
   * its history, as `alerts` lists it), so the resolution is sent until it arrives, as any resolved
   * alert's is.
   */
  async function endPending(rule: AlertRule, inst: AlertInstance, now: bigint): Promise<void> {
    const o = inst.owedResolution;
    if (o && resolutionOwed(inst)) {
      await transition(rule, inst, 'RESOLVED', now);
      delete inst.owedResolution;
      Object.assign(inst, o, { lastEvaluatedAt: now });
      await store.saveInstance(inst);
      return;
    }
    await transition(rule, inst, 'INACTIVE', now);
    instances.delete(key(inst.tenant, inst.fingerprint));
    await store.deleteInstance(inst.tenant, inst.fingerprint);
  }

  /** Whether a receiver got the alert as firing and has not been sent its resolution yet. */
  function resolutionOwed(inst: AlertInstance): boolean {
    const groupPrefix = `\u0000${inst.tenant}/${inst.ruleId}/`;
    for (const [k, state] of groups) if (k.includes(groupPrefix) && mayKnowFiring(state, inst.fingerprint)) return true;
    for (const k of strandedSince.keys()) if (k.includes(groupPrefix) && k.endsWith(`\u0000${inst.fingerprint}`)) return true;
    return false;
  }

  /**
   * How often firing alerts are sent to an Alertmanager: it keeps grouping and repeats itself, but
   * needs each alert again before its endsAt (Prometheus: every minute, or each evaluation if slower).
   */
  function alertmanagerResend(rule: AlertRule): bigint {
    const minute = UNIT_NS.m!;
    return rule.interval > minute ? rule.interval : minute;
  }

  /**
   * A PROMQL rule whose expression its evaluator cannot run (outside the embedded subset, or not
   * parsing on Prometheus) is refused when it is created or loaded, not found at every evaluation.
   */
  async function checkExpr(rule: AlertRule, where: string): Promise<void> {
    if (rule.kind !== 'PROMQL') return;
    let unchecked: string | null;
    try {
      unchecked = await promql.check(rule.tenant, rule.expr!);
    } catch (err) {
      if (err instanceof PromQlError) throw new AlertingError('BAD_RULE', `${where}.expr: ${err.message}`);
      throw err;
    }
    if (unchecked) logger.warn({ rule: rule.id, tenant: rule.tenant, reason: unchecked }, 'the PromQL of an alert rule was not checked; an error in it shows at evaluation');
  }

  /** A rule naming a receiver that is not configured would fire and tell no one. */
  function checkReceiverNames(rule: AlertRule, where: string): void {
    const unknown = rule.receivers.filter((name) => !opts.receivers.some((r) => r.name === name));
    if (unknown.length === 0) return;
    const known = opts.receivers.map((r) => r.name).join(', ') || 'none';
    throw new AlertingError('BAD_RULE', `${where}.receivers: no receiver named ${unknown.map((n) => JSON.stringify(n)).join(', ')} in alerting.receivers (configured: ${known})`);
  }

  const sourceText = (r: AlertRule) => (r.source === 'file' ? 'from the rules file' : 'created through the API');

  /**
   * A rule of the same tenant and name from the other source. The name is the alertname of every
   * notification, silence and alert event, so a tenant's API rule must never be mistaken for (or
   * silenced with) one the operator put in the rules file, nor the reverse. Rules of one source may
   * share a name (as Prometheus' warning and critical rules of one alert do).
   */
  function otherSourceNamed(rule: AlertRule): AlertRule | undefined {
    for (const r of rules.values()) if (r.tenant === rule.tenant && r.name === rule.name && r.source !== rule.source) return r;
    return undefined;
  }

  /** Refuses an API rule whose name a file rule has. */
  function checkApiName(rule: AlertRule): void {
    const taken = otherSourceNamed(rule);
    if (!taken) return;
    throw new AlertingError(
      'BAD_RULE',
      `rule.name: ${JSON.stringify(rule.name)} is the name of alert rule ${JSON.stringify(taken.id)} from the rules file (alerting.rulesFile); ` +
        'a rule created through the API cannot share its name (the alertname of its notifications) with a rule from the rules file. Choose another name',
    );
  }

  /** Refuses a file rule whose ID or name an API rule of its tenant has; the rules file is then refused as a whole. */
  function checkFileRule(rule: AlertRule): void {
    const where = `rule ${JSON.stringify(rule.name)} (tenant ${JSON.stringify(rule.tenant)})`;
    const sameId = rules.get(key(rule.tenant, rule.id));
    if (sameId?.source === 'api') {
      throw new AlertingError(
        'BAD_RULE',
        `${where}: its id ${JSON.stringify(rule.id)} is the id of alert rule ${JSON.stringify(sameId.name)} created through the API. ` +
          'Give it another id in the rules file, or delete the API rule (deleteAlertRule): the rules file is then loaded again',
        rule.tenant,
      );
    }
    const taken = otherSourceNamed(rule);
    if (taken) {
      throw new AlertingError(
        'BAD_RULE',
        `${where}: the name is already used by alert rule ${JSON.stringify(taken.id)} created through the API; ` +
          'a rule from the rules file cannot share its name (the alertname of its notifications) with an API rule. ' +
          'Rename it in the rules file, or delete or rename the API rule (deleteAlertRule, updateAlertRule): the rules file is then loaded again',
        rule.tenant,
      );
    }
  }

  // Rule changes run one at a time: a check (name taken, limit reached) and the change it allows
  // are never split by another change made while the store is written.
  let ruleChanges: Promise<unknown> = Promise.resolve();
  function serially<T>(change: () => Promise<T>): Promise<T> {
    const run = ruleChanges.then(change);
    ruleChanges = run.catch(() => undefined);
    return run;
  }

  function receiversOf(rule: AlertRule): ReceiverConfig[] {
    if (rule.receivers.length === 0) return [...opts.receivers];
    return opts.receivers.filter((r) => rule.receivers.includes(r.name));
  }

  /**
   * The group an alert of the rule is notified in, by the rule's groupBy over the labels as sent (so
   * groupBy can name `tenant` too). As Alertmanager's, only the groupBy labels the alert has: one it
   * lacks is not a group label (no `cluster=""`); `...` stands for all of them.
   */
  function groupOf(rule: AlertRule, inst: AlertInstance): { labels: Record<string, string>; gk: string } {
    const sent = sentLabels(rule.tenant, inst.labels);
    // `...` groups by every label, as Alertmanager's: each alert is its own group.
    const names = rule.groupBy.includes(GROUP_BY_ALL) ? Object.keys(sent) : rule.groupBy;
    const labels = Object.fromEntries(names.filter((l) => sent[l] !== undefined && sent[l] !== '').map((l) => [l, sent[l]!]));
    return { labels, gk: `${rule.tenant}/${rule.id}/${JSON.stringify(labels)}` };
  }

  function persistGroup(rule: AlertRule, stateKey: string, state: GroupState): void {
    void store
      .saveNotified({ tenant: rule.tenant, ruleId: rule.id, key: stateKey, lastSentAt: state.lastSentAt, firing: [...state.notifiedFiring, ...state.maybeFiring] })
      .catch((err: unknown) => logger.warn({ err, rule: rule.id }, 'saving the notification state failed'));
  }

  function groupState(stateKey: string): GroupState {
    const view = lease.held() ? groups : groupsLeft;
    let state = view.get(stateKey);
    if (!state) view.set(stateKey, (state = { lastSentAt: null, notifiedFiring: new Set<string>(), maybeFiring: new Set<string>() }));
    return state;
  }

  /**
   * One rule's share of a message to a receiver's group: its state there (what that receiver was
   * sent of it), its firing alerts (not silenced) and the resolutions it owes (of alerts whose firing
   * arrived). A group's message carries every rule's share: rules may share a name (a warning and a
   * critical rule), and their alerts are one group for Alertmanager's groupKey.
   */
  interface Part {
    rule: AlertRule;
    stateKey: string;
    state: GroupState;
    firing: AlertInstance[];
    resolved: AlertInstance[];
  }

  function partOf(rule: AlertRule, receiver: ReceiverConfig, stateKey: string, members: readonly AlertInstance[]): Part {
    const state = groupState(stateKey);
    return {
      rule,
      stateKey,
      state,
      // A silence mutes teleql's own messages. An Alertmanager keeps getting a silenced alert while
      // it fires (as Prometheus sends it every active alert): left out, it would expire there and be
      // notified downstream as resolved while still firing. Silence it in Alertmanager itself.
      firing: members.filter((m) => m.state === 'FIRING' && (m.silencedBy.length === 0 || receiver.type === 'alertmanager')),
      // Resolutions are sent once, and only for alerts whose firing was (or may have been) sent.
      resolved: members.filter((m) => m.state === 'RESOLVED' && mayKnowFiring(state, m.fingerprint)),
    };
  }

  /** The rule's firing and resolved alerts (as receivers know them: asNotified) by group (the engine's key of the rule's group). */
  function groupsOf(rule: AlertRule): Map<string, { labels: Record<string, string>; members: AlertInstance[] }> {
    const byGroup = new Map<string, { labels: Record<string, string>; members: AlertInstance[] }>();
    for (const inst of instances.values()) {
      if (inst.tenant !== rule.tenant || inst.ruleId !== rule.id || !notifiable(inst)) continue;
      const { labels, gk } = groupOf(rule, inst);
      const g = byGroup.get(gk) ?? { labels, members: [] };
      g.members.push(asNotified(inst));
      byGroup.set(gk, g);
    }
    return byGroup;
  }

  /** The shares of the tenant's other rules routed to `receiver`, by the groupKey their groups are sent with. */
  function otherParts(rule: AlertRule, receiver: ReceiverConfig): Map<string, Part[]> {
    const members = new Map<string, { other: AlertRule; sentKey: string; list: AlertInstance[] }>();
    for (const inst of instances.values()) {
      if (inst.tenant !== rule.tenant || inst.ruleId === rule.id || !notifiable(inst)) continue;
      const other = rules.get(key(inst.tenant, inst.ruleId));
      if (!other || !receiversOf(other).some((r) => r.name === receiver.name)) continue;
      const { labels, gk } = groupOf(other, inst);
      const stateKey = `${receiver.name}\u0000${gk}`;
      const m = members.get(stateKey) ?? { other, sentKey: groupKey(sentLabels(other.tenant, labels)), list: [] };
      m.list.push(asNotified(inst));
      members.set(stateKey, m);
    }
    const out = new Map<string, Part[]>();
    for (const [stateKey, { other, sentKey, list }] of members) out.set(sentKey, [...(out.get(sentKey) ?? []), partOf(other, receiver, stateKey, list)]);
    return out;
  }

  /**
   * A message queued for one receiver and group. 'group': the group as it was when queued; a newer
   * one replaces it while it waits, and ends its retries while it is being sent (it carries the
   * group as it is now). 'fixed': resolutions of a rule gone or of alerts routed elsewhere now, which
   * nothing later repeats: sent whatever follows.
   */
  interface Job {
    kind: 'group' | 'fixed';
    /** Which alerts it carries, so that an evaluation does not queue the message already going. */
    signature: string;
    /** The rules (key) whose alerts it carries. */
    rules: ReadonlySet<string>;
    run(superseded: AbortSignal): Promise<void>;
  }

  interface Lane {
    queue: Job[];
    current: { job: Job; superseded: AbortController } | null;
  }
  /**
   * Per receiver and group (groupKey, as sent), its messages one at a time, as Alertmanager's
   * notification pipeline sends a group's: a resolution never overtakes the firing message it
   * follows, nor a retry of an older message the newer one.
   */
  const lanes = new Map<string, Lane>();
  const laneKey = (receiver: string, tenant: string, sentKey: string) => `${receiver}\u0000${tenant}\u0000${sentKey}`;

  function sending(lk: string, signature: string): boolean {
    const lane = lanes.get(lk);
    return !!lane && (lane.current?.job.signature === signature || lane.queue.some((j) => j.signature === signature));
  }

  function enqueue(lk: string, job: Job): void {
    let lane = lanes.get(lk);
    if (!lane) lanes.set(lk, (lane = { queue: [], current: null }));
    if (job.kind === 'group' && lane.queue.at(-1)?.kind === 'group') lane.queue.pop();
    lane.queue.push(job);
    if (lane.current?.job.kind === 'group') lane.current.superseded.abort();
    if (lane.current) return;
    const drained = drain(lk, lane);
    deliveries.add(drained);
    void drained.finally(() => deliveries.delete(drained));
  }

  async function drain(lk: string, lane: Lane): Promise<void> {
    for (let job = lane.queue.shift(); job; job = lane.queue.shift()) {
      const superseded = new AbortController();
      lane.current = { job, superseded };
      await job.run(superseded.signal).catch((err: unknown) => logger.error({ err }, 'sending an alert notification failed'));
      lane.current = null;
    }
    lanes.delete(lk);
  }

  /**
   * Sends one message and records its outcome in the status of each rule whose alerts it carries:
   * 'failed' after its retries, 'superseded' when a newer message for the group ended them (not an
   * error: the newer one carries the group).
   */
  async function send(
    ruleList: readonly AlertRule[],
    receiver: ReceiverConfig,
    groupLabels: Record<string, string>,
    alerts: AlertInstance[],
    now: bigint,
    firingValidFor: bigint | undefined,
    superseded: AbortSignal,
  ): Promise<'sent' | 'failed' | 'superseded'> {
    const error = await notifier.send(
      {
        receiver,
        tenant: ruleList[0]!.tenant,
        groupKey: groupKey(groupLabels),
        groupLabels,
        alerts,
        ruleIds: ruleList.map((r) => r.id),
        ...(firingValidFor !== undefined && { firingValidFor }),
      },
      superseded,
    );
    if (error !== null && superseded.aborted) return 'superseded';
    if (error) counts.notificationsFailed++;
    else counts.notificationsSent++;
    for (const rule of ruleList) {
      // The resolution sent for a deleted rule has no status left to update.
      if (!rules.has(key(rule.tenant, rule.id))) continue;
      const s = statusOf(rule.tenant, rule.id);
      s.lastNotificationAt = now;
      const errors = receiverErrors.get(key(rule.tenant, rule.id)) ?? new Map<string, string>();
      receiverErrors.set(key(rule.tenant, rule.id), errors);
      if (error) errors.set(receiver.name, error);
      else errors.delete(receiver.name);
      // Every receiver whose latest delivery failed, so one that works does not hide one that does not.
      s.lastNotificationError = errors.size ? [...errors.values()].join('; ') : null;
    }
    return error ? 'failed' : 'sent';
  }

  /** A part left to the replica that sends: as if sent, and its resolutions noted for a takeover. */
  function recordLeft(p: Part, now: bigint): void {
    // An API rule lives on the replica that was sent it only: the holder sends this only if it has
    // the rule too. Said where the rule is read, as its notifications went nowhere without a word.
    if (p.rule.source === 'api' && rules.has(key(p.rule.tenant, p.rule.id))) statusOf(p.rule.tenant, p.rule.id).lastNotificationError = LEFT_TO_HOLDER;
    let asked = resolutionsLeft.get(p.stateKey);
    if (!asked) resolutionsLeft.set(p.stateKey, (asked = new Set<string>()));
    // Only alerts still listed can be resolved at a takeover; forgotten ones are not kept.
    for (const fp of asked) if (!instances.has(key(p.rule.tenant, fp))) asked.delete(fp);
    for (const m of p.resolved) asked.add(m.fingerprint);
    for (const m of p.firing) asked.delete(m.fingerprint);
    recordSent(p, now);
  }

  /** A part as sent (or as left to the replica that sends): its firing alerts are what the receiver knows to be firing. */
  function recordSent(p: Part, now: bigint): void {
    p.state.lastSentAt = now;
    p.state.notifiedFiring = new Set(p.firing.map((m) => m.fingerprint));
    // Told now (firing, or resolved), or forgotten: no longer "maybe".
    for (const m of [...p.firing, ...p.resolved]) p.state.maybeFiring.delete(m.fingerprint);
    for (const fp of p.state.maybeFiring) if (!instances.has(key(p.rule.tenant, fp))) p.state.maybeFiring.delete(fp);
    // A state dropped meanwhile (its rule deleted) is not written back.
    if (groups.get(p.stateKey) === p.state) persistGroup(p.rule, p.stateKey, p.state);
    // The rule changed while this was being sent: what arrived may be routed elsewhere now.
    const k = key(p.rule.tenant, p.rule.id);
    const current = rules.get(k);
    if (current && current !== p.rule && routingChanged(current, p.rule)) releaseDue.add(k);
  }

  /**
   * Sends a group's message as queued, less the resolutions of alerts whose firing has not arrived
   * (an earlier message failed, or was replaced, since this one was made). Only a message that
   * arrived counts as sent: one that failed is sent again at the next evaluation.
   */
  async function sendGroup(
    job: { kind: Job['kind']; receiver: ReceiverConfig; groupLabels: Record<string, string>; parts: Part[]; now: bigint; firingValidFor: bigint | undefined },
    superseded: AbortSignal,
  ): Promise<void> {
    const { receiver, groupLabels, now } = job;
    const ruleGone = (p: Part) => !rules.has(key(p.rule.tenant, p.rule.id));
    const sent = job.parts
      // A group message queued before a rule went carries none of its alerts: its last word is the retiring one.
      .filter((p) => job.kind === 'fixed' || !ruleGone(p))
      .map((p) => ({ ...p, resolved: p.resolved.filter((a) => mayKnowFiring(p.state, a.fingerprint)) }));
    const alerts = [...sent.flatMap((p) => p.firing), ...sent.flatMap((p) => p.resolved)];
    if (alerts.length === 0) return;
    const outcome = await send(sent.map((p) => p.rule), receiver, groupLabels, alerts, now, job.firingValidFor, superseded);
    const gone = sent.filter((p) => retired.has(key(p.rule.tenant, p.rule.id)) && p.resolved.length > 0);
    if (outcome === 'failed' && gone.length > 0) {
      logger.warn(
        { receiver: receiver.name, tenant: gone[0]!.rule.tenant, rules: gone.map((p) => p.rule.id), alerts: gone.reduce((n, p) => n + p.resolved.length, 0) },
        'the resolution of a removed rule’s alerts was not delivered; it is sent again at the next tick',
      );
    }
    if (outcome !== 'sent') return;
    for (const p of sent) recordSent(p, now);
    // A gone rule whose last owed resolution this was goes now (with the rule changes, see retryRetired).
    for (const p of gone) {
      const rule = retired.get(key(p.rule.tenant, p.rule.id));
      if (rule && owedResolutions(rule) === 0) await serially(() => forgetRetired(rule));
    }
    // A rule deleted while its firing alerts were being sent: they arrived, so their resolution follows.
    const orphans = job.kind === 'group' ? sent.filter((p) => ruleGone(p) && p.firing.length > 0) : [];
    if (orphans.length === 0) return;
    const at = clock.now();
    const resolvedNow = orphans.map((p) => ({ ...p, firing: [], resolved: p.firing.map((a) => ({ ...a, state: 'RESOLVED' as const, resolvedAt: at })) }));
    enqueue(laneKey(receiver.name, orphans[0]!.rule.tenant, groupKey(groupLabels)), {
      kind: 'fixed',
      signature: '',
      rules: new Set(),
      run: (s) => sendGroup({ ...job, kind: 'fixed', parts: resolvedNow, now: at, firingValidFor: undefined }, s),
    });
  }

  /**
   * A receiver that was sent an alert as firing, in a group the rule no longer sends that alert to
   * (its `receivers` or `groupBy` changed), would otherwise never hear of it again: the incident it
   * opened stays open. Such alerts are sent to it as resolved, once, at the time of the change (or
   * at the next evaluation, when that message failed); the receivers and groups that have the alert
   * now get it as a new firing alert at the rule's next evaluation. A receiver no longer configured
   * at all cannot be told; its state is dropped.
   */
  function releaseStranded(rule: AlertRule, now: bigint): void {
    const routed = new Set(receiversOf(rule).map((r) => r.name));
    const prefix = `${rule.tenant}/${rule.id}/`;
    for (const [stateKey, state] of [...groups]) {
      const sep = stateKey.indexOf('\u0000');
      const gk = stateKey.slice(sep + 1);
      if (!gk.startsWith(prefix) || state.notifiedFiring.size + state.maybeFiring.size === 0) continue;
      const receiverName = stateKey.slice(0, sep);
      const receiver = opts.receivers.find((r) => r.name === receiverName);
      const stranded: AlertInstance[] = [];
      // Alertmanager: alerts that only changed group. It is sent alerts, not teleql's groups, and
      // knows them by their labels, which a groupBy change leaves alone: nothing to tell it.
      const regrouped: AlertInstance[] = [];
      for (const fp of new Set([...state.notifiedFiring, ...state.maybeFiring])) {
        const listed = instances.get(key(rule.tenant, fp));
        const inst = listed && asNotified(listed);
        if (!inst || (routed.has(receiverName) && groupOf(rule, inst).gk === gk)) continue;
        if (routed.has(receiverName) && receiver?.type === 'alertmanager' && inst.state === 'FIRING') regrouped.push(inst);
        else stranded.push(inst);
      }
      if (stranded.length === 0 && regrouped.length === 0) continue;
      if (receiver && !lease.held()) {
        // What this replica delivered stays as it is: it is checked again when it takes over.
        counts.notificationsLeftToOtherReplica++;
        continue;
      }
      for (const a of [...stranded, ...regrouped]) {
        state.notifiedFiring.delete(a.fingerprint);
        state.maybeFiring.delete(a.fingerprint);
      }
      persistGroup(rule, stateKey, state);
      for (const a of regrouped) {
        // Its new group's state takes it over, with the time it was last sent, so its re-posts keep their pace.
        const moved = `${receiverName}\u0000${groupOf(rule, a).gk}`;
        const target = groupState(moved);
        target.notifiedFiring.add(a.fingerprint);
        if (state.lastSentAt !== null && (target.lastSentAt === null || state.lastSentAt < target.lastSentAt)) target.lastSentAt = state.lastSentAt;
        persistGroup(rule, moved, target);
      }
      if (stranded.length === 0) continue;
      const sinceKey = (a: AlertInstance) => `${stateKey}\u0000${a.fingerprint}`;
      const since = stranded.map((a) => strandedSince.get(sinceKey(a)) ?? now);
      if (!receiver) {
        for (const a of stranded) strandedSince.delete(sinceKey(a));
        logger.warn({ rule: rule.id, tenant: rule.tenant, receiver: receiverName }, 'alerts sent to a receiver that is no longer configured cannot be resolved there');
        continue;
      }
      // Owed (owedResolutions) until delivered: kept while the release is on its way, dropped when it arrives.
      stranded.forEach((a, i) => strandedSince.set(sinceKey(a), since[i]!));
      logger.info({ rule: rule.id, tenant: rule.tenant, receiver: receiverName, alerts: stranded.length }, 'alerts no longer routed to a receiver are sent to it as resolved');
      const alerts = stranded.map((a, i) => ({ ...structuredClone(a), state: 'RESOLVED' as const, resolvedAt: a.state === 'RESOLVED' ? a.resolvedAt : since[i]! }));
      const groupLabels = sentLabels(rule.tenant, JSON.parse(gk.slice(prefix.length)) as Record<string, string>);
      enqueue(laneKey(receiverName, rule.tenant, groupKey(groupLabels)), {
        kind: 'fixed',
        signature: '',
        rules: new Set([key(rule.tenant, rule.id)]),
        run: async (superseded) => {
          if ((await send([rule], receiver, groupLabels, alerts, now, undefined, superseded)) === 'sent') {
            for (const a of stranded) strandedSince.delete(sinceKey(a));
            return;
          }
          // Not sent: kept, so that the next evaluation (or, for a gone rule, the next tick) tries again, resolved as of the same time.
          if (groups.get(stateKey) !== state) return;
          for (const a of stranded) state.notifiedFiring.add(a.fingerprint);
          persistGroup(rule, stateKey, state);
          releaseDue.add(key(rule.tenant, rule.id));
        },
      });
    }
  }

  /**
   * Groups whose message waits for its group_wait or group_interval, by lane: when it may go, and
   * the rules whose notify sends it then (each message carries every rule's share of its group).
   */
  const held = new Map<string, { at: bigint; rules: Set<string> }>();
  /**
   * A group message on its way (queued or in its retries), by lane: the group is flushed as of its
   * time, so no other change of the group goes before a group_interval after it. Cleared when it
   * ends: if it failed, the group is due again at once (as a failed message always is).
   */
  const inFlight = new Map<string, { at: bigint }>();

  function hold(lk: string, at: bigint, rule: AlertRule): void {
    const h = held.get(lk);
    if (!h) held.set(lk, { at, rules: new Set([key(rule.tenant, rule.id)]) });
    else {
      if (at < h.at) h.at = at;
      h.rules.add(key(rule.tenant, rule.id));
    }
  }

  /**
   * When a group's message may go, as Alertmanager's aggregation group flushes. A group the receiver
   * knows nothing firing of (new, or told it is all resolved) waits groupWait from its first firing
   * alert, to collect the alerts that fire with it (a warning and a critical rule, alerts of one
   * rule). A group the receiver knows goes no more often than every groupInterval, changes and
   * repeats alike. The rule whose evaluation made the change times it.
   */
  function sendableAt(rule: AlertRule, lk: string, parts: readonly Part[], now: bigint): bigint {
    const going = inFlight.get(lk);
    if (going) return going.at + (rule.groupInterval ?? grouping.groupInterval);
    const known = parts.some((p) => p.state.notifiedFiring.size + p.state.maybeFiring.size > 0);
    if (!known) {
      let first: bigint | null = null;
      for (const a of parts.flatMap((p) => p.firing)) {
        const since = a.firedAt ?? a.activeAt ?? now;
        if (first === null || since < first) first = since;
      }
      return (first ?? now) + (rule.groupWait ?? grouping.groupWait);
    }
    let last: bigint | null = null;
    for (const p of parts) if (p.state.lastSentAt !== null && (last === null || p.state.lastSentAt > last)) last = p.state.lastSentAt;
    return last === null ? now : last + (rule.groupInterval ?? grouping.groupInterval);
  }

  /** At each tick: the held groups now due are sent (by the notify of the rules that hold them). */
  function sendHeld(now: bigint): void {
    const due = [...held].filter(([, h]) => h.at <= now);
    const ruleKeys = new Set<string>();
    for (const [lk, h] of due) {
      held.delete(lk);
      for (const k of h.rules) ruleKeys.add(k);
    }
    for (const k of ruleKeys) {
      const rule = rules.get(k);
      if (rule) notify(rule, now);
    }
  }

  /** Whether a rule's alerts may now go to other receivers or groups than before. */
  const routingChanged = (a: AlertRule, b: AlertRule) => JSON.stringify([a.receivers, a.groupBy]) !== JSON.stringify([b.receivers, b.groupBy]);

  /**
   * Sends each group of the rule that has news (a change) or is due for a repeat, with the alerts
   * of every rule in that group (one message per receiver and groupKey); `retiring`: the rule is
   * gone, check for stranded alerts whether due or not, and send its last messages whatever follows.
   */
  function notify(rule: AlertRule, now: bigint, retiring = false): void {
    if (releaseDue.delete(key(rule.tenant, rule.id)) || retiring) releaseStranded(rule, now);
    const own = groupsOf(rule);
    if (own.size === 0) return;
    for (const receiver of receiversOf(rule)) {
      let others: Map<string, Part[]> | undefined;
      for (const [gk, g] of own) {
        const part = partOf(rule, receiver, `${receiver.name}\u0000${gk}`, g.members);
        const { state, firing, resolved } = part;
        const news = firing.some((m) => !state.notifiedFiring.has(m.fingerprint)) || resolved.length > 0;
        const every = receiver.type === 'alertmanager' ? alertmanagerResend(rule) : rule.repeatInterval;
        const repeat = firing.length > 0 && state.lastSentAt !== null && now - state.lastSentAt >= every;
        if (!news && !repeat) continue;
        // With the tenant: receivers that tell groups apart by key (as Alertmanager's own do) never
        // merge two tenants' groups of the same alertname.
        const groupLabels = sentLabels(rule.tenant, g.labels);
        const sentKey = groupKey(groupLabels);
        others ??= otherParts(rule, receiver);
        const parts = [part, ...(others.get(sentKey) ?? [])];
        if (parts.every((p) => p.firing.length === 0 && p.resolved.length === 0)) continue;
        const lk = laneKey(receiver.name, rule.tenant, sentKey);
        // An Alertmanager groups by itself: it is posted alerts as they change, as Prometheus posts
        // them. A retiring rule's last messages are not held either (nothing would send them later).
        if (!retiring && receiver.type !== 'alertmanager') {
          const at = sendableAt(rule, lk, parts, now);
          if (at > now) {
            hold(lk, at, rule);
            continue;
          }
        }
        held.delete(lk);
        // Another replica holds the lease and sends this; the state is kept all the same.
        if (!lease.held()) {
          for (const p of parts) recordLeft(p, now);
          counts.notificationsLeftToOtherReplica++;
          continue;
        }
        const fps = (list: AlertInstance[]) => list.map((m) => m.fingerprint).sort();
        // A retiring message is not one a group message already queued carries (that leaves the gone rule out).
        const signature = `${retiring ? 'retiring ' : ''}${JSON.stringify([fps(parts.flatMap((p) => p.firing)), fps(parts.flatMap((p) => p.resolved))])}`;
        if (sending(lk, signature)) continue;
        const queued = parts.map((p) => ({ ...p, firing: p.firing.map((a) => structuredClone(a)), resolved: p.resolved.map((a) => structuredClone(a)) }));
        // Alertmanager resolves a firing alert at its endsAt unless it is sent again before; Prometheus
        // sets it 4 resend intervals ahead.
        const firingValidFor = receiver.type === 'alertmanager' ? 4n * every : undefined;
        const kind = retiring ? 'fixed' : 'group';
        const flush = { at: now };
        if (kind === 'group') inFlight.set(lk, flush);
        enqueue(lk, {
          kind,
          signature,
          rules: new Set(parts.map((p) => key(p.rule.tenant, p.rule.id))),
          run: (superseded) =>
            sendGroup({ kind, receiver, groupLabels, parts: queued, now, firingValidFor }, superseded).finally(() => {
              if (inFlight.get(lk) === flush) inFlight.delete(lk);
            }),
        });
      }
    }
  }

  async function runTick(): Promise<void> {
    if (stopped) return;
    const wasHolder = lease.held();
    await lease.renew();
    if (lease.held() !== wasHolder) {
      if (lease.held()) takeOver();
      else leaseLost();
    }
    const now = clock.now();
    await dropOldSilences(now);
    if (lastHistoryPrune === undefined || now - lastHistoryPrune >= HISTORY_PRUNE_EVERY) {
      lastHistoryPrune = now;
      // A failed prune is retried an hour later; this tick's evaluations go on.
      await store.deleteHistoryBefore(now - limits.historyRetention).catch((err: unknown) => logger.warn({ err }, 'deleting old alert history failed'));
    }
    // Notified once every due rule is evaluated: rules whose alerts share a group (a warning and a
    // critical rule of one name) changing in one tick are one message, as alerts arriving together
    // are in Alertmanager; the first rule's message would otherwise hold the second's change a
    // whole group_interval.
    const evaluated: AlertRule[] = [];
    for (const rule of [...rules.values()]) {
      const k = key(rule.tenant, rule.id);
      if (rules.get(k) !== rule) continue; // deleted or replaced since the tick began
      // Its reason shows as its lastEvaluationError (status) until it is updated or deleted.
      if (rule.broken !== undefined) continue;
      const last = lastEval.get(k);
      // Due half a tick early: a tick that ran a few ms late must not make the next one skip the rule.
      if (last !== undefined && now - last < rule.interval - dueSlack) continue;
      lastEval.set(k, now);
      // A failed evaluation keeps the rule's alerts as they are and sends nothing.
      const done = evaluate(rule, now).then(
        () => void evaluated.push(rule),
        (err: unknown) => {
          statusOf(rule.tenant, rule.id).lastEvaluationError = (err as Error).message;
          logger.error({ err, rule: rule.id }, 'alert evaluation failed');
        },
      );
      evaluating = { key: k, done };
      await done;
      evaluating = undefined;
    }
    for (const rule of evaluated) if (rules.get(key(rule.tenant, rule.id)) === rule) notify(rule, now);
    sendHeld(now);
    // With the rule changes: a rule created again under a gone one's ID takes its state over instead.
    if (retired.size) await serially(() => retryRetired(now)).catch((err: unknown) => logger.error({ err }, 'resending the resolutions of removed rules failed'));
  }

  /**
   * Taking over from another holder: its deliveries may or may not have arrived. What it was asked
   * to send as firing is owed a resolution (maybeFiring); firing groups are sent as this replica
   * delivered them itself; every rule checks for alerts stranded by a routing change it left to the holder.
   */
  function takeOver(): void {
    for (const stateKey of new Set([...groupsLeft.keys(), ...resolutionsLeft.keys()])) {
      const asked = [...(groupsLeft.get(stateKey)?.notifiedFiring ?? []), ...(resolutionsLeft.get(stateKey) ?? [])];
      if (asked.length === 0) continue;
      const state = groupState(stateKey);
      for (const fp of asked) if (!state.notifiedFiring.has(fp)) state.maybeFiring.add(fp);
    }
    groupsLeft.clear();
    resolutionsLeft.clear();
    for (const k of rules.keys()) releaseDue.add(k);
    logger.info('taking over alert notifications: firing groups this replica has not delivered itself are sent, and the resolutions of alerts the holder may have sent');
  }

  /**
   * Another replica holds the lease now and may send this replica's groups again (resolved, then
   * firing again, and fail): what this replica delivered is only "maybe" when it takes over again.
   */
  function leaseLost(): void {
    for (const state of groups.values()) {
      for (const fp of state.notifiedFiring) state.maybeFiring.add(fp);
      state.notifiedFiring.clear();
    }
  }

  /**
   * Waits for the evaluation of a rule just removed from `rules`, if one is running: retiring its
   * alerts before it ends would let it write and notify an alert of a rule that is gone.
   */
  async function evaluationEnded(k: string): Promise<void> {
    if (evaluating?.key === k) await evaluating.done;
  }

  async function dropOldSilences(now: bigint): Promise<void> {
    for (const s of [...silences.values()]) if (now - s.endsAt > limits.silenceRetention) await dropSilence(s);
  }

  async function dropSilence(s: Silence): Promise<void> {
    silences.delete(key(s.tenant, s.id));
    await store.deleteSilence(s.tenant, s.id);
  }

  function checkWritable(tenant: string, id: string): AlertRule {
    const rule = rules.get(key(tenant, id));
    if (!rule) throw new AlertingError('NOT_FOUND', `no alert rule ${JSON.stringify(id)} for this tenant`);
    if (rule.source === 'file') throw new AlertingError('READ_ONLY', `alert rule ${JSON.stringify(id)} comes from the rules file; change it there`);
    return rule;
  }

  /**
   * A rule that goes away (deleted, or gone from the rules file) resolves its alerts as
   * Alertmanager does when an alert stops being sent: firing ones become RESOLVED (history, event,
   * and a resolved notification to whoever got the firing one), pending ones INACTIVE; then its
   * state goes.
   */
  async function retireRule(rule: AlertRule): Promise<void> {
    const now = clock.now();
    for (const inst of [...instances.values()]) {
      if (inst.tenant !== rule.tenant || inst.ruleId !== rule.id) continue;
      if (inst.state === 'FIRING') {
        inst.resolvedAt = now;
        inst.lastEvaluatedAt = now;
        await transition(rule, inst, 'RESOLVED', now);
        // Listed (resolved, its rule gone) while a receiver is owed its resolution.
        await store.saveInstance(inst);
      } else if (inst.state === 'PENDING') {
        await endPending(rule, inst, now);
      }
    }
    retired.set(key(rule.tenant, rule.id), rule);
    notify(rule, now, true);
    // A firing message of the rule still being retried is not retried further: its resolution, if
    // its firing arrives meanwhile, follows it (sendGroup).
    for (const lane of lanes.values()) if (lane.current?.job.kind === 'group' && lane.current.job.rules.has(key(rule.tenant, rule.id))) lane.current.superseded.abort();
    if (owedResolutions(rule) === 0) await forgetRetired(rule);
  }

  /**
   * Resolutions of a gone rule's alerts that receivers are owed: alerts delivered (or maybe
   * delivered) as firing and not delivered resolved, releases on their way or failed included, to
   * receivers still configured (one removed from the config cannot be told).
   */
  function owedResolutions(rule: AlertRule): number {
    const groupPrefix = `\u0000${rule.tenant}/${rule.id}/`;
    const owed = new Set<string>(); // stateKey, fingerprint
    for (const [k, state] of groups) if (k.includes(groupPrefix)) for (const fp of [...state.notifiedFiring, ...state.maybeFiring]) owed.add(`${k}\u0000${fp}`);
    for (const k of strandedSince.keys()) if (k.includes(groupPrefix)) owed.add(k);
    let n = 0;
    for (const k of owed) {
      const receiverName = k.slice(0, k.indexOf('\u0000'));
      const fp = k.slice(k.lastIndexOf('\u0000') + 1);
      if (opts.receivers.some((r) => r.name === receiverName) && instances.has(key(rule.tenant, fp))) n++;
    }
    return n;
  }

  /** A gone rule that owes nothing more: its alerts and notification state go. */
  async function forgetRetired(rule: AlertRule): Promise<void> {
    const k = key(rule.tenant, rule.id);
    if (retired.get(k) !== rule) return;
    retired.delete(k);
    const groupPrefix = `\u0000${rule.tenant}/${rule.id}/`;
    for (const view of [groups, groupsLeft, resolutionsLeft]) for (const g of [...view.keys()]) if (g.includes(groupPrefix)) view.delete(g);
    for (const g of [...strandedSince.keys()]) if (g.includes(groupPrefix)) strandedSince.delete(g);
    await store.deleteNotified(rule.tenant, rule.id);
    await dropRuleState(rule.tenant, rule.id);
  }

  /** Each tick: the gone rules' resolutions not delivered yet are sent again; those delivered let their rule go. */
  async function retryRetired(now: bigint): Promise<void> {
    for (const rule of [...retired.values()]) {
      if (owedResolutions(rule) === 0) await forgetRetired(rule);
      else if (lease.held()) notify(rule, now, true);
    }
  }

  /** A rule back under the ID of a gone one (created again, back in the file) takes over its owed resolutions. */
  function revive(k: string): void {
    if (retired.delete(k)) releaseDue.add(k);
  }

  /**
   * The alerts of a rule that went while the gateway was down (removed from the rules file, or the
   * file no longer configured) are retired as a removed rule's are. Its definition is gone, so
   * retiring reads what it needs from what was notified: the receivers that got each group and the
   * group's labels (the rule's groupBy, in order, so the stored notification state is found).
   */
  async function retireRulesGone(): Promise<void> {
    const gone = new Map<string, AlertInstance>();
    for (const inst of instances.values()) if (!rules.has(key(inst.tenant, inst.ruleId))) gone.set(key(inst.tenant, inst.ruleId), inst);
    for (const inst of gone.values()) {
      const groupPrefix = `\u0000${inst.tenant}/${inst.ruleId}/`;
      const notified = [...groups.keys()].filter((k) => k.includes(groupPrefix));
      const receiverNames = [...new Set(notified.map((k) => k.slice(0, k.indexOf(groupPrefix))))];
      const groupLabels = notified[0] === undefined ? { alertname: '' } : (JSON.parse(notified[0].slice(notified[0].indexOf(groupPrefix) + groupPrefix.length)) as Record<string, string>);
      const name = inst.labels.alertname ?? inst.ruleId;
      logger.info({ rule: inst.ruleId, tenant: inst.tenant, name }, 'the alerts of a rule that no longer exists are resolved');
      await retireRule({
        ...GONE_RULE,
        id: inst.ruleId,
        tenant: inst.tenant,
        name,
        // None at all means every receiver: none of them was sent a firing message to resolve.
        receivers: receiverNames,
        groupBy: Object.keys(groupLabels),
      });
    }
  }

  async function dropRuleState(tenant: string, id: string): Promise<void> {
    for (const [k, inst] of instances) {
      if (inst.tenant === tenant && inst.ruleId === id) {
        instances.delete(k);
        await store.deleteInstance(tenant, inst.fingerprint);
      }
    }
    lastEval.delete(key(tenant, id));
    releaseDue.delete(key(tenant, id));
    statuses.delete(key(tenant, id));
    receiverErrors.delete(key(tenant, id));
  }

  return {
    store,
    historySettled: async () => {
      await Promise.allSettled([...historyWrites]);
    },
    promqlBackend: promql.backend,
    metrics() {
      const byState = new Map<string, number>([['PENDING', 0], ['FIRING', 0], ['RESOLVED', 0]]);
      for (const i of instances.values()) byState.set(i.state, (byState.get(i.state) ?? 0) + 1);
      return [
        { name: 'teleql_alerting_rules', help: 'Alert rules loaded (all tenants)', type: 'gauge', value: rules.size },
        ...[...byState].map(([state, value]): MetricSample => ({ name: 'teleql_alerting_alerts', help: 'Alerts by state (all tenants)', type: 'gauge', value, labels: { state: state.toLowerCase() } })),
        { name: 'teleql_alerting_evaluations_total', help: 'Rule evaluations', type: 'counter', value: counts.evaluations },
        { name: 'teleql_alerting_evaluation_failures_total', help: 'Rule evaluations that failed', type: 'counter', value: counts.evaluationFailures },
        { name: 'teleql_alerting_notifications_total', help: 'Notifications delivered, or given up on after retries', type: 'counter', value: counts.notificationsSent, labels: { result: 'sent' } },
        { name: 'teleql_alerting_notifications_total', help: 'Notifications delivered, or given up on after retries', type: 'counter', value: counts.notificationsFailed, labels: { result: 'failed' } },
        { name: 'teleql_alerting_notifications_total', help: 'Notifications delivered, or given up on after retries', type: 'counter', value: counts.notificationsLeftToOtherReplica, labels: { result: 'other_replica' } },
        {
          name: 'teleql_alerting_resolutions_owed',
          help: 'Alerts of removed rules (deleted, or gone from the rules file) whose resolution a receiver has not been delivered yet; sent again every tick',
          type: 'gauge',
          value: [...retired.values()].reduce((n, r) => n + owedResolutions(r), 0),
        },
        { name: 'teleql_alerting_notifier', help: '1 when this replica sends the alert notifications (holds the lease when several replicas share Redis)', type: 'gauge', value: lease.held() ? 1 : 0 },
        ...(opts.rulesFileMetrics?.() ?? []),
      ];
    },
    async start() {
      for (const r of await store.loadRules()) {
        rules.set(key(r.tenant, r.id), r);
        releaseDue.add(key(r.tenant, r.id));
        if (r.broken !== undefined) {
          logger.error({ rule: r.id, tenant: r.tenant, name: r.name, reason: r.broken }, 'a stored alert rule is refused by this version: kept as stored, not evaluated; update or delete it');
          continue;
        }
        // Stored before the bounds were enforced: kept (refusing it would stop the gateway), and said.
        const problems = (['interval', 'window', 'for'] as const).map((f) => ruleDurationProblem(f, r[f], `rule.${f}`)).filter((p) => p !== null);
        if (problems.length) logger.warn({ rule: r.id, tenant: r.tenant, name: r.name, problems }, 'a stored alert rule is outside the bounds a new rule must keep; update it');
        // Stored before such templates were refused: kept, the form sent as it is written.
        const templates = [...Object.values(r.labels), ...Object.values(r.annotations)].map(unsupportedTemplate).filter((t) => t !== null);
        if (templates.length) logger.warn({ rule: r.id, tenant: r.tenant, name: r.name, templates }, 'a stored alert rule has template forms the gateway does not expand; update it');
      }
      for (const i of await store.loadInstances()) instances.set(key(i.tenant, i.fingerprint), i);
      for (const s of await store.loadSilences()) {
        silences.set(key(s.tenant, s.id), s);
        // Stored with a matcher this version refuses: kept (listed with the reason), matching nothing.
        const problem = silenceProblem(s);
        if (problem !== null && clock.now() < s.endsAt) logger.error({ silence: s.id, tenant: s.tenant, reason: problem }, 'a stored silence is refused by this version: it silences nothing; unsilence it and create it again');
      }
      // Without it a restart sent every firing group again and never sent the resolutions due.
      for (const g of await store.loadNotified()) groups.set(g.key, { lastSentAt: g.lastSentAt, notifiedFiring: new Set(g.firing), maybeFiring: new Set<string>() });
      logger.info({ rules: rules.size, instances: instances.size, silences: silences.size, promql: promql.backend }, 'alerting started');
    },
    tick() {
      // Ticks never overlap, and at most one waits behind a running one: a timer firing faster
      // than evaluations finish does not build a queue.
      if (!running) {
        running = runTick().finally(() => {
          running = null;
        });
        return running;
      }
      queued ??= running.then(() => {
        queued = null;
        return this.tick();
      });
      return queued;
    },
    async idle() {
      while (deliveries.size) await Promise.all([...deliveries]);
    },
    async stop() {
      stopped = true;
      await (queued ?? running)?.catch(() => undefined);
      notifier.close();
      await this.idle();
      await lease.close();
    },
    retireRulesGone: () => serially(retireRulesGone),
    rules: (tenant) => [...rules.values()].filter((r) => r.tenant === tenant).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)),
    rule: (tenant, id) => rules.get(key(tenant, id)),
    status(tenant, id) {
      const broken = rules.get(key(tenant, id))?.broken;
      const status = { ...statusOf(tenant, id) };
      if (broken !== undefined) status.lastEvaluationError = `not evaluated: stored by an earlier version, this rule is refused now (${broken}); update or delete it`;
      return status;
    },
    createRule(tenant, raw) {
      return serially(async () => {
        const rule = parseRule(raw, { tenant, source: 'api', where: 'rule', defaults: opts.ruleDefaults });
        checkReceiverNames(rule, 'rule');
        checkRuleTemplates(rule, 'rule');
        const sameId = rules.get(key(tenant, rule.id));
        if (sameId) throw new AlertingError('BAD_RULE', `rule.id: an alert rule ${JSON.stringify(rule.id)} already exists (${sourceText(sameId)})`);
        checkApiName(rule);
        let held = 0;
        for (const r of rules.values()) if (r.tenant === tenant && r.source === 'api') held++;
        if (held >= limits.rulesPerTenant) {
          throw new AlertingError('LIMIT', `alerting.maxRulesPerTenant: this tenant already has ${held} alert rules, the most allowed (${limits.rulesPerTenant}); delete one first`);
        }
        // Last: on Prometheus it is a request.
        await checkExpr(rule, 'rule');
        await store.saveRule(rule);
        rules.set(key(tenant, rule.id), rule);
        revive(key(tenant, rule.id));
        return rule;
      });
    },
    updateRule(tenant, id, raw) {
      return serially(async () => {
        checkWritable(tenant, id);
        const rule = parseRule({ ...(raw as object), id }, { tenant, source: 'api', where: 'rule', defaults: opts.ruleDefaults });
        checkReceiverNames(rule, 'rule');
        checkRuleTemplates(rule, 'rule');
        checkApiName(rule);
        await checkExpr(rule, 'rule');
        const before = rules.get(key(tenant, id));
        await store.saveRule(rule);
        rules.set(key(tenant, id), rule);
        lastEval.delete(key(tenant, id)); // evaluate the new definition at the next tick
        if (before?.name !== rule.name) opts.onApiRuleGone?.();
        // An evaluation of the old definition may still notify its receivers: release after it.
        await evaluationEnded(key(tenant, id));
        if (before && routingChanged(before, rule)) releaseStranded(rule, clock.now());
        return rule;
      });
    },
    deleteRule(tenant, id) {
      return serially(async () => {
        const rule = checkWritable(tenant, id);
        rules.delete(key(tenant, id));
        await evaluationEnded(key(tenant, id));
        await store.deleteRule(tenant, id);
        await retireRule(rule);
        opts.onApiRuleGone?.();
        return true;
      });
    },
    setFileRules(next) {
      return serially(async () => {
        // Every rule is checked before any changes: a refused file leaves the previous rules in force.
        for (const r of next) {
          checkReceiverNames(r, `rule ${JSON.stringify(r.name)}`);
          checkFileRule(r);
        }
        const nextKeys = new Set(next.map((r) => key(r.tenant, r.id)));
        for (const [k, r] of rules) {
          if (r.source === 'file' && !nextKeys.has(k)) {
            rules.delete(k);
            await evaluationEnded(k);
            await retireRule(r);
          }
        }
        const changed: AlertRule[] = [];
        for (const r of next) {
          const k = key(r.tenant, r.id);
          const before = rules.get(k);
          if (!before) releaseDue.add(k); // (at start-up: it may have changed while the gateway was down)
          else if (routingChanged(before, r)) changed.push(r);
          rules.set(k, r);
          revive(k);
        }
        // A kept rule whose receivers or groupBy changed releases the alerts it no longer sends where it did.
        for (const r of changed) {
          await evaluationEnded(key(r.tenant, r.id));
          releaseStranded(r, clock.now());
        }
      });
    },
    async checkFileRules(next) {
      for (const r of next) {
        try {
          checkRuleTemplates(r, `rule ${JSON.stringify(r.name)}`);
        } catch (err) {
          throw aboutTenant(err, r.tenant);
        }
      }
      // In parallel (each may ask Prometheus); the first refused in file order is reported.
      const checked = await Promise.allSettled(next.map((r) => checkExpr(r, `rule ${JSON.stringify(r.name)}`).catch((err: unknown) => Promise.reject(aboutTenant(err, r.tenant)))));
      const refused = checked.find((c): c is PromiseRejectedResult => c.status === 'rejected');
      if (refused) throw refused.reason as Error;
    },
    rulesFileError(tenant) {
      const refusal = opts.rulesFileRefusal?.();
      if (!refusal) return null;
      // Another tenant's rule, or the file as a whole (a YAML error quotes its lines): not shown here.
      const why = refusal.tenant === tenant ? refusal.error : "the reason concerns the file as a whole or another tenant's rule: the gateway's log says it";
      return `the rules file (alerting.rulesFile) was changed and the change refused at ${new Date(refusal.atMs).toISOString()}, so this rule is as last loaded; ${why}`;
    },
    instances: (tenant, ruleId) => [...instances.values()].filter((i) => i.tenant === tenant && (ruleId === undefined || i.ruleId === ruleId)),
    silences(tenant, includeExpired) {
      const now = clock.now();
      return [...silences.values()].filter((s) => s.tenant === tenant && (includeExpired || now < s.endsAt)).sort((a, b) => (a.startsAt < b.startsAt ? -1 : 1));
    },
    async silence(tenant, input) {
      const now = clock.now();
      const s = newSilence(tenant, input, now);
      const held = [...silences.values()].filter((x) => x.tenant === tenant);
      if (held.length >= limits.silencesPerTenant) {
        // At the limit, the oldest expired silence gives its place; if none has expired, refuse.
        const expired = held.filter((x) => x.endsAt <= now).sort((a, b) => (a.endsAt < b.endsAt ? -1 : 1));
        if (!expired.length) {
          throw new AlertingError('LIMIT', `alerting.maxSilencesPerTenant: this tenant holds ${held.length} silences, none of them expired, the most allowed (${limits.silencesPerTenant}); expire one first`);
        }
        for (const x of expired.slice(0, held.length - limits.silencesPerTenant + 1)) await dropSilence(x);
      }
      await store.saveSilence(s);
      silences.set(key(tenant, s.id), s);
      return s;
    },
    async unsilence(tenant, id) {
      const s = silences.get(key(tenant, id));
      if (!s) throw new AlertingError('NOT_FOUND', `no silence ${JSON.stringify(id)} for this tenant`);
      // Expiring keeps the record (as Alertmanager does), so the history of who silenced what stays.
      const now = clock.now();
      if (s.endsAt > now) s.endsAt = now < s.startsAt ? s.startsAt : now;
      await store.saveSilence(s);
      return s;
    },
  };
}
