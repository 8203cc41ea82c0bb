import { serviceName } from '../src/model/values.ts';
import { builder } from './builder.ts';
import { attributeFields, droppedCountField } from './fields.ts';

builder.objectType('Resource', {
  description: 'The entity that produced the telemetry (OTLP Resource).',
  fields: (t) => ({
    ...attributeFields(t, (r) => r.attributes),
    serviceName: t.string({ description: '`service.name`, or "unknown_service" when unset.', resolve: serviceName }),
    droppedAttributesCount: droppedCountField(t, (x) => x.droppedAttributesCount),
    schemaUrl: t.exposeString('schemaUrl'),
  }),
});
