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
    replayed: t.exposeBoolean('replayed', { description: 'True for state changes read from the history because of `since`; false for changes sent as they happen.' }),
  }),
});

builder.subscriptionFields((t) => ({
  alertEvents: t.field({
    type: AlertEventRef,
    description: 'Alert state changes (pending, firing, resolved, inactive) of the tenant, as the engine evaluates. Counts toward the live tail limits.',
    args: {
      filter: t.arg({ type: AlertEventFilter }),
      since: t.arg({
        type: 'Timestamp',
        description:
          'Replay the state changes in the history (alertHistory) that match, from this time on, oldest first, then continue live with no gap and no duplicate. ' +
          'At most tail.maxReplay (10,000) changes of the rules and states asked for (matchers apply after); more fail the subscription with GW_LIMIT_EXCEEDED.',
      }),
    },
    subscribe: (_, args, ctx) => alertEvents(ctx, args),
    resolve: (e) => e,
  }),
}));
