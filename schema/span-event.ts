import { builder } from './builder.ts';
import { attributeFields, droppedCountField, instantFields } from './fields.ts';

builder.objectType('SpanEvent', {
  fields: (t) => ({
    ...instantFields(t, 'time', (e) => e.timeUnixNano),
    name: t.exposeString('name'),
    ...attributeFields(t, (e) => e.attributes),
    droppedAttributesCount: droppedCountField(t, (x) => x.droppedAttributesCount),
  }),
});
