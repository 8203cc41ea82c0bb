import { serviceName } from '../src/model/values.ts';
import { builder } from './builder.ts';
import { attributeFields } from './fields.ts';

builder.objectType('Resource', {
  description: 'The entity that produced the telemetry (OTLP Resource).',
  fields: (t) => ({
    ...attributeFields(t, (r) => r.attributes),
    serviceName: t.string({ description: '`service.name`, or "unknown_service" when unset.', resolve: serviceName }),
    droppedAttributesCount: t.exposeInt('droppedAttributesCount'),
    schemaUrl: t.exposeString('schemaUrl'),
  }),
});
