import { builder } from './builder.ts';
import { attributeFields } from './fields.ts';

builder.objectType('InstrumentationScope', {
  description: 'The library that produced the telemetry (OTLP InstrumentationScope).',
  fields: (t) => ({
    name: t.exposeString('name'),
    version: t.exposeString('version'),
    ...attributeFields(t, (s) => s.attributes),
    droppedAttributesCount: t.exposeInt('droppedAttributesCount'),
    schemaUrl: t.exposeString('schemaUrl'),
  }),
});
