import { attributesToPlain } from '../src/model/values.ts';
import { loadSpan, loadTrace } from '../resolvers/traces.ts';
import { builder } from './builder.ts';
import { NON_FINITE_NULL, PLAIN_ATTRIBUTES, finiteOrNull, instantFields, typedAttributesField } from './fields.ts';

builder.objectType('Exemplar', {
  description: 'A sample measurement tied to the span that was active when it was recorded.',
  fields: (t) => ({
    ...instantFields(t, 'time', (e) => e.timeUnixNano),
    value: t.float({ nullable: true, description: NON_FINITE_NULL, resolve: (e) => finiteOrNull(e.value) }),
    asInt: t.exposeString('asInt', { nullable: true, description: 'Raw points only: the value when recorded as an int.' }),
    asDouble: t.float({
      nullable: true,
      description: `Raw points only: the value when recorded as a double; ${NON_FINITE_NULL}`,
      resolve: (e) => finiteOrNull(e.asDouble),
    }),
    traceId: t.id({ nullable: true, description: 'null when the exemplar carries none.', resolve: (e) => e.traceId || null }),
    spanId: t.id({ nullable: true, description: 'null when the exemplar carries none.', resolve: (e) => e.spanId || null }),
    filteredAttributes: t.field({ type: 'JSON', description: `OTLP filtered_attributes ${PLAIN_ATTRIBUTES}.`, resolve: (e) => attributesToPlain(e.filteredAttributes) }),
    typedFilteredAttributes: typedAttributesField(t, 'OTLP filtered_attributes', (e) => e.filteredAttributes),
    trace: t.field({ type: 'Trace', nullable: true, description: 'null when the exemplar carries no trace ID or no span of it is stored.', resolve: (e, _, ctx) => loadTrace(ctx, e.traceId) }),
    span: t.field({ type: 'Span', nullable: true, description: 'null when the exemplar carries no span ID or that span is not stored.', resolve: (e, _, ctx) => loadSpan(ctx, e.traceId, e.spanId) }),
  }),
});
