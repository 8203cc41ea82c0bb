import { builder } from './builder.ts';
import { attributeFields, droppedCountField } from './fields.ts';

builder.objectType('InstrumentationScope', {
  description: 'The library that produced the telemetry (OTLP InstrumentationScope).',
  fields: (t) => ({
    name: t.exposeString('name'),
    version: t.exposeString('version'),
    ...attributeFields(t, (s) => s.attributes),
    droppedAttributesCount: droppedCountField(t, (x) => x.droppedAttributesCount),
    schemaUrl: t.exposeString('schemaUrl'),
  }),
});
