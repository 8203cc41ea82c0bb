// Alert (one series of one rule), its evidence, the state-change history, and their queries.
import { alertHistory, alertRuleOf, alerts, exemplarTraces } from '../resolvers/alerts.ts';
import { builder } from './builder.ts';
import { NON_FINITE_NULL, finiteOrNull } from './fields.ts';
import {
  AlertEvidenceRef,
  AlertExceptionGroupRef,
  AlertExemplarRef,
  AlertRef,
  AlertRuleRef,
  AlertStateEnum,
  AlertTransitionRef,
} from './alert-refs.ts';

builder.objectType(AlertRef, {
  description: 'One alert: a rule and one label set (deduplicated by rule + labels).',
  fields: (t) => ({
    fingerprint: t.exposeID('fingerprint', {
      description:
        "The alert's ID within the tenant (rule + labels: two rules of one name with the same labels are two alerts). Not Alertmanager's fingerprint, which the webhook payload's alerts[].fingerprint carries (of the labels as sent).",
    }),
    ruleId: t.exposeID('ruleId'),
    rule: t.field({ type: AlertRuleRef, nullable: true, description: 'Null once the rule is deleted.', resolve: (a, _x, ctx) => alertRuleOf(ctx, a.ruleId) }),
    labels: t.field({ type: 'JSON', description: 'The alert’s labels, an object of name → value.', resolve: (a) => a.labels }),
    annotations: t.field({ type: 'JSON', description: 'The alert’s annotations, an object of name → value.', resolve: (a) => a.annotations }),
    state: t.field({ type: AlertStateEnum, resolve: (a) => a.state }),
    value: t.float({ nullable: true, description: `The value at the last evaluation; ${NON_FINITE_NULL}`, resolve: (a) => finiteOrNull(a.value) }),
    activeAt: t.field({ type: 'Timestamp', nullable: true, description: 'When the condition started holding (pending).', resolve: (a) => a.activeAt }),
    firedAt: t.field({ type: 'Timestamp', nullable: true, description: 'When it started firing; null before it fires.', resolve: (a) => a.firedAt }),
    resolvedAt: t.field({ type: 'Timestamp', nullable: true, description: 'When it resolved; null while it has not.', resolve: (a) => a.resolvedAt }),
    lastEvaluatedAt: t.field({ type: 'Timestamp', resolve: (a) => a.lastEvaluatedAt }),
    silencedBy: t.idList({ description: 'Active silences matching the alert at its last evaluation; a silenced alert is not sent to webhook or Slack receivers (Alertmanager receivers still get it).', resolve: (a) => a.silencedBy }),
    evidence: t.field({ type: AlertEvidenceRef, nullable: true, description: 'Set while (and since) the alert fired.', resolve: (a) => a.evidence }),
  }),
});

builder.objectType(AlertEvidenceRef, {
  description: 'Why the alert fired: its value, exemplar traces from its window (worst first) and the top exception groups.',
  fields: (t) => ({
    value: t.float({ nullable: true, description: `The value when the alert fired; ${NON_FINITE_NULL}`, resolve: (e) => finiteOrNull(e.value) }),
    from: t.field({ type: 'Timestamp', resolve: (e) => e.window.from ?? 0n }),
    to: t.field({ type: 'Timestamp', resolve: (e) => e.window.to ?? 0n }),
    // Stored with the alert and at most alerting's evidence limit (5) each: a record's own parts for
    // the query cost, not lists of 100 (the documented evidence query came to 202,400 of maxCost 200,000).
    exemplars: t.field({ type: [AlertExemplarRef], extensions: { recordPart: true }, resolve: (e) => e.exemplars }),
    traces: t.field({
      type: ['Trace'],
      // Nullable: loaded from the trace backend, while the rest of the evidence is stored with the alert.
      nullable: true,
      description:
        'The exemplar traces, loaded (worst first); traces no longer stored are left out. ' +
        'null (with an error naming the backend) when the trace backend fails.',
      args: { limit: t.arg.int({ defaultValue: 5, description: '1–100.' }) },
      resolve: (e, { limit }, ctx) => exemplarTraces(ctx, e.exemplars, limit),
    }),
    exceptionGroups: t.field({
      type: [AlertExceptionGroupRef],
      extensions: { recordPart: true },
      description:
        'Span exception events in the window grouped by exception.type and normalised stack frames (as the exceptionGroups query groups them; message is one of the group), most frequent first.',
      resolve: (e) => e.exceptionGroups,
    }),
  }),
});

builder.objectType(AlertExemplarRef, {
  fields: (t) => ({
    traceId: t.exposeID('traceId'),
    spanId: t.exposeID('spanId'),
    error: t.exposeBoolean('error'),
    duration: t.field({ type: 'Duration', nullable: true, description: 'The span’s duration; null for a log exemplar.', resolve: (e) => e.durationNano }),
  }),
});

builder.objectType(AlertExceptionGroupRef, {
  description: 'An exception group in the alert window; `fingerprint` is the one `exceptionGroups` uses.',
  fields: (t) => ({
    fingerprint: t.exposeString('fingerprint'),
    type: t.exposeString('type'),
    message: t.exposeString('message'),
    count: t.exposeInt('count'),
    sampleTraceId: t.exposeID('sampleTraceId', { nullable: true }),
  }),
});

builder.objectType(AlertTransitionRef, {
  description: 'One state change of one alert.',
  fields: (t) => ({
    ruleId: t.exposeID('ruleId'),
    ruleName: t.exposeString('ruleName'),
    fingerprint: t.exposeID('fingerprint'),
    labels: t.field({ type: 'JSON', resolve: (h) => h.labels }),
    from: t.field({ type: AlertStateEnum, description: 'The state before the change.', resolve: (h) => h.from }),
    to: t.field({ type: AlertStateEnum, description: 'The state after it.', resolve: (h) => h.to }),
    at: t.field({ type: 'Timestamp', description: 'When the state changed.', resolve: (h) => h.at }),
    value: t.float({ nullable: true, description: NON_FINITE_NULL, resolve: (h) => finiteOrNull(h.value) }),
  }),
});

builder.queryFields((t) => ({
  alerts: t.field({
    nullable: true,
    type: [AlertRef],
    description:
      "The tenant's alerts as they are now, one per rule and label set (as Prometheus' alerts API), in these states (all when unset), whose latest activation overlaps [from, to] (any time when unset). A resolved alert stays 15 minutes; an alert's earlier activations, and alerts resolved longer ago, are in alertHistory.",
    args: {
      state: t.arg({ type: [AlertStateEnum], description: 'Any of these states; all when unset.' }),
      from: t.arg({ type: 'Timestamp' }),
      to: t.arg({ type: 'Timestamp' }),
      limit: t.arg.int({ defaultValue: 100, description: '1–1,000.' }),
    },
    resolve: (_, args, ctx) => alerts(ctx, args),
  }),
  alertHistory: t.field({
    nullable: true,
    type: [AlertTransitionRef],
    description: 'State changes, newest first, of one rule (or all) in [from, to].',
    args: {
      ruleId: t.arg.id({ description: 'One rule’s changes; every rule’s when unset.' }),
      from: t.arg({ type: 'Timestamp' }),
      to: t.arg({ type: 'Timestamp' }),
      limit: t.arg.int({ defaultValue: 100, description: '1–10,000.' }),
    },
    resolve: (_, args, ctx) => alertHistory(ctx, { ...args, ruleId: args.ruleId == null ? null : String(args.ruleId) }),
  }),
}));
