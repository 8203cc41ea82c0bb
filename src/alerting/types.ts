// The alerting model: rules, alert instances and their states, silences, evidence, and the small
// interfaces the engine reads signals through (so it never talks to a backend client itself).
import type { TelemetryFilter, TimeRange } from '../stores/types.ts';

export type RuleKind = 'PROMQL' | 'SPAN_ERROR_RATE' | 'SPAN_LATENCY_QUANTILE' | 'LOG_COUNT' | 'NO_DATA';
export const RULE_KINDS: readonly RuleKind[] = ['PROMQL', 'SPAN_ERROR_RATE', 'SPAN_LATENCY_QUANTILE', 'LOG_COUNT', 'NO_DATA'];

export type Comparator = 'GT' | 'GTE' | 'LT' | 'LTE' | 'EQ' | 'NEQ';
export const COMPARATORS: readonly Comparator[] = ['GT', 'GTE', 'LT', 'LTE', 'EQ', 'NEQ'];

/** The labels a span or log rule can split its series by. */
export type SeriesDimension = 'service' | 'operation';

export type NoDataSignal = 'spans' | 'logs' | 'metrics';

export interface AlertRule {
  id: string;
  tenant: string;
  /** Becomes the `alertname` label. */
  name: string;
  kind: RuleKind;
  /** 'file' rules come from alerting.rulesFile and cannot be changed through the API. */
  source: 'file' | 'api';
  /** PROMQL: the expression; every series it returns is one alert instance. */
  expr?: string;
  /** SPAN_*, LOG_COUNT and NO_DATA (any signal): only these services (resource service.name); operations (span names): SPAN_* only; empty = all. */
  services?: string[];
  operations?: string[];
  /** SPAN_* and LOG_COUNT: one series per distinct value of these (default: service for spans, none for logs). */
  by?: SeriesDimension[];
  /** SPAN_LATENCY_QUANTILE: 0 < q < 1; the value is in milliseconds. */
  quantile?: number;
  /** Extra condition on the spans / logs counted (the search filter language, without a time range); not for NO_DATA on metrics. */
  filter?: TelemetryFilter;
  /** NO_DATA: which signal must keep arriving; `metric` names the metric for 'metrics' (stored OTel name or Prometheus name, as in PROMQL). */
  signal?: NoDataSignal;
  metric?: string;
  threshold: number;
  comparator: Comparator;
  /** The span/log window each evaluation looks back over, ns. */
  window: bigint;
  /** How long the condition must hold before pending becomes firing, ns (0: fire at once). */
  for: bigint;
  /** How often the rule is evaluated, ns. */
  interval: bigint;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Receiver names; empty = every configured receiver. */
  receivers: string[];
  /** Notification grouping: alerts of this rule with equal values of these labels go in one message. */
  groupBy: string[];
  /** Re-send a still-firing group this often, ns. */
  repeatInterval: bigint;
  /**
   * As Alertmanager's group_wait and group_interval, ns: a new group's first message waits
   * groupWait to collect the alerts firing with it; later changes of the group go no more often than
   * every groupInterval. Unset: alerting.defaultGroupWait / defaultGroupInterval.
   */
  groupWait?: bigint;
  groupInterval?: bigint;
  /**
   * A stored API rule this version refuses (a filter regex the matcher no longer takes, a key it
   * does not know): why. It is kept as stored and listed, but not evaluated, until it is updated or
   * deleted; a rule checked by this version never has it.
   */
  broken?: string;
}

export type AlertState = 'INACTIVE' | 'PENDING' | 'FIRING' | 'RESOLVED';
export const ALERT_STATES: readonly AlertState[] = ['INACTIVE', 'PENDING', 'FIRING', 'RESOLVED'];

export interface TraceExemplar {
  traceId: string;
  spanId: string;
  /** Span duration in ns, or null for a log exemplar. */
  durationNano: bigint | null;
  error: boolean;
}

export interface ExceptionGroup {
  /** The correlation fingerprint (type + normalised frames), as in the `exceptionGroups` query. */
  fingerprint: string;
  type: string;
  message: string;
  count: number;
  /** A trace where it occurred, to open. */
  sampleTraceId: string | null;
}

export interface AlertEvidence {
  value: number;
  window: TimeRange;
  exemplars: TraceExemplar[];
  exceptionGroups: ExceptionGroup[];
}

/** One series of one rule: deduplicated by rule + label set (the fingerprint). */
export interface AlertInstance {
  tenant: string;
  ruleId: string;
  fingerprint: string;
  /** alertname, the series labels, and the rule's labels. */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: AlertState;
  value: number | null;
  /** When the condition started holding (the pending start). */
  activeAt: bigint | null;
  firedAt: bigint | null;
  resolvedAt: bigint | null;
  lastEvaluatedAt: bigint;
  evidence: AlertEvidence | null;
  /** IDs of the active silences that match (computed at each evaluation). */
  silencedBy: string[];
  /**
   * PENDING only: the firing this alert had before its condition came back, while a receiver that
   * was sent it as firing has not been delivered its resolution yet. Such receivers are sent it
   * resolved with these times; if the alert fires again first, its firing simply continues for them.
   */
  owedResolution?: OwedResolution;
}

export interface OwedResolution {
  activeAt: bigint | null;
  firedAt: bigint | null;
  resolvedAt: bigint;
  value: number | null;
  annotations: Record<string, string>;
}

export interface AlertTransition {
  tenant: string;
  ruleId: string;
  ruleName: string;
  fingerprint: string;
  labels: Record<string, string>;
  from: AlertState;
  to: AlertState;
  at: bigint;
  value: number | null;
}

export type MatcherType = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  name: string;
  value: string;
  type: MatcherType;
}

export interface Silence {
  id: string;
  tenant: string;
  matchers: Matcher[];
  startsAt: bigint;
  endsAt: bigint;
  createdBy: string;
  comment: string;
}

/** One receiver's view of one alert group: when it was last sent, and which alerts were firing in it. */
export interface NotifiedGroup {
  tenant: string;
  ruleId: string;
  /** The engine's key: receiver name and group. */
  key: string;
  lastSentAt: bigint | null;
  firing: string[];
}

/** Persistence of everything alerting keeps; every call is scoped to a tenant. */
export interface AlertStore {
  loadRules(): Promise<AlertRule[]>;
  saveRule(rule: AlertRule): Promise<void>;
  deleteRule(tenant: string, id: string): Promise<void>;
  loadInstances(): Promise<AlertInstance[]>;
  saveInstance(instance: AlertInstance): Promise<void>;
  deleteInstance(tenant: string, fingerprint: string): Promise<void>;
  appendHistory(t: AlertTransition): Promise<void>;
  /** Deletes state changes before `atNs`; how many. */
  deleteHistoryBefore(atNs: bigint): Promise<number>;
  /** Newest first (`oldestFirst`: a since replay's order); `ruleIds` and `states` (changes into them) narrow it. */
  history(tenant: string, q: { ruleIds?: readonly string[]; states?: readonly AlertState[]; range?: TimeRange; limit: number; oldestFirst?: boolean }): Promise<AlertTransition[]>;
  /** Instances now in one of `states` (any when unset) that were active at some time in the range. */
  alerts(tenant: string, q: { states?: AlertState[]; range?: TimeRange; limit: number }): Promise<AlertInstance[]>;
  /** What each receiver was last sent per group, so that a restart neither repeats nor loses a message. */
  loadNotified(): Promise<NotifiedGroup[]>;
  saveNotified(g: NotifiedGroup): Promise<void>;
  deleteNotified(tenant: string, ruleId: string): Promise<void>;
  loadSilences(): Promise<Silence[]>;
  saveSilence(s: Silence): Promise<void>;
  deleteSilence(tenant: string, id: string): Promise<void>;
}

export interface SpanStatsQuery {
  range: Required<TimeRange>;
  filter: TelemetryFilter;
  by: SeriesDimension[];
  quantile?: number;
}

export interface SpanStats {
  labels: Record<string, string>;
  total: number;
  errors: number;
  /** Duration quantile in ms when asked for. */
  quantileMs: number | null;
}

export interface CountQuery {
  range: Required<TimeRange>;
  filter: TelemetryFilter;
  by: SeriesDimension[];
}

/** The queries rule evaluation needs from the span and log stores (DuckDB: alert-signals.ts). */
export interface AlertSignals {
  spanStats(tenant: string, q: SpanStatsQuery): Promise<SpanStats[]>;
  logCounts(tenant: string, q: CountQuery): Promise<{ labels: Record<string, string>; count: number }[]>;
  /**
   * Points of these stored metrics in the range; with `services`, only those of resources whose
   * service.name is one of them; `byService`: one count per service that has points (label `service`).
   */
  metricPointCounts(tenant: string, q: { names: string[]; services?: string[]; range: Required<TimeRange>; byService: boolean }): Promise<{ labels: Record<string, string>; count: number }[]>;
  /** Spans matching the filter, worst first: errors first, then slowest. */
  worstSpans(tenant: string, q: { range: Required<TimeRange>; filter: TelemetryFilter; limit: number }): Promise<TraceExemplar[]>;
  /** Trace IDs of logs matching the filter, newest first. */
  logTraces(tenant: string, q: { range: Required<TimeRange>; filter: TelemetryFilter; limit: number }): Promise<TraceExemplar[]>;
}

/** Top exception groups of a window (implemented over src/correlation/ by exception-evidence.ts). */
export interface ExceptionGroupSource {
  topExceptionGroups(tenant: string, q: { range: Required<TimeRange>; filter: TelemetryFilter; limit: number }): Promise<ExceptionGroup[]>;
}

export interface PromQlSample {
  labels: Record<string, string>;
  value: number;
  /** Trace exemplars of the points behind the sample, newest first (embedded evaluator only). */
  exemplars?: TraceExemplar[];
}

/** Evaluates an instant PromQL query for a tenant at a time (ns). */
export interface PromQlEvaluator {
  readonly backend: string;
  /**
   * Rejects (PromQlError, saying what is wrong) an expression this backend cannot run. Resolves with
   * null when it can, or with the reason it could not be checked (the backend is unreachable, or
   * cannot parse without running): such a rule is accepted and shows any error at evaluation.
   */
  check(tenant: string, expr: string): Promise<string | null>;
  query(tenant: string, expr: string, time: bigint): Promise<PromQlSample[]>;
}

/** Time as the engine sees it, in ns; tests inject their own to drive evaluations. */
export interface Clock {
  now(): bigint;
}

export const systemClock: Clock = { now: () => BigInt(Date.now()) * 1_000_000n };

/** A rule or silence the user sent is invalid; `code` maps to a GW_* error at the GraphQL boundary. */
export class AlertingError extends Error {
  readonly code: 'BAD_RULE' | 'NOT_FOUND' | 'READ_ONLY' | 'BAD_SILENCE' | 'LIMIT';
  /**
   * The tenant whose rule the error is about, when it is about one rule of the rules file: that
   * tenant may be shown it (`AlertRule.rulesFileError`); an error about the file as a whole or
   * another tenant's rule is not shown to tenants, as it may quote their rules.
   */
  readonly tenant: string | undefined;
  constructor(code: AlertingError['code'], message: string, tenant?: string) {
    super(message);
    this.name = 'AlertingError';
    this.code = code;
    this.tenant = tenant;
  }
}

/** `err` as an AlertingError about `tenant`'s rule (other errors unchanged). */
export function aboutTenant(err: unknown, tenant: string): unknown {
  return err instanceof AlertingError ? new AlertingError(err.code, err.message, tenant) : err;
}
