// Silences: matchers and a time window; the silences query and the silence/unsilence mutations.
import { createSilence, expireSilence, MATCHER_TYPE_NAMES, silences } from '../resolvers/alerts.ts';
import { silenceProblem } from '../src/alerting/silences.ts';
import { builder } from './builder.ts';
import { MatcherInputRef, MatcherTypeEnum, SilenceMatcherRef, SilenceRef } from './alert-refs.ts';

const SilenceInput = builder.inputType('SilenceInput', {
  fields: (t) => ({
    matchers: t.field({ type: [MatcherInputRef], required: true, description: 'All must match an alert’s labels.' }),
    startsAt: t.field({ type: 'Timestamp', description: 'Default: now.' }),
    endsAt: t.field({ type: 'Timestamp', description: 'Set this or duration.' }),
    duration: t.field({ type: 'Duration', description: 'Set this or endsAt.' }),
    createdBy: t.string(),
    comment: t.string(),
  }),
});

builder.objectType(SilenceMatcherRef, {
  fields: (t) => ({
    name: t.exposeString('name'),
    value: t.exposeString('value'),
    type: t.field({ type: MatcherTypeEnum, resolve: (m) => MATCHER_TYPE_NAMES[m.type] }),
  }),
});

builder.objectType(SilenceRef, {
  fields: (t) => ({
    id: t.exposeID('id'),
    matchers: t.field({ type: [SilenceMatcherRef], resolve: (s) => s.matchers }),
    startsAt: t.field({ type: 'Timestamp', resolve: (s) => s.startsAt }),
    endsAt: t.field({ type: 'Timestamp', resolve: (s) => s.endsAt }),
    createdBy: t.exposeString('createdBy'),
    comment: t.exposeString('comment'),
    error: t.string({
      nullable: true,
      description:
        'Why the silence silences nothing: stored by an earlier version, it has a matcher this version refuses (a regex the matcher no longer takes). ' +
        'Unsilence it and create it again. Null for a silence that works.',
      resolve: (s) => silenceProblem(s),
    }),
  }),
});

builder.queryFields((t) => ({
  silences: t.field({
    nullable: true,
    type: [SilenceRef],
    description: 'Silences of the tenant not yet ended (all, with includeExpired).',
    args: { includeExpired: t.arg.boolean() },
    resolve: (_, { includeExpired }, ctx) => silences(ctx, includeExpired ?? false),
  }),
}));

builder.mutationFields((t) => ({
  silence: t.field({
    type: SilenceRef,
    description: 'Silences matching alerts from startsAt to endsAt: they still change state and are recorded, but webhook and Slack receivers are not sent them (an alertmanager receiver still gets a firing alert, so Alertmanager does not resolve it: silence it there to mute what Alertmanager sends on).',
    args: { input: t.arg({ type: SilenceInput, required: true }) },
    resolve: (_, { input }, ctx) => createSilence(ctx, input),
  }),
  unsilence: t.field({
    type: SilenceRef,
    description: 'Ends the silence now (it stays listed with includeExpired).',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, { id }, ctx) => expireSilence(ctx, String(id)),
  }),
}));
