// AlertRule: its definition, evaluation and notification status, and its current alerts; the
// rule queries and the create/update/delete mutations.
import { alertRule, alertRules, createAlertRule, deleteAlertRule, ruleStatus, rulesFileError, updateAlertRule } from '../resolvers/alerts.ts';
import { plainFilter, ruleToPlain } from '../src/alerting/rules.ts';
import { builder } from './builder.ts';
import {
  AlertComparatorEnum,
  AlertRef,
  AlertRuleKindEnum,
  AlertRuleRef,
  AlertSeriesDimensionEnum,
  AlertSignalEnum,
} from './alert-refs.ts';

const AlertRuleInput = builder.inputType('AlertRuleInput', {
  description:
    'A rule, with the same fields as an entry of the rules YAML file. Durations are Duration values ("5m"). ' +
    'Unset fields take their defaults (interval alerting.defaultInterval, window alerting.defaultWindow, for 0, comparator GT).',
  fields: (t) => ({
    id: t.id({ description: 'Chosen by the gateway when unset (create only).' }),
    name: t.string({ required: true, description: 'Becomes the alertname label.' }),
    kind: t.field({ type: AlertRuleKindEnum, required: true }),
    expr: t.string({ description: 'PROMQL: the expression.' }),
    services: t.stringList({ description: 'Span, log and NO_DATA rules (any signal, metrics included): only these services (resource service.name).' }),
    operations: t.stringList({ description: 'Span rules: only these operations (span names).' }),
    by: t.field({ type: [AlertSeriesDimensionEnum], description: 'One alert per distinct value of these (span rules: SERVICE and/or OPERATION, default SERVICE; LOG_COUNT: SERVICE; NO_DATA: SERVICE, one alert per listed service, which needs services). A field the kind does not use is refused, not ignored.' }),
    quantile: t.float({ description: 'SPAN_LATENCY_QUANTILE: 0 < q < 1 (default 0.99).' }),
    filter: t.field({ type: 'TelemetryFilter', description: 'Extra condition on the spans/logs counted; no from/to (the window sets them). Refused for NO_DATA on METRICS.' }),
    signal: t.field({ type: AlertSignalEnum, description: 'NO_DATA: the signal that must keep arriving (default SPANS).' }),
    metric: t.string({ description: 'NO_DATA on METRICS: the metric, by its stored OTel name or its Prometheus name (as in PROMQL).' }),
    threshold: t.float({ description: 'Required except for NO_DATA (default 0).' }),
    comparator: t.field({ type: AlertComparatorEnum, description: 'value <comparator> threshold is the alert condition.' }),
    window: t.field({ type: 'Duration', description: 'The time each evaluation looks back over: 1s to 30d.' }),
    for: t.field({ type: 'Duration', description: 'How long the condition must hold before the alert fires: 0 (at once) to 30d.' }),
    interval: t.field({ type: 'Duration', description: 'How often the rule is evaluated: 1s to 30d.' }),
    labels: t.field({ type: 'JSON', description: 'Extra labels, an object of strings; {{ $value }} and {{ $labels.name }} are expanded (other template forms are refused).' }),
    annotations: t.field({ type: 'JSON', description: 'An object of strings; {{ $value }} and {{ $labels.name }} are expanded (other template forms are refused).' }),
    receivers: t.stringList({ description: 'Receiver names (alerting.receivers); unset = all.' }),
    groupBy: t.stringList({ description: 'Labels whose values group alerts into one notification (default: alertname); ["..."] alone groups by all labels (one notification per alert).' }),
    repeatInterval: t.field({ type: 'Duration', description: 'Re-send a still-firing group this often.' }),
    groupWait: t.field({ type: 'Duration', description: "A new group's first notification waits this long to collect the alerts firing with it (Alertmanager's group_wait); unset: alerting.defaultGroupWait (30s)." }),
    groupInterval: t.field({ type: 'Duration', description: "A group's later changes are notified no more often than this (Alertmanager's group_interval; more than 0); unset: alerting.defaultGroupInterval (5m)." }),
  }),
});

builder.objectType(AlertRuleRef, {
  description: 'An alert rule of the tenant, from the rules file (source FILE, read-only here) or created through the API.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    kind: t.field({ type: AlertRuleKindEnum, resolve: (r) => r.kind }),
    source: t.string({ description: 'FILE or API.', resolve: (r) => r.source.toUpperCase() }),
    expr: t.string({ nullable: true, resolve: (r) => r.expr ?? null }),
    services: t.stringList({ resolve: (r) => r.services ?? [] }),
    operations: t.stringList({ resolve: (r) => r.operations ?? [] }),
    quantile: t.float({ nullable: true, resolve: (r) => r.quantile ?? null }),
    filter: t.field({ type: 'JSON', nullable: true, resolve: (r) => (r.filter ? plainFilter(r.filter) : null) }),
    threshold: t.exposeFloat('threshold'),
    comparator: t.field({ type: AlertComparatorEnum, resolve: (r) => r.comparator }),
    window: t.field({ type: 'Duration', resolve: (r) => r.window }),
    for: t.field({ type: 'Duration', resolve: (r) => r.for }),
    interval: t.field({ type: 'Duration', resolve: (r) => r.interval }),
    repeatInterval: t.field({ type: 'Duration', resolve: (r) => r.repeatInterval }),
    groupWait: t.field({ type: 'Duration', nullable: true, description: 'Null: alerting.defaultGroupWait.', resolve: (r) => r.groupWait ?? null }),
    groupInterval: t.field({ type: 'Duration', nullable: true, description: 'Null: alerting.defaultGroupInterval.', resolve: (r) => r.groupInterval ?? null }),
    labels: t.field({ type: 'JSON', resolve: (r) => r.labels }),
    annotations: t.field({ type: 'JSON', resolve: (r) => r.annotations }),
    receivers: t.stringList({ resolve: (r) => r.receivers }),
    groupBy: t.stringList({ resolve: (r) => r.groupBy }),
    definition: t.field({ type: 'JSON', description: 'The rule in the rules-file form (YAML-compatible).', resolve: (r) => ruleToPlain(r) }),
    lastEvaluatedAt: t.field({ type: 'Timestamp', nullable: true, resolve: (r, _a, ctx) => ruleStatus(ctx, r).lastEvaluatedAt }),
    lastEvaluationError: t.string({ nullable: true, resolve: (r, _a, ctx) => ruleStatus(ctx, r).lastEvaluationError }),
    rulesFileError: t.string({
      nullable: true,
      description:
        "FILE rules: when the rules file's last change was refused, that it was, when, and why (the reason only when it concerns one of this tenant's rules; otherwise the gateway's log has it); the rule is then as last loaded. Null when the last load succeeded, and for API rules.",
      resolve: (r, _a, ctx) => (r.source === 'file' ? rulesFileError(ctx, r.tenant) : null),
    }),
    lastNotificationAt: t.field({ type: 'Timestamp', nullable: true, resolve: (r, _a, ctx) => ruleStatus(ctx, r).lastNotificationAt }),
    lastNotificationError: t.string({
      nullable: true,
      description: "The last notification's failure after all retries (receiver, HTTP status or network error); null once one succeeds.",
      resolve: (r, _a, ctx) => ruleStatus(ctx, r).lastNotificationError,
    }),
    alerts: t.field({
      type: [AlertRef],
      description: 'Its current alerts (pending, firing, resolved).',
      resolve: (r, _a, ctx) => ctx.alerting?.instances(r.tenant, r.id) ?? [],
    }),
  }),
});

builder.queryFields((t) => ({
  alertRules: t.field({ nullable: true, type: [AlertRuleRef], description: 'Every alert rule of the tenant, by name.', resolve: (_, _a, ctx) => alertRules(ctx) }),
  alertRule: t.field({
    type: AlertRuleRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, { id }, ctx) => alertRule(ctx, String(id)),
  }),
}));

builder.mutationFields((t) => ({
  createAlertRule: t.field({
    type: AlertRuleRef,
    description:
      'Needs the admin scope. An invalid rule is GW_BAD_ARGUMENT naming the field, as is the name of a rule from the ' +
      'rules file (a name, the alertname of notifications, belongs to one source).',
    args: { input: t.arg({ type: AlertRuleInput, required: true }) },
    resolve: (_, { input }, ctx) => createAlertRule(ctx, input),
  }),
  updateAlertRule: t.field({
    type: AlertRuleRef,
    description:
      'Needs the admin scope. Replaces the whole definition. Rules from the rules file cannot be changed here, nor can ' +
      'a rule take a file rule\'s name (GW_BAD_ARGUMENT).',
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: AlertRuleInput, required: true }) },
    resolve: (_, { id, input }, ctx) => updateAlertRule(ctx, String(id), input),
  }),
  deleteAlertRule: t.boolean({
    description: 'Deletes the rule and its current alerts (the history stays).',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, { id }, ctx) => deleteAlertRule(ctx, String(id)),
  }),
}));
