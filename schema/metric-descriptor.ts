import { attributesToPlain } from '../src/model/values.ts';
import { builder } from './builder.ts';
import { MetricTypeEnum, TemporalityEnum } from './enums.ts';
import { PLAIN_ATTRIBUTES, typedAttributesField } from './fields.ts';

builder.objectType('MetricDescriptor', {
  description: 'The metric a raw point belongs to (OTLP Metric without its data).',
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    unit: t.exposeString('unit'),
    type: t.expose('type', { type: MetricTypeEnum }),
    aggregationTemporality: t.expose('aggregationTemporality', { type: TemporalityEnum }),
    isMonotonic: t.exposeBoolean('isMonotonic'),
    metadata: t.field({ type: 'JSON', description: `OTLP metadata ${PLAIN_ATTRIBUTES}.`, resolve: (m) => attributesToPlain(m.metadata) }),
    typedMetadata: typedAttributesField(t, 'OTLP metadata', (m) => m.metadata),
  }),
});
