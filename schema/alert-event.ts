// The alertEvents subscription: alert state changes of the tenant as they happen.
import { alertEvents, alertRuleOf } from '../resolvers/alerts.ts';
import { builder } from './builder.ts';
import { AlertEventRef, AlertRef, AlertRuleRef, AlertStateEnum, AlertTransitionRef, MatcherInputRef } from './alert-refs.ts';

const AlertEventFilter = builder.inputType('AlertEventFilter', {
  fields: (t) => ({
    ruleId: t.idList({ description: 'Only these rules.' }),
    states: t.field({ type: [AlertStateEnum], description: 'Only changes into these states.' }),
    matchers: t.field({ type: [MatcherInputRef], description: 'Label matchers, as in a silence.' }),
  }),
});

builder.objectType(AlertEventRef, {
  fields: (t) => ({
    transition: t.field({ type: AlertTransitionRef, resolve: (e) => e.transition }),
    alert: t.field({
      type: AlertRef,
      nullable: true,
      description: 'The alert as it is now (null once it went back to inactive).',
      resolve: (e, _a, ctx) => ctx.alerting?.instances(ctx.tenant, e.transition.ruleId).find((i) => i.fingerprint === e.transition.fingerprint) ?? null,
    }),
    rule: t.field({ type: AlertRuleRef, nullable: true, resolve: (e, _a, ctx) => alertRuleOf(ctx, e.transition.ruleId) }),
    dropped: t.exposeInt('dropped', { description: 'Events this subscription dropped since the previous one (slow reader).' }),
  }),
});

builder.subscriptionFields((t) => ({
  alertEvents: t.field({
    type: AlertEventRef,
    description: 'Alert state changes (pending, firing, resolved, inactive) of the tenant, as the engine evaluates. Counts toward the live tail limits.',
    args: { filter: t.arg({ type: AlertEventFilter }) },
    subscribe: (_, args, ctx) => alertEvents(ctx, args),
    resolve: (e) => e,
  }),
}));
