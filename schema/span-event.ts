import { builder } from './builder.ts';
import { attributeFields, instantFields } from './fields.ts';

builder.objectType('SpanEvent', {
  fields: (t) => ({
    ...instantFields(t, 'time', (e) => e.timeUnixNano),
    name: t.exposeString('name'),
    ...attributeFields(t, (e) => e.attributes),
    droppedAttributesCount: t.exposeInt('droppedAttributesCount'),
  }),
});
