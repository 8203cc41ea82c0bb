import { loadSpan, loadTrace } from '../resolvers/traces.ts';
import { builder } from './builder.ts';
import { attributeFields, droppedCountField, flagsField } from './fields.ts';

builder.objectType('SpanLink', {
  fields: (t) => ({
    traceId: t.exposeID('traceId'),
    spanId: t.exposeID('spanId'),
    traceState: t.exposeString('traceState'),
    flags: flagsField(t, (x) => x.flags),
    ...attributeFields(t, (l) => l.attributes),
    droppedAttributesCount: droppedCountField(t, (x) => x.droppedAttributesCount),
    span: t.field({
      type: 'Span',
      nullable: true,
      description: 'The linked span, when this tenant has it.',
      resolve: (l, _, ctx) => loadSpan(ctx, l.traceId, l.spanId),
    }),
    trace: t.field({ type: 'Trace', nullable: true, resolve: (l, _, ctx) => loadTrace(ctx, l.traceId) }),
  }),
});
